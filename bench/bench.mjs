#!/usr/bin/env node
/**
 * express-par benchmark: login, DPoP login and the authenticated page against a hand-written minimal PAR
 * flow and Auth0's express-openid-connect, plus memory per pending and per stored login. Real logins
 * against a real oidc-provider; every number is app CPU measured in the app's own process, and the
 * comparisons are medians of per-round ratios (candidates run back to back within a round).
 *
 *   npm run bench                      (builds dist/ first)
 *   node bench/bench.mjs [--rounds 8] [--logins 200] [--pages 2000] [--concurrency 8]
 *                        [--paths login,dpop-login,page,memory] [--memory-logins 10000] [--pending 2000]
 *                        [--memory-variants express-par,handwritten] [--out bench/results/latest.md]
 *   BENCH_CPU_PROF=express-par node bench/bench.mjs --paths login     (.cpuprofile of that app)
 *
 * Processes: this one is the driver (the "browsers"); bench/provider.mjs (the OP) and one bench/app.mjs
 * per variant run in child processes, so an app's CPU time (process.cpuUsage() deltas over IPC) is that
 * implementation + Express + its session only. See bench/README.md.
 */
import { fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Browser, login, page, startLogin } from './browser.mjs';
import { CLIENT_ID, CLIENT_SECRET } from './provider.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    logins: { type: 'string', default: '200' },
    pages: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '150' },
    paths: { type: 'string', default: 'login,dpop-login,page,memory' },
    'memory-logins': { type: 'string', default: '10000' },
    pending: { type: 'string', default: '2000' },
    'memory-variants': { type: 'string', default: 'express-par,handwritten' },
    out: { type: 'string', default: join(here, 'results', 'latest.md') },
    base: { type: 'string' },
  },
});
const ROUNDS = Number(opts.rounds);
const CONCURRENCY = Number(opts.concurrency);
const WARMUP = Number(opts.warmup);
const SELECTED = opts.paths.split(',');

/**
 * The measured paths: which operation, how many per candidate per round, and the candidates (app
 * variants, see app.mjs). Adding a path = an entry here (+ an `op` below if it is a new kind of request).
 *
 * TODO(redis): a `redis-login` path (the production case): the login with express-session on a Redis
 *   store; needs an app variant with connect-redis and a Redis server, and a Redis client as a dev dependency.
 * TODO(refresh): a `refresh` path: `req.oidc.getAccessToken()` forcing a refresh, once the lifecycle
 *   issue lands; the provider needs `offline_access` and short access-token lifetimes for it.
 */
const PATHS = {
  login: { op: 'login', count: Number(opts.logins), candidates: ['express-par', 'handwritten', 'eoc'] },
  'dpop-login': { op: 'login', count: Number(opts.logins), candidates: ['express-par-dpop'] },
  page: { op: 'page', count: Number(opts.pages), candidates: ['express-par', 'handwritten', 'eoc'] },
};
// --base <dist dir>: the same paths with express-par from another build as well (e.g. before a change).
if (opts.base) {
  process.env.BENCH_BASE_DIST = opts.base;
  PATHS.login.candidates.push('base');
  PATHS['dpop-login'].candidates.push('base-dpop');
  PATHS.page.candidates.push('base');
}
const LABEL = {
  'express-par': 'express-par',
  'express-par-dpop': 'express-par (dpop: true)',
  handwritten: 'hand-written PAR flow',
  eoc: 'express-openid-connect',
  base: 'express-par (--base build)',
  'base-dpop': 'express-par (--base build, dpop: true)',
};
const label = (path, variant) => (path === 'page' && variant === 'handwritten' ? 'express-session check only' : LABEL[variant]);

/** Forks a child and resolves with its first message. */
function spawnChild(file, args, execArgv = []) {
  const child = fork(join(here, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const first = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
  return { child, first };
}

function ask(child, cmd, extra = {}) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send({ cmd, ...extra });
  });
}

const cpuUs = (a, b) => b.user - a.user + b.system - a.system;
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const OPS = {
  login: (browser, app) => login(browser, app.baseURL),
  page: (browser, app) => page(browser, `${app.baseURL}/page`),
  pending: (browser, app) => startLogin(browser, app.baseURL),
};

let opChild;

/** Runs `total` operations with `concurrency` browsers in flight; returns the phase's numbers. */
async function phase(app, browsers, op, total, concurrency = CONCURRENCY) {
  const latencies = [];
  let issued = 0;
  const opBefore = await ask(opChild, 'cpu');
  const before = await ask(app.child, 'snapshot');
  const t0 = performance.now();
  await Promise.all(
    browsers.slice(0, concurrency).map(async (browser) => {
      while (issued < total) {
        issued++;
        const s = performance.now();
        await OPS[op](browser, app);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wall = performance.now() - t0;
  const after = await ask(app.child, 'snapshot');
  const opAfter = await ask(opChild, 'cpu');
  if (after.errors !== before.errors) throw new Error(`${app.variant}: ${after.errors - before.errors} errors in the app`);
  latencies.sort((a, b) => a - b);
  return {
    cpu: cpuUs(before.cpu, after.cpu) / total,
    rate: (total / wall) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    peakRss: after.peakRss,
    opCpu: cpuUs(opBefore.cpu, opAfter.cpu) / total,
  };
}

async function startApps(variants) {
  const apps = [];
  for (const variant of variants) {
    const execArgv = ['--expose-gc', ...(process.env.BENCH_CPU_PROF === variant ? ['--cpu-prof', `--cpu-prof-dir=${join(here, 'results', 'profiles')}`] : [])];
    const { child, first } = spawnChild('app.mjs', [variant], execArgv);
    const { baseURL } = await first;
    apps.push({ variant, child, baseURL });
  }
  return apps;
}

/** Every browser signs in once at the OP (interaction), then `WARMUP` logins (and pages) per app. */
async function warmUp(app, browsers, withPages) {
  for (const browser of browsers) await login(browser, app.baseURL);
  await phase(app, browsers, 'login', WARMUP);
  const me = JSON.parse((await browsers[0].get(`${app.baseURL}/me`, { readBody: true })).body);
  if (me.sub !== 'bench-user') throw new Error(`${app.variant}: not logged in after a login (${JSON.stringify(me)})`);
  if (withPages) await phase(app, browsers, 'page', WARMUP * 10);
}

/** Bytes per pending and per stored login, RSS after `memory-logins` logins: one fresh app at a time. */
async function measureMemory(app, browsers) {
  const memory = () => ask(app.child, 'memory');
  const clear = () => ask(app.child, 'clear-store');
  await warmUp(app, browsers, false);
  await clear();
  const base = await memory();
  const pending = Number(opts.pending);
  await phase(app, browsers, 'pending', pending);
  const afterPending = await memory();
  await clear();
  const beforeLogins = await memory();
  await ask(app.child, 'snapshot');
  const logins = Number(opts['memory-logins']);
  const t0 = performance.now();
  const run = await phase(app, browsers, 'login', logins);
  const seconds = (performance.now() - t0) / 1000;
  const afterLogins = await memory();
  await clear();
  const emptied = await memory();
  const per = (a, b, n) => (b - a) / n;
  return {
    variant: app.variant,
    heapPerPending: per(base.memory.heapUsed, afterPending.memory.heapUsed, pending),
    storePerPending: afterPending.store ? afterPending.store.bytes / pending : null,
    heapPerLogin: per(beforeLogins.memory.heapUsed, afterLogins.memory.heapUsed, logins),
    storePerLogin: afterLogins.store ? afterLogins.store.bytes / afterLogins.store.count : null,
    sessions: afterLogins.store?.count ?? null,
    rssBefore: beforeLogins.memory.rss,
    rssAfter: afterLogins.memory.rss,
    peakRss: run.peakRss,
    retainedPerLogin: per(beforeLogins.memory.heapUsed, emptied.memory.heapUsed, logins),
    logins,
    pending,
    seconds,
  };
}

async function main() {
  const timed = Object.keys(PATHS).filter((p) => SELECTED.includes(p));
  const variants = [...new Set(timed.flatMap((p) => PATHS[p].candidates))];
  const memoryVariants = SELECTED.includes('memory') ? opts['memory-variants'].split(',') : [];
  const apps = await startApps(variants);
  const memoryApps = await startApps(memoryVariants);
  const op = spawnChild('provider.mjs', [JSON.stringify({ redirectUris: [...apps, ...memoryApps].map((a) => `${a.baseURL}/callback`) })]);
  const { issuer } = await op.first;
  opChild = op.child;
  for (const app of [...apps, ...memoryApps]) await ask(app.child, 'start', { issuer, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET });

  const loadBefore = os.loadavg();
  const started = performance.now();
  const browsers = Array.from({ length: Math.max(CONCURRENCY, 1) }, () => new Browser());
  for (const app of apps) await warmUp(app, browsers, timed.includes('page') && PATHS.page.candidates.includes(app.variant));

  // Every (path, candidate) pair once per round, the order rotated from round to round; each pair runs
  // one in flight (the cost measure: the same regime for every candidate) then CONCURRENCY in flight.
  const pairs = timed.flatMap((path) => PATHS[path].candidates.map((variant) => ({ path, variant })));
  const results = Object.fromEntries(timed.map((path) => [path, Object.fromEntries(PATHS[path].candidates.map((v) => [v, []]))]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < pairs.length; i++) {
      const { path, variant } = pairs[(i + round) % pairs.length];
      const app = apps.find((a) => a.variant === variant);
      const one = await phase(app, browsers, PATHS[path].op, PATHS[path].count, 1);
      const many = await phase(app, browsers, PATHS[path].op, PATHS[path].count, CONCURRENCY);
      results[path][variant].push({ ...one, rate: many.rate, cpuLoaded: many.cpu, p50Loaded: many.p50, p99Loaded: many.p99, peakRss: many.peakRss });
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  for (const app of apps) app.child.disconnect();

  const memory = [];
  for (const app of memoryApps) {
    memory.push(await measureMemory(app, browsers));
    app.child.disconnect();
    process.stderr.write(`memory ${app.variant} done\n`);
  }
  const loadAfter = os.loadavg();
  op.child.disconnect();

  const report = render(results, memory, { loadBefore, loadAfter, seconds: (performance.now() - started) / 1000 });
  process.stdout.write(report);
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, report);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 1) => x.toFixed(d);
const spread = (xs, d = 1) => (xs.length > 1 ? ` (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})` : '');
const withSpread = (xs, d) => `${fmt(median(xs), d)}${spread(xs, d)}`;
const mb = (bytes) => fmt(bytes / 2 ** 20, 0);

/** Per-round ratios of app CPU per operation (`key`: cpu at 1 in flight, cpuLoaded at CONCURRENCY): `a` over `b`, each `[path, variant]`. */
function ratios(results, a, b, key = 'cpu') {
  const ra = results[a[0]]?.[a[1]];
  const rb = results[b[0]]?.[b[1]];
  if (!ra || !rb) return undefined;
  return ra.map((x, i) => x[key] / rb[i][key]);
}

function render(results, memory, { loadBefore, loadAfter, seconds }) {
  const lines = [];
  const cpus = os.cpus();
  lines.push('# express-par benchmark', '');
  lines.push(`${new Date().toISOString()} · Node ${process.version} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · load average ${loadBefore.map((x) => fmt(x, 2)).join(' ')} before, ${loadAfter.map((x) => fmt(x, 2)).join(' ')} after · ${fmt(seconds, 0)} s`);
  const paths = Object.keys(results);
  if (paths.length > 0) {
    lines.push(`${ROUNDS} rounds; per round every candidate in turn (order rotated), first one operation in flight, then ${CONCURRENCY} in flight; per candidate, round and regime: ${opts.logins} logins or ${opts.pages} page requests. Median over rounds, (min–max).`, '');
    lines.push('App CPU per operation is measured one in flight: with several in flight it depends on how many events each wake-up of the app handles, which depends on how fast the *provider* answers for that candidate (a DPoP login costs the provider ~40% more), so it would compare regimes, not implementations. Both are shown.', '');
    lines.push('## Per candidate', '');
    lines.push(`| path | candidate | app CPU µs/op | p50 ms | p99 ms | ops/s (${CONCURRENCY} in flight) | app CPU µs/op (${CONCURRENCY} in flight) | p50 / p99 ms (${CONCURRENCY} in flight) | peak RSS MB (process) | (provider CPU µs/op) |`, '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const path of paths) {
      for (const [variant, rs] of Object.entries(results[path])) {
        const col = (k, d) => withSpread(rs.map((x) => x[k]), d);
        const provider = PATHS[path].op === 'login' ? fmt(median(rs.map((x) => x.opCpu)), 0) : '–';
        lines.push(`| ${path} | ${label(path, variant)} | ${col('cpu', 0)} | ${col('p50', 2)} | ${col('p99', 2)} | ${col('rate', 0)} | ${col('cpuLoaded', 0)} | ${fmt(median(rs.map((x) => x.p50Loaded)), 1)} / ${fmt(median(rs.map((x) => x.p99Loaded)), 1)} | ${mb(Math.max(...rs.map((x) => x.peakRss)))} | ${provider} |`);
      }
    }
    lines.push('', '## Ratios of app CPU per operation', '', 'Median of the per-round ratios (min–max over rounds), one in flight; < 1 means cheaper.', '');
    const baseCol = opts.base ? ' ÷ --base build |' : '';
    lines.push(`| path | candidate | ÷ hand-written (login) / session check (page) | ÷ express-openid-connect | ÷ plain login (same build) |${baseCol}`, `|---|---|---:|---:|---:|${opts.base ? '---:|' : ''}`);
    for (const path of paths) {
      for (const variant of Object.keys(results[path])) {
        if (variant === 'handwritten' || variant === 'eoc') continue;
        const cell = (xs) => (xs ? withSpread(xs, 2) : '–');
        const ref = path === 'dpop-login' ? 'login' : path;
        const plain = variant.startsWith('base') ? 'base' : 'express-par';
        const vsBase = opts.base && !variant.startsWith('base') ? ` ${cell(ratios(results, [path, variant], [path, path === 'dpop-login' ? 'base-dpop' : 'base']))} |` : opts.base ? ' – |' : '';
        lines.push(`| ${path} | ${label(path, variant)} | ${cell(ratios(results, [path, variant], [ref, 'handwritten']))} | ${cell(ratios(results, [path, variant], [ref, 'eoc']))} | ${path === 'dpop-login' ? cell(ratios(results, [path, variant], ['login', plain])) : '–'} |${vsBase}`);
      }
    }
    lines.push('', '## Goals (issue #13)', '', `| goal | target | measured, 1 in flight (median of per-round ratios, min–max) | met | for reference: ${CONCURRENCY} in flight |`, '|---|---:|---:|---|---:|');
    const goals = [
      ['login ÷ hand-written flow', 1.0, ['login', 'express-par'], ['login', 'handwritten']],
      ['login ÷ express-openid-connect', 0.5, ['login', 'express-par'], ['login', 'eoc']],
      ['DPoP login ÷ plain login', 1.25, ['dpop-login', 'express-par-dpop'], ['login', 'express-par']],
      ['authenticated page ÷ session check', 1.05, ['page', 'express-par'], ['page', 'handwritten']],
    ];
    for (const [name, target, a, b] of goals) {
      const xs = ratios(results, a, b);
      if (!xs) continue;
      lines.push(`| ${name} | ≤ ${fmt(target, 2)} | ${withSpread(xs, 2)} | ${median(xs) <= target ? 'yes' : 'no'} | ${withSpread(ratios(results, a, b, 'cpuLoaded'), 2)} |`);
    }
    lines.push('');
  }
  if (memory.length > 0) {
    lines.push('## Memory (express-session MemoryStore, one fresh app process per candidate)', '');
    lines.push(`Heap after forced GC. Pending: ${memory[0].pending} \`GET /login\` in fresh sessions, redirect not followed. Stored: ${memory[0].logins} complete logins in fresh sessions (each leaves one stored session). "Retained" is the heap left after the store is emptied, per login: growth that is not session data.`, '');
    lines.push('| candidate | heap B / pending login | store B / pending login | heap B / stored login | store B / stored login | RSS MB before → after logins | peak RSS MB | retained B / login |', '|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of memory) {
      const n = (x) => (x === null ? '–' : fmt(x, 0));
      lines.push(`| ${LABEL[m.variant]} | ${n(m.heapPerPending)} | ${n(m.storePerPending)} | ${n(m.heapPerLogin)} | ${n(m.storePerLogin)} | ${mb(m.rssBefore)} → ${mb(m.rssAfter)} | ${mb(m.peakRss)} | ${n(m.retainedPerLogin)} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

await main();
