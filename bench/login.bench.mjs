#!/usr/bin/env node
/**
 * Login benchmark: express-par vs Auth0's express-openid-connect, full logins against a real
 * oidc-provider, reported as absolute numbers and as ratios express-par / express-openid-connect.
 *
 *   npm run bench                      (builds dist/ first)
 *   node bench/login.bench.mjs [--rounds 3] [--seq 300] [--conc 600] [--concurrency 8] [--warmup 100]
 *                              [--variants express-par,eoc,express-par-dpop] [--out bench/results/latest.md]
 *
 * Processes: this one is the "browser" (driver); bench/provider.mjs (the OP) and one bench/app.mjs per
 * library each run in a child process, so an app's CPU time (process.cpuUsage() deltas over IPC) is the
 * library + Express + session cost only. Rounds interleave the libraries; the table shows the median
 * round and the spread (min-max over rounds). See bench/README.md.
 */
import { fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Browser, login } from './browser.mjs';
import { CLIENT_ID, CLIENT_SECRET } from './provider.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seq: { type: 'string', default: '300' },
    conc: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '100' },
    variants: { type: 'string', default: 'express-par,eoc,express-par-dpop' },
    out: { type: 'string', default: join(here, 'results', 'latest.md') },
  },
});
const ROUNDS = Number(opts.rounds);
const SEQ = Number(opts.seq);
const CONC = Number(opts.conc);
const CONCURRENCY = Number(opts.concurrency);
const WARMUP = Number(opts.warmup);
const VARIANTS = opts.variants.split(',');
const BASELINE = 'eoc';
const LABEL = { 'express-par': 'express-par', 'express-par-dpop': 'express-par (dpop: true)', eoc: 'express-openid-connect' };

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

let opChild;
const cpuMs = (a, b) => (b.user - a.user + b.system - a.system) / 1000;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `total` logins with `concurrency` browsers in flight; returns the phase's numbers. */
async function phase(app, browsers, total, concurrency) {
  const latencies = [];
  let issued = 0;
  const opBefore = await ask(opChild, 'cpu');
  const before = await ask(app.child, 'cpu');
  const t0 = performance.now();
  await Promise.all(
    browsers.slice(0, concurrency).map(async (browser) => {
      while (issued < total) {
        issued++;
        const s = performance.now();
        await login(browser, app.baseURL);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wall = performance.now() - t0;
  const after = await ask(app.child, 'cpu');
  const opAfter = await ask(opChild, 'cpu');
  if (after.errors !== before.errors) throw new Error(`${app.variant}: ${after.errors - before.errors} errors in the app`);
  latencies.sort((a, b) => a - b);
  return {
    rate: (total / wall) * 1000,
    mean: latencies.reduce((s, x) => s + x, 0) / latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    cpu: cpuMs(before.cpu, after.cpu) / total,
    user: (after.cpu.user - before.cpu.user) / 1000 / total,
    sys: (after.cpu.system - before.cpu.system) / 1000 / total,
    opCpu: cpuMs(opBefore.cpu, opAfter.cpu) / total,
  };
}

async function main() {
  const apps = [];
  for (const variant of VARIANTS) {
    const execArgv = process.env.BENCH_CPU_PROF === variant ? ['--cpu-prof', `--cpu-prof-dir=${join(here, 'results', 'profiles')}`] : [];
    const { child, first } = spawnChild('app.mjs', [variant], execArgv);
    const { baseURL } = await first;
    apps.push({ variant, child, baseURL });
  }
  const op = spawnChild('provider.mjs', [JSON.stringify({ redirectUris: apps.map((a) => `${a.baseURL}/callback`) })]);
  const { issuer } = await op.first;
  opChild = op.child;
  for (const app of apps) await ask(app.child, 'start', { issuer, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET });

  const loadBefore = os.loadavg();
  const browsers = Array.from({ length: Math.max(CONCURRENCY, 1) }, () => new Browser());
  for (const app of apps) {
    // Warm-up: every browser signs in at the OP once (interaction), then WARMUP logins per app.
    for (const browser of browsers) await login(browser, app.baseURL);
    await phase(app, browsers, WARMUP, CONCURRENCY);
    const me = await browsers[0].get(`${app.baseURL}/me`, { readBody: true });
    if (JSON.parse(me.body).sub !== 'bench-user') throw new Error(`${app.variant}: not logged in after a login (${me.body})`);
  }

  const results = Object.fromEntries(VARIANTS.map((v) => [v, { seq: [], conc: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const app of apps) {
      results[app.variant].seq.push(await phase(app, browsers, SEQ, 1));
      results[app.variant].conc.push(await phase(app, browsers, CONC, CONCURRENCY));
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${app.variant} done\n`);
    }
  }
  const loadAfter = os.loadavg();
  for (const app of apps) app.child.disconnect();
  op.child.disconnect();

  const report = render(results, { loadBefore, loadAfter });
  process.stdout.write(report);
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, report);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const fmt = (x, d = 1) => x.toFixed(d);
const spread = (xs, d = 1) => (xs.length > 1 ? ` (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})` : '');

function render(results, { loadBefore, loadAfter }) {
  const lines = [];
  const cpus = os.cpus();
  lines.push(`# Login benchmark: express-par vs express-openid-connect`, '');
  lines.push(`${new Date().toISOString()} · Node ${process.version} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · load average ${loadBefore.map((x) => fmt(x, 2)).join(' ')} before, ${loadAfter.map((x) => fmt(x, 2)).join(' ')} after`);
  lines.push(`${ROUNDS} rounds; per round and library: ${SEQ} sequential logins, then ${CONC} logins with ${CONCURRENCY} in flight (after ${WARMUP} warm-up logins). Median round, (min–max) over rounds.`, '');
  for (const mode of ['seq', 'conc']) {
    lines.push(`## ${mode === 'seq' ? 'Sequential (1 in flight)' : `Concurrent (${CONCURRENCY} in flight)`}`, '');
    lines.push('| library | logins/s | mean ms | p50 ms | p95 ms | app CPU ms/login | of which user / sys | (provider CPU ms/login) |', '|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const [variant, r] of Object.entries(results)) {
      const col = (k, d) => `${fmt(median(r[mode].map((x) => x[k])), d)}${spread(r[mode].map((x) => x[k]), d)}`;
      lines.push(`| ${LABEL[variant] ?? variant} | ${col('rate', 0)} | ${col('mean', 2)} | ${col('p50', 2)} | ${col('p95', 2)} | ${col('cpu', 2)} | ${fmt(median(r[mode].map((x) => x.user)), 2)} / ${fmt(median(r[mode].map((x) => x.sys)), 2)} | ${col('opCpu', 1)} |`);
    }
    lines.push('');
    if (results[BASELINE]) {
      lines.push(`Ratios to express-openid-connect (same round; < 1 is better except logins/s):`, '');
      lines.push('| library | logins/s | mean latency | p95 latency | app CPU/login | app user CPU/login |', '|---|---:|---:|---:|---:|---:|');
      for (const [variant, r] of Object.entries(results)) {
        if (variant === BASELINE) continue;
        const ratio = (k) => {
          const xs = r[mode].map((x, i) => x[k] / results[BASELINE][mode][i][k]);
          return `${fmt(median(xs), 2)}${spread(xs, 2)}`;
        };
        lines.push(`| ${LABEL[variant] ?? variant} | ${ratio('rate')} | ${ratio('mean')} | ${ratio('p95')} | ${ratio('cpu')} | ${ratio('user')} |`);
      }
      lines.push('');
    }
  }
  return `${lines.join('\n')}\n`;
}

await main();
