#!/usr/bin/env node
/**
 * The cluster under load (issue #29, part 3): express-par, the hand-written PAR flow and
 * express-openid-connect, each as two app instances behind a round-robin proxy of ours, sessions in one
 * Redis (connect-redis), many virtual users replaying 1 login : 50 signed-in pages : 1 token refresh.
 * Not part of `npm test`. See bench/README.md ("Load").
 *
 *   npm run bench:load                                   (builds dist/ first; the full run)
 *   node bench/load.mjs --requests 20000                 (a smoke run)
 *   node bench/load.mjs [--requests 212000] [--concurrency 64,256] [--candidates express-par,handwritten,eoc]
 *                       [--pages-per-login 50] [--warmup 5000] [--turns 10] [--flood 10000]
 *                       [--flood-concurrency 64] [--probe 40] [--timeout 30000] [--out bench/results/load-latest.md]
 *
 * Phases: the Redis probe (commands per login, refresh and page, each alone, per candidate); then per
 * concurrency level: every candidate's users log in and warm up, then `--turns` turns in each of which
 * every candidate, in a new random order, runs 1/turns of its `--requests` app requests; then the
 * /login flood (anonymous GET /login, in turns too) and what it leaves in Redis.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { REDIS_DB, snapshot, startCluster } from './load-cluster.mjs';
import { drive, makeUsers, mergeSink, newSink } from './load-driver.mjs';
import { addCalls, cycle, diffCalls, shuffled, splitEvenly } from './load-lib.mjs';
import { render } from './load-report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CANDIDATES = ['express-par', 'handwritten', 'eoc', 'eoc-cookie'];

function options() {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '212000' },
      concurrency: { type: 'string', default: '64,256' },
      candidates: { type: 'string', default: 'express-par,handwritten,eoc' },
      'pages-per-login': { type: 'string', default: '50' },
      warmup: { type: 'string', default: '5000' },
      turns: { type: 'string', default: '10' },
      flood: { type: 'string', default: '10000' },
      'flood-concurrency': { type: 'string', default: '64' },
      probe: { type: 'string', default: '40' },
      timeout: { type: 'string', default: '30000' },
      out: { type: 'string', default: join(here, 'results', 'load-latest.md') },
    },
  });
  const count = (name, min = 0) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min) {
      throw new TypeError(`--${name} must be a whole number ≥ ${min}, not ${values[name]}`);
    }
    return n;
  };
  const candidates = values.candidates.split(',');
  const unknown = candidates.filter((c) => !CANDIDATES.includes(c));
  if (unknown.length > 0) {
    throw new TypeError(`--candidates: unknown ${unknown.join(', ')} (known: ${CANDIDATES.join(', ')})`);
  }
  const concurrency = values.concurrency.split(',').map(Number);
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new TypeError(`--concurrency must list whole numbers ≥ 1, not ${values.concurrency}`);
  }
  return {
    requests: count('requests', 1), concurrency, candidates, pagesPerLogin: count('pages-per-login'),
    warmup: count('warmup'), turns: count('turns', 1), flood: count('flood'),
    floodConcurrency: count('flood-concurrency', 1), probe: count('probe'), timeout: count('timeout', 1),
    out: values.out,
  };
}

/** Per candidate: pages and logins so far (warm-ups and probes included), and RSS samples against pages. */
function tracker(candidates) {
  return Object.fromEntries(candidates.map((id) => [id, { pages: 0, logins: 0, rss: [] }]));
}

function countSteps(ctx, id, sink) {
  ctx.track[id].pages += sink.steps.page;
  ctx.track[id].logins += sink.steps.login;
}

/** Deltas of a turn (`a` -> `b` snapshots) added to a candidate's totals. */
function addDeltas(totals, a, b) {
  totals.appCpu += b.appCpu - a.appCpu;
  totals.proxyCpu += b.proxyCpu - a.proxyCpu;
  totals.providerCpu += b.providerCpu - a.providerCpu;
  totals.redisCpu += b.redis.cpuUs - a.redis.cpuUs;
  totals.driverCpu += b.driverCpu - a.driverCpu;
  totals.appErrors += b.appErrors - a.appErrors;
  totals.proxyErrors += b.proxyErrors - a.proxyErrors;
  totals.usedMemory += b.redis.usedMemory - a.redis.usedMemory;
  totals.redisIn += b.redis.netIn - a.redis.netIn;
  addCalls(totals.redisCalls, diffCalls(a.redis.calls, b.redis.calls));
  totals.served = b.served;
}

const newTotals = () => ({
  appCpu: 0, proxyCpu: 0, providerCpu: 0, redisCpu: 0, driverCpu: 0, appErrors: 0, proxyErrors: 0, usedMemory: 0, redisIn: 0,
  redisCalls: { total: 0, by: {} }, served: [],
});

/** Runs `work()` between two snapshots of candidate `id`; adds the deltas to `totals` and samples its RSS. */
async function measured(ctx, id, totals, label, work) {
  const before = await snapshot(ctx.cluster, id);
  const sink = await work();
  const after = await snapshot(ctx.cluster, id);
  addDeltas(totals, before, after);
  countSteps(ctx, id, sink);
  ctx.track[id].rss.push({ label, pages: ctx.track[id].pages, rss: after.rss, heap: after.heap });
  return sink;
}

/** Redis commands of one kind of step alone, per candidate: logins, refreshes (each right after a login), pages. */
async function probe(ctx, id) {
  const users = makeUsers(ctx.cluster.origins[id], 8, ctx.opts.timeout);
  const sink = newSink();
  const empty = () => ({ calls: { total: 0, by: {} }, ops: 0 });
  const result = { login: empty(), token: empty(), page: empty() };
  const count = async (step, quota) => {
    const before = await ctx.cluster.redis.snapshot();
    const done = sink.steps[step];
    await drive(users, { quota, nextStep: () => step, sink });
    addCalls(result[step].calls, diffCalls(before.calls, (await ctx.cluster.redis.snapshot()).calls));
    result[step].ops += sink.steps[step] - done;
  };
  await count('login', 2 * ctx.opts.probe);
  while (result.token.ops < ctx.opts.probe) {
    await drive(users, { quota: 2 * users.length, nextStep: () => 'login', sink }); // each user one fresh login
    await count('token', users.length);
  }
  await count('page', 10 * ctx.opts.probe);
  countSteps(ctx, id, sink);
  return { ...result, errors: sink.errors };
}

/** One concurrency level: users of every candidate log in and warm up, then interleaved measured turns. */
async function level(ctx, concurrency) {
  const { opts, cluster } = ctx;
  const steps = cycle({ pages: opts.pagesPerLogin });
  const nextStep = (user) => steps[user.pos];
  const advance = (user, ok) => (user.pos = ok ? (user.pos + 1) % steps.length : 0);
  const out = { concurrency, warmup: {}, run: {} };
  const users = {};
  for (const id of shuffled(opts.candidates)) {
    users[id] = makeUsers(cluster.origins[id], concurrency, opts.timeout);
    const warm = newSink();
    await drive(users[id], { quota: 2 * concurrency, nextStep: () => 'login', sink: warm });
    // Each user somewhere in its cycle after the login: logins spread over time instead of in waves.
    for (const user of users[id]) user.pos = 1 + Math.floor(Math.random() * (steps.length - 1));
    await drive(users[id], { quota: opts.warmup, nextStep, advance, sink: warm });
    countSteps(ctx, id, warm);
    out.warmup[id] = warm;
    out.run[id] = { sink: newSink(), totals: newTotals() };
  }
  const quotas = splitEvenly(opts.requests, opts.turns);
  for (const [turn, quota] of quotas.entries()) {
    for (const id of shuffled(opts.candidates)) {
      const { sink, totals } = out.run[id];
      await measured(ctx, id, totals, `${concurrency}/${turn + 1}`, async () => {
        const part = newSink();
        await drive(users[id], { quota, nextStep, advance, sink: part });
        mergeSink(sink, part);
        return part;
      });
    }
    process.stderr.write(`[load] ${concurrency} users: turn ${turn + 1}/${opts.turns}\n`);
  }
  return out;
}

/** Anonymous GET /login × `--flood` per candidate (in turns), then the keys it added to the candidate's database. */
async function flood(ctx) {
  const { opts, cluster } = ctx;
  const out = {};
  for (const id of opts.candidates) {
    const db = REDIS_DB[id];
    const before = db === undefined ? null : await cluster.redis.keys(db);
    out[id] = { sink: newSink(), totals: newTotals(), db, before };
    out[id].users = makeUsers(cluster.origins[id], opts.floodConcurrency, opts.timeout);
  }
  for (const [turn, quota] of splitEvenly(opts.flood, opts.turns).entries()) {
    for (const id of shuffled(opts.candidates)) {
      await measured(ctx, id, out[id].totals, `flood/${turn + 1}`, async () => {
        const part = newSink();
        await drive(out[id].users, { quota, nextStep: () => 'flood', sink: part, flooding: true });
        mergeSink(out[id].sink, part);
        return part;
      });
    }
  }
  for (const id of opts.candidates) out[id].left = await leftInRedis(cluster.redis, out[id]);
  return out;
}

/** The keys a flood added: count, and MEMORY USAGE and TTL of a random sample of up to 200. */
async function leftInRedis(redis, entry) {
  delete entry.users;
  if (entry.before === null) return null;
  const added = [...(await redis.keys(entry.db))].filter((key) => !entry.before.has(key));
  entry.before = null;
  const sample = await redis.sample(entry.db, shuffled(added).slice(0, 200));
  return { keys: added.length, sample };
}

async function main() {
  const opts = options();
  if (!existsSync(join(here, '..', 'dist', 'esm', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm run bench:load does)');
  }
  const cluster = await startCluster(opts.candidates);
  // Ctrl-C: the forked children leave when this process does, redis-server does not.
  const interrupted = () => cluster.stop().finally(() => process.exit(130));
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, interrupted);
  const ctx = { opts, cluster, track: tracker(opts.candidates) };
  const meta = { started: new Date(), loadBefore: os.loadavg(), t0: performance.now() };
  try {
    const probes = {};
    for (const id of opts.candidates) probes[id] = await probe(ctx, id);
    process.stderr.write('[load] Redis probe done\n');
    const levels = [];
    for (const c of opts.concurrency) levels.push(await level(ctx, c));
    const keyspace = await cluster.redis.keyspace();
    const floods = opts.flood > 0 ? await flood(ctx) : null;
    Object.assign(meta, { loadAfter: os.loadavg(), seconds: (performance.now() - meta.t0) / 1000 });
    const report = render({ opts, meta, probes, levels, keyspace, floods, track: ctx.track });
    process.stdout.write(report);
    await mkdir(dirname(opts.out), { recursive: true });
    await writeFile(opts.out, report);
  } finally {
    await cluster.stop();
  }
}

await main();
