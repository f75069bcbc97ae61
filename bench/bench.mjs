#!/usr/bin/env node
/**
 * express-par benchmark: login (on a MemoryStore and on Redis), DPoP login, the authenticated page and
 * the access-token refresh against a hand-written minimal PAR flow, a bare express-session check and
 * Auth0's express-openid-connect, plus memory per pending and per stored login. Real logins against a
 * real oidc-provider; every number is app CPU, and every comparison is the median of per-round ratios.
 * See bench/README.md.
 *
 *   npm run bench                      (builds dist/ first)
 *   node bench/bench.mjs [--rounds 8] [--logins 200] [--pages 2000] [--refreshes <--logins>] [--concurrency 8]
 *                        [--warmup 100] [--paths login,dpop-login,page,redis-login,refresh,memory]
 *                        [--candidates a,b] [--memory-logins 10000]
 *                        [--pending 2000] [--memory-variants express-par,handwritten,eoc]
 *                        [--slices 5] [--base <another build's dist/>] [--control] [--rotate-refresh-tokens]
 *                        [--out bench/results/latest.md]
 *   BENCH_CPU_PROF=1 node bench/bench.mjs --paths login --candidates express-par   (.cpuprofile per app process)
 *
 * Processes: this one is the driver (the "browsers"); bench/provider.mjs (the OP) runs in a child process
 * for the whole run; each round forks a fresh bench/app.mjs that hosts every candidate on its own mount
 * path. App CPU is the app process's process.cpuUsage() delta around a phase (after a scavenge: see app.mjs), so
 * candidates measured back to back in one process are compared with nothing else differing. With the
 * redis-login path, a throwaway redis-server (`redis-server` on the PATH, or BENCH_REDIS_SERVER) runs
 * for the whole run too, stopped at the end or on an error; its CPU, like the provider's, is not app CPU.
 */
import { fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MOUNTS } from './app.mjs';
import { Browser, freshToken, login, page, resetConnections, startLogin } from './browser.mjs';
import { CLIENT_ID, CLIENT_SECRET } from './provider.mjs';
import { reservePort, startRedis } from './load-cluster.mjs';
import { shuffled } from './load-lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    logins: { type: 'string', default: '200' },
    pages: { type: 'string', default: '2000' },
    refreshes: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '100' },
    paths: { type: 'string', default: 'login,dpop-login,page,redis-login,refresh,memory' },
    candidates: { type: 'string' },
    'memory-logins': { type: 'string', default: '10000' },
    pending: { type: 'string', default: '2000' },
    'memory-variants': { type: 'string', default: 'express-par,handwritten,eoc' },
    out: { type: 'string', default: join(here, 'results', 'latest.md') },
    base: { type: 'string' },
    control: { type: 'boolean', default: false },
    'rotate-refresh-tokens': { type: 'boolean', default: false },
    slices: { type: 'string', default: '5' },
  },
});
const ROUNDS = Number(opts.rounds);
const CONCURRENCY = Number(opts.concurrency);
const WARMUP = Number(opts.warmup);
const SELECTED = opts.paths.split(',');
const SLICES = Math.max(1, Number(opts.slices));

/**
 * The measured paths: which operation, how many per candidate, round and regime, and the candidates
 * (mounts of app.mjs). Adding a path = an entry here (+ an op in OPS if it is a new kind of request).
 *
 * redis-login: the login with express-session on Redis (connect-redis), the production case; eoc keeps
 *   its session in a cookie, so its login is the same as on the login path: its numbers come from there
 *   (same round, same process), and it runs on this path only when the login path does not.
 * refresh: `GET <mount>/token`, an access token refreshed on every call (the app marks the stored one
 *   expired first, see app.mjs): express-par's getAccessToken(), the hand-written refresh, eoc's
 *   accessToken.refresh(). Their mounts ask for offline_access; the login paths' mounts do not (a
 *   refresh token makes express-par reconcile every save with the store: a page would pay for it).
 */
const PATHS = {
  login: { op: 'login', count: Number(opts.logins), candidates: ['express-par', 'handwritten', 'eoc'] },
  'dpop-login': { op: 'login', count: Number(opts.logins), candidates: ['express-par-dpop', 'handwritten-dpop', 'handwritten-dpop-jkt'] },
  page: { op: 'page', count: Number(opts.pages), candidates: ['express-par', 'session-check', 'session-claims', 'passthrough', 'eoc'] },
  'redis-login': { op: 'login', count: Number(opts.logins), candidates: ['express-par-redis', 'handwritten-redis', ...(SELECTED.includes('login') ? [] : ['eoc'])] },
  refresh: { op: 'token', count: Number(opts.refreshes ?? opts.logins), candidates: ['express-par-refresh', 'handwritten-refresh', 'eoc-refresh'] },
};
// --base <dist dir>: express-par from another build as well (e.g. before a change), to measure a change in one run.
if (opts.base) {
  process.env.BENCH_BASE_DIST = opts.base;
  PATHS.login.candidates.push('base');
  PATHS['dpop-login'].candidates.push('base-dpop');
  PATHS.page.candidates.push('base');
}
// --control: a second express-par instance: an A/A comparison that shows the method's noise floor.
if (opts.control) {
  PATHS.login.candidates.push('express-par-control');
  PATHS.page.candidates.push('express-par-control');
}
if (opts.candidates) {
  const keep = opts.candidates.split(',');
  for (const path of Object.values(PATHS)) path.candidates = path.candidates.filter((c) => keep.includes(c));
}
const LABEL = {
  'express-par': 'express-par',
  'session-check': 'express-session check only (same session)',
  passthrough: 'the session check behind one pass-through middleware',
  'session-claims': 'session check reading claims stored in the session (hand-written login)',
  'express-par-dpop': 'express-par (dpop: true)',
  handwritten: 'hand-written PAR flow',
  'handwritten-dpop': 'hand-written PAR flow with DPoP',
  'handwritten-dpop-jkt': 'hand-written PAR flow with DPoP, dpop_jkt alone at PAR (no proof there)',
  eoc: 'express-openid-connect',
  'express-par-control': 'express-par again (A/A control)',
  base: 'express-par (--base build)',
  'base-dpop': 'express-par (--base build, dpop: true)',
  'express-par-redis': 'express-par (Redis session)',
  'handwritten-redis': 'hand-written PAR flow (Redis session)',
  'express-par-refresh': 'express-par getAccessToken()',
  'handwritten-refresh': 'hand-written refresh',
  'eoc-refresh': 'express-openid-connect accessToken.refresh()',
};
/** Each path's yardstick and express-openid-connect counterpart for the ratio table, `[path, candidate]`. */
const YARDSTICK = { login: ['login', 'handwritten'], 'dpop-login': ['dpop-login', 'handwritten-dpop'], page: ['page', 'session-check'], 'redis-login': ['redis-login', 'handwritten-redis'], refresh: ['refresh', 'handwritten-refresh'] };
const EOC = { login: ['login', 'eoc'], 'dpop-login': ['login', 'eoc'], page: ['page', 'eoc'], 'redis-login': ['login', 'eoc'], refresh: ['refresh', 'eoc-refresh'] };
const REFERENCES = new Set(Object.values(YARDSTICK).concat(Object.values(EOC)).map(([, candidate]) => candidate).concat(['session-claims', 'handwritten-dpop-jkt']));
/**
 * Whose login (and browsers, i.e. sessions) a page candidate reads: the session check and the pass-through
 * read express-par's; the stored-claims check reads the hand-written flow's (its session keeps the claims).
 */
const LOGIN_OF = { 'session-check': 'express-par', passthrough: 'express-par', 'session-claims': 'handwritten' };
const family = (candidate) => LOGIN_OF[candidate] ?? candidate;

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
  login: (browser, base) => login(browser, base),
  page: (browser, base) => page(browser, `${base}/page`),
  pending: (browser, base) => startLogin(browser, base),
  token: (browser, base) => freshToken(browser, `${base}/token`),
};

let opChild;
const browserSets = new Map();
/** CONCURRENCY browsers per family, each with its own cookies (and its own session at the provider). */
function browsersOf(candidate) {
  const key = family(candidate);
  if (!browserSets.has(key)) browserSets.set(key, Array.from({ length: Math.max(CONCURRENCY, 1) }, () => new Browser()));
  return browserSets.get(key);
}

/**
 * Runs `total` operations of `candidate` with `concurrency` browsers in flight; returns the sums (app
 * and provider CPU, wall time) and the latencies. The young generation is collected just before, so the slice pays
 * for its own garbage only.
 */
async function slice(app, candidate, op, total, concurrency, warmup = false) {
  const browsers = browsersOf(candidate);
  const base = `${app.baseURL}${MOUNTS[candidate]}`;
  const latencies = [];
  let issued = 0;
  const opBefore = await ask(opChild, 'cpu');
  const before = await ask(app.child, 'snapshot', { gc: true, mark: { candidate, op, total, concurrency, warmup } });
  const t0 = performance.now();
  await Promise.all(
    browsers.slice(0, concurrency).map(async (browser) => {
      while (issued < total) {
        issued++;
        const s = performance.now();
        await OPS[op](browser, base);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wall = performance.now() - t0;
  const after = await ask(app.child, 'snapshot', { mark: null });
  const opAfter = await ask(opChild, 'cpu');
  if (after.errors !== before.errors) throw new Error(`${candidate}: ${after.errors - before.errors} errors in the app`);
  return { ops: total, cpu: cpuUs(before.cpu, after.cpu), mainCpu: after.main === null ? NaN : after.main - before.main, opCpu: cpuUs(opBefore.cpu, opAfter.cpu), wall, latencies, peakRss: after.peakRss, alloc: after.alloc - before.alloc };
}

/** The numbers of one or more slices of the same candidate and regime, per operation. */
function summarize(slices) {
  const sum = (k) => slices.reduce((acc, x) => acc + x[k], 0);
  const ops = sum('ops');
  const latencies = slices.flatMap((x) => x.latencies).sort((a, b) => a - b);
  return { cpu: sum('cpu') / ops, mainCpu: sum('mainCpu') / ops, opCpu: sum('opCpu') / ops, rate: (ops / sum('wall')) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99), peakRss: Math.max(...slices.map((x) => x.peakRss)), alloc: sum('alloc') / ops };
}

/** A warm-up or memory phase: one slice, marked as not measured (profile-split.mjs leaves it out). */
const phase = async (app, candidate, op, total, concurrency) => summarize([await slice(app, candidate, op, total, concurrency, true)]);

/** The login whose session a candidate's pages need. */
const loginOf = family;

/** Every browser of the candidate's family signs in (its page requests need a login). */
async function signIn(app, candidate) {
  const base = `${app.baseURL}${MOUNTS[loginOf(candidate)]}`;
  await Promise.all(browsersOf(candidate).map((browser) => login(browser, base)));
  const me = JSON.parse((await browsersOf(candidate)[0].get(`${base}/me`, { readBody: true })).body);
  if (me.sub !== 'bench-user') throw new Error(`${candidate}: not signed in after a login (${JSON.stringify(me)})`);
}


async function startApp(candidates, port, issuer, redisURL) {
  const profiles = join(here, 'results', 'profiles');
  if (process.env.BENCH_CPU_PROF) {
    await mkdir(profiles, { recursive: true });
    process.env.BENCH_PROFILE_DIR = profiles; // the app writes its slice marks there (profile-split.mjs)
  }
  const interval = process.env.BENCH_CPU_PROF_INTERVAL ? [`--cpu-prof-interval=${process.env.BENCH_CPU_PROF_INTERVAL}`] : [];
  const execArgv = ['--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`, ...interval] : [])];
  const { child, first } = spawnChild('app.mjs', [JSON.stringify(candidates), String(port)], execArgv);
  const { baseURL } = await first;
  await ask(child, 'start', { issuer, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, redisURL });
  return { child, baseURL };
}

async function stopApp(app) {
  await new Promise((resolve) => (app.child.once('exit', resolve), app.child.disconnect()));
  resetConnections(); // the browsers' keep-alive sockets went to a process that is gone
}

/** Bytes per pending and per stored login, RSS after `memory-logins` logins: a fresh app for one candidate. */
async function measureMemory(app, candidate) {
  const memory = () => ask(app.child, 'memory');
  const clear = () => ask(app.child, 'clear-store');
  await signIn(app, candidate);
  await phase(app, candidate, 'login', WARMUP, CONCURRENCY);
  await clear();
  const empty = await memory();
  const pending = Number(opts.pending);
  await phase(app, candidate, 'pending', pending, CONCURRENCY);
  const afterPending = await memory();
  await clear();
  const beforeLogins = await memory();
  const logins = Number(opts['memory-logins']);
  const run = await phase(app, candidate, 'login', logins, CONCURRENCY);
  const afterLogins = await memory();
  await clear();
  const emptied = await memory();
  const per = (a, b, n) => (b - a) / n;
  return {
    candidate,
    heapPerPending: per(empty.memory.heapUsed, afterPending.memory.heapUsed, pending),
    storePerPending: afterPending.store ? afterPending.store.bytes / pending : null,
    heapPerLogin: per(beforeLogins.memory.heapUsed, afterLogins.memory.heapUsed, logins),
    storePerLogin: afterLogins.store?.count ? afterLogins.store.bytes / afterLogins.store.count : null,
    rssBefore: beforeLogins.memory.rss,
    rssAfter: afterLogins.memory.rss,
    peakRss: run.peakRss,
    retainedPerLogin: per(beforeLogins.memory.heapUsed, emptied.memory.heapUsed, logins),
    logins,
    pending,
  };
}

async function main() {
  const timed = Object.keys(PATHS).filter((p) => SELECTED.includes(p) && PATHS[p].candidates.length > 0);
  const candidates = [...new Set(timed.flatMap((p) => PATHS[p].candidates))];
  // Every mount that logs in needs its redirect_uri registered: the logins, and express-par for the session check.
  const mounted = [...new Set(candidates.map(loginOf))];
  const memoryCandidates = SELECTED.includes('memory') ? opts['memory-variants'].split(',') : [];
  const port = await reservePort();
  const memoryPorts = Object.fromEntries(await Promise.all(memoryCandidates.map(async (c) => [c, await reservePort()])));
  const redirectUris = [
    ...mounted.map((c) => `http://127.0.0.1:${port}${MOUNTS[c]}/callback`),
    ...memoryCandidates.map((c) => `http://127.0.0.1:${memoryPorts[c]}${MOUNTS[c]}/callback`),
  ];
  const op = spawnChild('provider.mjs', [JSON.stringify({ redirectUris, rotateRefreshTokens: opts['rotate-refresh-tokens'] })]);
  const { issuer } = await op.first;
  opChild = op.child;
  let redis;
  try {
    if (candidates.some((c) => c.endsWith('-redis'))) redis = await startRedis();
    await run({ candidates, mounted, memoryCandidates, timed, port, memoryPorts, issuer, redisURL: redis?.url });
  } finally {
    redis?.stop();
    op.child.disconnect();
  }
}

async function run({ candidates, mounted, memoryCandidates, timed, port, memoryPorts, issuer, redisURL }) {
  const loadBefore = os.loadavg();
  const started = performance.now();
  // Each round: a fresh app process (two identical processes can differ by 5-15% in CPU per request:
  // where they run, how they were compiled), warmed up; then every (path, candidate) pair in turns, in a
  // random order (below); each pair runs one in flight (the cost measure: the same regime for every
  // candidate), then CONCURRENCY in flight (throughput).
  const pairs = timed.flatMap((path) => PATHS[path].candidates.map((candidate) => ({ path, candidate })));
  const results = Object.fromEntries(timed.map((path) => [path, Object.fromEntries(PATHS[path].candidates.map((c) => [c, []]))]));
  // The refresh candidates warm up on refreshes: their logins (prompt=consent) are not measured.
  const refreshers = new Set(timed.filter((path) => PATHS[path].op === 'token').flatMap((path) => PATHS[path].candidates));
  for (let round = 0; round < ROUNDS; round++) {
    // The logins the page candidates read are mounted even when they are not measured themselves.
    const app = await startApp([...new Set([...candidates, ...mounted])], port, issuer, redisURL);
    for (const candidate of mounted) {
      await signIn(app, candidate);
      await phase(app, candidate, refreshers.has(candidate) ? 'token' : 'login', WARMUP, CONCURRENCY);
    }
    for (const candidate of timed.includes('page') ? PATHS.page.candidates : []) {
      await signIn(app, candidate);
      await phase(app, candidate, 'page', WARMUP * 10, CONCURRENCY);
    }
    // The round's operations in SLICES short turns: every pair runs count/SLICES operations per turn, so
    // the candidates compared see the same moments of the machine's load.
    const turns = Object.fromEntries(pairs.map(({ path, candidate }) => [`${path} ${candidate}`, { one: [], many: [] }]));
    for (let turn = 0; turn < SLICES; turn++) {
      // A new random order every turn: with a fixed rotation each candidate always followed the same one,
      // and what ran just before (its garbage, caches) showed: the A/A pair came out 8% apart.
      for (const { path, candidate } of shuffled(pairs)) {
        const { op: kind, count } = PATHS[path];
        const n = Math.ceil(count / SLICES);
        if (kind === 'page') await signIn(app, candidate);
        turns[`${path} ${candidate}`].one.push(await slice(app, candidate, kind, n, 1));
        turns[`${path} ${candidate}`].many.push(await slice(app, candidate, kind, n, CONCURRENCY));
      }
    }
    for (const { path, candidate } of pairs) {
      const one = summarize(turns[`${path} ${candidate}`].one);
      const many = summarize(turns[`${path} ${candidate}`].many);
      // perTurn: app CPU per operation of each turn's one-in-flight slice, for the per-turn ratios (turnRatios).
      const perTurn = turns[`${path} ${candidate}`].one.map((x) => x.cpu / x.ops);
      const perTurnMain = turns[`${path} ${candidate}`].one.map((x) => x.mainCpu / x.ops);
      const perTurnLoaded = turns[`${path} ${candidate}`].many.map((x) => x.cpu / x.ops);
      results[path][candidate].push({ ...one, rate: many.rate, cpuLoaded: many.cpu, allocLoaded: many.alloc, p50Loaded: many.p50, p99Loaded: many.p99, perTurn, perTurnMain, perTurnLoaded });
    }
    await stopApp(app);
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }

  const memory = [];
  for (const candidate of memoryCandidates) {
    const app = await startApp([candidate], memoryPorts[candidate], issuer);
    memory.push(await measureMemory(app, candidate));
    await stopApp(app);
    process.stderr.write(`memory ${candidate} done\n`);
  }
  const loadAfter = os.loadavg();

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

/** Per-round ratios of app CPU per operation (`key`: cpu one in flight, cpuLoaded at CONCURRENCY): `a` over `b`, each `[path, candidate]`. */
function ratios(results, a, b, key = 'cpu') {
  const ra = results[a[0]]?.[a[1]];
  const rb = results[b[0]]?.[b[1]];
  if (!ra || !rb) return undefined;
  return ra.map((x, i) => x[key] / rb[i][key]);
}

/**
 * Per-turn ratios of app CPU per operation, one in flight: `a` over `b` in the same turn of the same
 * round (rounds × slices of them). Their median resists what a per-round ratio cannot: a major GC (no
 * longer forced before each slice) lands in one slice of one candidate and moves that round's sum.
 */
function turnRatios(results, a, b, key = 'perTurn') {
  const ra = results[a[0]]?.[a[1]];
  const rb = results[b[0]]?.[b[1]];
  if (!ra || !rb) return undefined;
  return ra.flatMap((x, i) => x[key].map((cpu, t) => cpu / rb[i][key][t]));
}

/** The p-th percentile of xs (nearest rank). */
const quantile = (xs, p) => percentile([...xs].sort((x, y) => x - y), p);

function render(results, memory, { loadBefore, loadAfter, seconds }) {
  const lines = [];
  const cpus = os.cpus();
  const cell = (xs) => (xs ? withSpread(xs, 2) : '–');
  lines.push('# express-par benchmark', '');
  lines.push(`${new Date().toISOString()} · Node ${process.version} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · load average ${loadBefore.map((x) => fmt(x, 2)).join(' ')} before, ${loadAfter.map((x) => fmt(x, 2)).join(' ')} after · ${fmt(seconds, 0)} s`, '');
  const paths = Object.keys(results);
  if (paths.length > 0) {
    lines.push(`${ROUNDS} rounds, each in a fresh app process hosting every candidate. A round is ${SLICES} turns; in a turn every candidate (in a random order) runs 1/${SLICES} of its operations one in flight, then as many ${CONCURRENCY} in flight. Per candidate, round and regime: ${opts.logins} logins, ${opts.pages} page requests or ${PATHS.refresh.count} refreshes (refresh tokens ${opts['rotate-refresh-tokens'] ? 'rotated on every use' : 'not rotated, the provider default for a confidential client'}). Median over rounds, (min–max).`, '');
    lines.push(`App CPU per operation is taken one in flight: with several in flight it also depends on how many events each wake-up of the app handles, i.e. on how fast the provider answers for that candidate (a DPoP login costs the provider more). The ${CONCURRENCY}-in-flight numbers are shown for throughput.`, '');
    lines.push('## Per candidate', '');
    lines.push(`| path | candidate | app CPU µs/op | of which the main thread | p50 ms | p99 ms | ops/s (${CONCURRENCY} in flight) | app CPU µs/op (${CONCURRENCY} in flight) | p50 / p99 ms (${CONCURRENCY} in flight) | (provider CPU µs/op) | heap allocated B/op (1 / ${CONCURRENCY} in flight) |`, '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const path of paths) {
      for (const [candidate, rs] of Object.entries(results[path])) {
        const col = (k, d) => withSpread(rs.map((x) => x[k]), d);
        const provider = PATHS[path].op !== 'page' ? fmt(median(rs.map((x) => x.opCpu)), 0) : '–';
        lines.push(`| ${path} | ${LABEL[candidate]} | ${col('cpu', 0)} | ${col('mainCpu', 0)} | ${col('p50', 2)} | ${col('p99', 2)} | ${col('rate', 0)} | ${col('cpuLoaded', 0)} | ${fmt(median(rs.map((x) => x.p50Loaded)), 1)} / ${fmt(median(rs.map((x) => x.p99Loaded)), 1)} | ${provider} | ${fmt(median(rs.map((x) => x.alloc)), 0)} / ${fmt(median(rs.map((x) => x.allocLoaded)), 0)} |`);
      }
    }
    lines.push('', '## Ratios of app CPU per operation', '', 'Median of the per-round ratios (min–max over rounds), one in flight; < 1 means cheaper.', '');
    const baseCol = opts.base ? ' ÷ --base build |' : '';
    lines.push('Yardsticks: the hand-written flow for the logins (with DPoP for dpop-login, on the same Redis session for redis-login), the bare session check for the page, the hand-written refresh for refresh. express-openid-connect: its login for login, dpop-login and redis-login (its session is a cookie either way), its page, its `accessToken.refresh()`.', '');
    lines.push(`| path | candidate | ÷ yardstick | ÷ express-openid-connect | ÷ express-par (plain login for DPoP) |${baseCol}`, `|---|---|---:|---:|---:|${opts.base ? '---:|' : ''}`);
    for (const path of paths) {
      const eoc = path === 'redis-login' && results[path].eoc ? [path, 'eoc'] : EOC[path];
      for (const candidate of Object.keys(results[path])) {
        if (REFERENCES.has(candidate)) continue;
        const plain = candidate.startsWith('base') ? 'base' : 'express-par';
        const vsPlain = path === 'dpop-login' ? ratios(results, [path, candidate], ['login', plain]) : candidate === 'express-par-control' ? ratios(results, [path, candidate], [path, 'express-par']) : undefined;
        const vsBase = opts.base ? (candidate.startsWith('base') ? ' – |' : ` ${cell(ratios(results, [path, candidate], [path, path === 'dpop-login' ? 'base-dpop' : 'base']))} |`) : '';
        lines.push(`| ${path} | ${LABEL[candidate]} | ${cell(ratios(results, [path, candidate], YARDSTICK[path]))} | ${cell(ratios(results, [path, candidate], eoc))} | ${cell(vsPlain)} |${vsBase}`);
      }
    }
    const goals = [
      ['login ÷ hand-written flow', 1.0, ['login', 'express-par'], ['login', 'handwritten']],
      ['login ÷ express-openid-connect', 0.5, ['login', 'express-par'], ['login', 'eoc']],
      ['DPoP login ÷ plain login', 1.15, ['dpop-login', 'express-par-dpop'], ['login', 'express-par']],
      ['hand-written DPoP login ÷ hand-written plain login (no goal: what DPoP itself costs a login)', null, ['dpop-login', 'handwritten-dpop'], ['login', 'handwritten']],
      ['DPoP login ÷ hand-written DPoP login (no goal)', null, ['dpop-login', 'express-par-dpop'], ['dpop-login', 'handwritten-dpop']],
      ['hand-written DPoP, dpop_jkt alone at PAR ÷ with a proof at PAR (no goal: what the PAR proof costs, RFC 9449 §10.1)', null, ['dpop-login', 'handwritten-dpop-jkt'], ['dpop-login', 'handwritten-dpop']],
      ['hand-written DPoP, dpop_jkt alone at PAR ÷ hand-written plain login (no goal)', null, ['dpop-login', 'handwritten-dpop-jkt'], ['login', 'handwritten']],
      ['authenticated page ÷ session check (decoding the same session\'s ID token)', 1.05, ['page', 'express-par'], ['page', 'session-check']],
      ['authenticated page ÷ session check reading claims stored in the session', 1.05, ['page', 'express-par'], ['page', 'session-claims']],
      ['login on Redis ÷ hand-written flow on Redis (reported; the login goal)', 1.0, ['redis-login', 'express-par-redis'], ['redis-login', 'handwritten-redis']],
      ['A/A control (no goal: the noise floor)', null, ['login', 'express-par-control'], ['login', 'express-par']],
      ['A/A control on the page (no goal: the noise floor)', null, ['page', 'express-par-control'], ['page', 'express-par']],
      ['--base build: page ÷ session check (decoding)', null, ['page', 'base'], ['page', 'session-check']],
      ['--base build: page ÷ session check reading stored claims', null, ['page', 'base'], ['page', 'session-claims']],
      ['--base build: DPoP login ÷ its plain login', null, ['dpop-login', 'base-dpop'], ['login', 'base']],
      ['this build ÷ --base build: login', null, ['login', 'express-par'], ['login', 'base']],
      ['this build ÷ --base build: DPoP login', null, ['dpop-login', 'express-par-dpop'], ['dpop-login', 'base-dpop']],
      ['this build ÷ --base build: page', null, ['page', 'express-par'], ['page', 'base']],
      ['session check behind a pass-through middleware ÷ session check (no goal: what any app.use() adds to a page)', null, ['page', 'passthrough'], ['page', 'session-check']],
    ];
    const measured = goals.filter(([, , a, b]) => ratios(results, a, b));
    // No table when the paths run measure no goal (e.g. --paths refresh).
    if (measured.length > 0) {
      lines.push('', '## Goals (issues #13, #29)', '');
      lines.push(`"Per turn": the median of the ${ROUNDS} × ${SLICES} per-turn ratios (each candidate's one-in-flight slice over the other's, same turn), with their 10th–90th percentiles; "met" reads it. "Per round": the median of the per-round ratios (min–max), as in the tables above. "Main thread": the per-turn ratios of the main thread's CPU alone (no GC or compiler helper threads; see bench/README.md), a cross-check.`, '');
      lines.push(`| goal | target | measured, 1 in flight, per turn (p10–p90) | met | per round (min–max) | main thread, per turn (p10–p90) | ${CONCURRENCY} in flight, per turn (p10–p90) | ${CONCURRENCY} in flight, per round (min–max) |`, '|---|---:|---:|---|---:|---:|---:|---:|');
    }
    for (const [name, target, a, b] of measured) {
      const xs = ratios(results, a, b);
      const ts = turnRatios(results, a, b);
      const spreadOf = (rs) => (rs.some(Number.isNaN) ? '–' : `${fmt(median(rs), 2)} (${fmt(quantile(rs, 10), 2)}–${fmt(quantile(rs, 90), 2)})`);
      const main = spreadOf(turnRatios(results, a, b, 'perTurnMain'));
      const loaded = spreadOf(turnRatios(results, a, b, 'perTurnLoaded'));
      lines.push(`| ${name} | ${target === null ? '–' : `≤ ${fmt(target, 2)}`} | ${spreadOf(ts)} | ${target === null ? '–' : median(ts) <= target ? 'yes' : 'no'} | ${withSpread(xs, 2)} | ${main} | ${loaded} | ${cell(ratios(results, a, b, 'cpuLoaded'))} |`);
    }
    lines.push('');
  }
  if (memory.length > 0) {
    lines.push('## Memory (one fresh app process per candidate; express-session MemoryStore)', '');
    lines.push(`Heap after forced GC. Pending: ${memory[0].pending} \`GET /login\` in fresh sessions, redirect not followed. Stored: ${memory[0].logins} complete logins in fresh sessions (each leaves one stored session; express-openid-connect keeps its session in a cookie instead). "Retained" is the heap left after the store is emptied, per login: growth that is not session data.`, '');
    lines.push(`| candidate | heap B / pending login | store B / pending login | heap B / stored login | store B / stored login | RSS MB before → after ${memory[0].logins} logins | peak RSS MB | retained B / login |`, '|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of memory) {
      const n = (x) => (x === null ? '–' : fmt(x, 0));
      lines.push(`| ${LABEL[m.candidate]} | ${n(m.heapPerPending)} | ${n(m.storePerPending)} | ${n(m.heapPerLogin)} | ${n(m.storePerLogin)} | ${mb(m.rssBefore)} → ${mb(m.rssAfter)} | ${mb(m.peakRss)} | ${n(m.retainedPerLogin)} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

await main();
