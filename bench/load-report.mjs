/**
 * The load benchmark's markdown report (bench/results/load-latest.md): the headline ratios first
 * (express-par over each other candidate, per concurrency level), then the figures they come from.
 */
import os from 'node:os';
import { perOp, slope, summarize } from './load-lib.mjs';

const LABEL = {
  'express-par': 'express-par',
  handwritten: 'hand-written PAR flow',
  eoc: 'express-openid-connect (Redis store)',
  'eoc-cookie': 'express-openid-connect (cookie session)',
};
const SHORT = { handwritten: 'hand-written', eoc: 'EOC', 'eoc-cookie': 'EOC (cookie)' };
const APP_KINDS = ['page', 'token', 'GET /login', 'GET /callback'];
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const sum = (xs) => xs.reduce((s, x) => s + x, 0);
const MB = 2 ** 20;

/** A markdown table's header: the first `left` columns left-aligned, the rest right-aligned. */
const head = (cols, left = 2) => [`| ${cols.join(' | ')} |`, `|${cols.map((_, i) => (i < left ? '---' : '---:')).join('|')}|`];
const row = (cells) => `| ${cells.join(' | ')} |`;
/** A paragraph written as several source lines. */
const para = (...parts) => [parts.join(' '), ''];

/** Latency summary of every app request of a sink (pages, tokens, GET /login, GET /callback). */
const allApp = (sink) => summarize(APP_KINDS.flatMap((k) => sink.latency[k]));
const rate = (sink) => (sink.appRequests / sink.wall) * 1000;
const errorCount = (sink) => sum(Object.values(sink.errors));
const meanBytes = (left) => (left.sample.length ? sum(left.sample.map((s) => s.bytes)) / left.sample.length : 0);
/** Samples of one phase (`64`, `256` or `flood`), by the label prefix the driver gave them. */
const samplesOf = (track, phase) => track.rss.filter((s) => s.label.startsWith(`${phase}/`));
/** The median over a level's turns of the larger instance's RSS (one sample lands anywhere on the GC's sawtooth). */
const medianRss = (track, level) => summarize(samplesOf(track, level).map((s) => Math.max(...s.rss))).p50;

/** The flood's figures for the headline: throughput, app CPU, keys, bytes, MB·hours held until the keys expire. */
function floodFigures({ sink, totals, left }) {
  const bytes = left ? meanBytes(left) * left.keys : 0;
  const hours = left?.sample.length ? summarize(left.sample.map((x) => x.ttl)).p50 / 3600 : 0;
  return [
    ['/login flood: requests/s', false, rate(sink)],
    ['/login flood: app CPU µs per request', true, totals.appCpu / sink.appRequests],
    ['/login flood: keys left in Redis', true, left ? left.keys : 0],
    ['/login flood: Redis bytes left (sample mean × keys)', true, bytes],
    ['/login flood: Redis MB·hours held until expiry (bytes × median TTL)', true, (bytes / MB) * hours],
  ];
}

/**
 * The figures compared in the headline, per level and candidate: [name, lower is better?, value]. The
 * flood ran once: its figures are under the first level's columns only (NaN, shown "–", under the others).
 */
function figures(lvl, id, { probes, floods, track, levels }) {
  const { sink, totals } = lvl.run[id];
  const all = allApp(sink);
  const p99 = (kind) => summarize(sink.latency[kind]).p99;
  const perRequest = (x) => x / sink.appRequests;
  const { page, login, token } = probes[id];
  const rows = [
    ['throughput, app requests/s', false, rate(sink)],
    ['latency p50, all app requests', true, all.p50],
    ['latency p99, all app requests', true, all.p99],
    ['latency p99.9, all app requests', true, all.p999],
    ['page p99', true, p99('page')],
    ['login p99 (whole login, provider included)', true, p99('login')],
    ['refresh p99', true, p99('token')],
    ['errors', true, errorCount(sink)],
    ['app CPU µs per app request (both instances)', true, perRequest(totals.appCpu)],
    ['redis-server CPU µs per app request', true, perRequest(totals.redisCpu)],
    ['Redis commands per app request (the mix)', true, perRequest(totals.redisCalls.total)],
    ['bytes sent to Redis per app request (the mix)', true, perRequest(totals.redisIn)],
    ['Redis commands per page (probe)', true, page.calls.total / page.ops],
    ['Redis commands per login (probe)', true, login.calls.total / login.ops],
    ['Redis commands per refresh (probe)', true, token.calls.total / token.ops],
    ["RSS, MB (larger instance, median over the level's turns)", true, medianRss(track[id], lvl.concurrency) / MB],
  ];
  if (!floods) return rows;
  const flood = floodFigures(floods[id]);
  return rows.concat(lvl === levels[0] ? flood : flood.map(([name, lower]) => [name, lower, NaN]));
}

/** express-par's figure `a` over another's `b`: ✓ when express-par leads, = within 0.5 %, ✗ otherwise. */
function cell(a, b, lowerIsBetter) {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return '–';
  if (b === 0) return a === 0 ? '= (0 = 0)' : `✗ (${Number(a.toPrecision(3))} vs 0)`;
  const r = a / b;
  if (Math.abs(r - 1) < 0.005) return `= ${fmt(r, 2)}`;
  return `${(lowerIsBetter ? r < 1 : r > 1) ? '✓' : '✗'} ${fmt(r, 2)}`;
}

function headline(lines, data) {
  const { opts, levels } = data;
  const others = opts.candidates.filter((c) => c !== 'express-par');
  if (!opts.candidates.includes('express-par') || others.length === 0) return;
  lines.push('## Headline: express-par ÷ each other candidate', '');
  lines.push(...para(
    'One run, candidates interleaved. ✓: express-par leads on that figure (higher throughput,',
    'lower everything else); ✗: it does not; =: within 0.5 %. The flood ran once, after both levels.',
  ));
  const cols = levels.flatMap((l) => others.map((o) => `${l.concurrency} users: ÷ ${SHORT[o]}`));
  lines.push(...head(['figure', ...cols], 1));
  const per = levels.map((l) => Object.fromEntries(opts.candidates.map((id) => [id, figures(l, id, data)])));
  per[0]['express-par'].forEach(([name, lower], i) => {
    const cells = per.flatMap((byId) => others.map((o) => cell(byId['express-par'][i][2], byId[o][i][2], lower)));
    lines.push(row([name, ...cells]));
  });
  lines.push('');
}

function throughput(lines, { opts, levels }) {
  lines.push('## Throughput and latency (all app requests through the proxy)', '');
  const cols = ['app requests/s', 'pages/s', 'logins/s', 'refreshes/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'requests', 'errors'];
  lines.push(...head(['users', 'candidate', ...cols]));
  for (const l of levels) {
    for (const id of opts.candidates) {
      const { sink } = l.run[id];
      const per = (n) => fmt((n / sink.wall) * 1000, 0);
      const a = allApp(sink);
      const { page, login, token } = sink.steps;
      const rates = [fmt(rate(sink), 0), per(page), per(login), per(token)];
      const times = [fmt(a.p50, 2), fmt(a.p99, 1), fmt(a.p999, 1)];
      lines.push(row([l.concurrency, LABEL[id], ...rates, ...times, sink.appRequests, errorCount(sink)]));
    }
  }
  lines.push('');
}

function latency(lines, { opts, levels }) {
  lines.push('## Latency per request type, ms: p50 / p99 / p99.9 (count)', '');
  lines.push(...para(
    '"login" is the whole login as the user waits for it: GET /login, the provider\'s hops (consent',
    'interaction included), GET /callback. "provider" is one hop at the provider.',
  ));
  const kinds = ['page', 'token', 'login', 'GET /login', 'GET /callback', 'provider'];
  lines.push(...head(['users', 'candidate', ...kinds]));
  for (const l of levels) {
    for (const id of opts.candidates) {
      const cells = kinds.map((k) => {
        const s = summarize(l.run[id].sink.latency[k]);
        return `${fmt(s.p50, 1)} / ${fmt(s.p99, 1)} / ${fmt(s.p999, 1)} (${s.n})`;
      });
      lines.push(row([l.concurrency, LABEL[id], ...cells]));
    }
  }
  lines.push('');
}

function cpu(lines, { opts, levels }) {
  lines.push('## CPU per app request, µs (all processes share the machine)', '');
  const cols = ['app (both instances)', 'proxy', 'provider', 'redis-server', 'load generator'];
  lines.push(...head(['users', 'candidate', ...cols, 'requests per instance (cumulative)', 'app errors (handler)', 'proxy errors']));
  for (const l of levels) {
    for (const id of opts.candidates) {
      const { sink, totals: t } = l.run[id];
      const per = (us) => fmt(us / sink.appRequests, 0);
      const cpus = [t.appCpu, t.proxyCpu, t.providerCpu, t.redisCpu, t.driverCpu].map(per);
      lines.push(row([l.concurrency, LABEL[id], ...cpus, t.served.join(' / '), t.appErrors, t.proxyErrors]));
    }
  }
  lines.push('');
}

function redisProbe(lines, { opts, probes }) {
  lines.push('## Redis commands', '');
  lines.push(...para(
    'Probe: each kind of step alone, 8 users, one candidate at a time, `INFO commandstats` deltas (the driver\'s own',
    `INFO, SCAN, MEMORY and TTL left out): ${opts.probe} logins, ${opts.probe} refreshes (each right after a fresh login),`,
    `${10 * opts.probe} pages.`,
  ));
  lines.push(...head(['candidate', 'per login', 'per refresh', 'per page'], 4));
  for (const id of opts.candidates) {
    const p = probes[id];
    const col = (k) => `${fmt(p[k].calls.total / p[k].ops, 2)} (${perOp(p[k].calls, p[k].ops)})`;
    lines.push(row([LABEL[id], col('login'), col('token'), col('page')]));
  }
  lines.push('');
}

function redisMix(lines, { opts, levels, keyspace, track }) {
  lines.push('In the mix (every measured turn; bytes: `total_net_input_bytes`, what redis-server read from its clients):', '');
  lines.push(...head(['users', 'candidate', 'commands per app request', 'by command, per app request', 'bytes sent per app request'], 2));
  for (const l of levels) {
    for (const id of opts.candidates) {
      const { sink, totals } = l.run[id];
      const calls = totals.redisCalls;
      const per = (x, d) => fmt(x / sink.appRequests, d);
      lines.push(row([l.concurrency, LABEL[id], per(calls.total, 3), perOp(calls, sink.appRequests, 3), per(totals.redisIn, 0)]));
    }
  }
  lines.push('', 'Keys after the load levels (before the flood), against every login made so far:', '');
  lines.push(...head(['candidate', 'keys', 'with a TTL', 'logins', 'keys per login'], 1));
  for (const id of opts.candidates) {
    const db = { 'express-par': 1, handwritten: 2, eoc: 3 }[id];
    const k = (db === undefined ? undefined : keyspace[db]) ?? { keys: 0, expires: 0 };
    lines.push(row([LABEL[id], k.keys, k.expires, track[id].logins, fmt(k.keys / track[id].logins, 2)]));
  }
  lines.push('');
}

function rss(lines, { opts, levels, floods, track }) {
  lines.push('## RSS of each app instance over time', '');
  lines.push(...para(
    'Sampled after every measured turn, against the pages that candidate had served by then (k; probe and warm-ups',
    "included). Slope: least squares over the level's turns but its first (new users, new connections), MB per",
    '100,000 pages; read it only over a long run (the full mode serves 200,000 pages per level).',
  ));
  lines.push(...head(['phase', 'candidate', 'instance', 'MB @ pages served', 'min–max MB', 'slope MB / 100k pages', 'heap used MB (median)'], 2));
  const phases = [...levels.map((l) => String(l.concurrency)), ...(floods ? ['flood'] : [])];
  for (const phase of phases) {
    for (const id of opts.candidates) {
      const samples = samplesOf(track[id], phase);
      for (let i = 0; i < (samples[0]?.rss.length ?? 0); i++) {
        const mbs = samples.map((s) => s.rss[i] / MB);
        const series = samples.map((s, t) => `${fmt(mbs[t], 0)}@${fmt(s.pages / 1000, 0)}k`).join(' ');
        const points = samples.slice(1).map((s, t) => ({ x: s.pages / 100_000, y: mbs[t + 1] }));
        const fit = phase === 'flood' ? null : slope(points);
        const name = phase === 'flood' ? 'flood' : `${phase} users`;
        const heap = summarize(samples.map((s) => s.heap[i] / MB)).p50;
        lines.push(row([name, LABEL[id], i + 1, series, `${fmt(Math.min(...mbs), 0)}–${fmt(Math.max(...mbs), 0)}`, fmt(fit ?? NaN, 1), fmt(heap, 0)]));
      }
    }
  }
  lines.push('');
}

/** One row of the flood table. */
function floodRow(id, { sink, totals, left }) {
  const s = summarize(sink.latency.flood);
  const sample = left?.sample ?? [];
  const keys = left ? left.keys : 0;
  const bytes = sample.map((x) => x.bytes);
  const ttls = sample.map((x) => x.ttl);
  const t = summarize(ttls);
  return row([
    LABEL[id],
    fmt(rate(sink), 0),
    fmt(totals.appCpu / sink.appRequests, 0),
    `${fmt(s.p50, 1)} / ${fmt(s.p99, 1)} / ${fmt(s.p999, 1)}`,
    errorCount(sink),
    left ? keys : '0 (no store)',
    fmt(keys / sink.steps.flood, 2),
    sample.length ? `${fmt(meanBytes(left), 0)} (${Math.min(...bytes)}–${Math.max(...bytes)})` : '–',
    left ? fmt((meanBytes(left) * keys) / MB, 1) : '0',
    sample.length ? `${Math.min(...ttls)} / ${fmt(t.p50, 0)} / ${t.max}` : '–',
    fmt(totals.usedMemory / MB, 1),
  ]);
}

function flood(lines, { opts, floods }) {
  if (!floods) return;
  lines.push(`## The /login flood: ${opts.flood} anonymous GET /login per candidate, ${opts.floodConcurrency} connections`, '');
  lines.push(...para(
    'Each request carries no cookie: a new pending login each time (a pushed request at the provider, a session where',
    "the candidate keeps one). Keys: what the flood added to the candidate's Redis database (SCAN before and after);",
    'bytes and TTL from `MEMORY USAGE` and `TTL` on a random sample of up to 200 of them.',
  ));
  const cols = ['candidate', 'requests/s', 'app CPU µs / request', 'p50 / p99 / p99.9 ms', 'errors', 'keys added', 'per request'];
  const store = ['bytes per key (sample mean, min–max)', 'MB (mean × keys)', 'TTL s (min / median / max)', 'used_memory Δ MB'];
  lines.push(...head([...cols, ...store], 1));
  for (const id of opts.candidates) lines.push(floodRow(id, floods[id]));
  lines.push('');
}

function errors(lines, { opts, probes, levels, floods }) {
  lines.push('## Errors', '');
  const rows = [];
  const add = (phase, id, errs) => Object.entries(errs).forEach(([kind, n]) => rows.push(row([phase, LABEL[id], kind, n])));
  for (const id of opts.candidates) add('Redis probe', id, probes[id].errors);
  for (const l of levels) {
    for (const id of opts.candidates) {
      add(`${l.concurrency} users, warm-up`, id, l.warmup[id].errors);
      add(`${l.concurrency} users`, id, l.run[id].sink.errors);
    }
  }
  for (const id of floods ? opts.candidates : []) add('flood', id, floods[id].sink.errors);
  if (rows.length > 0) return void lines.push(...head(['phase', 'candidate', 'class', 'count'], 3), ...rows, '');
  lines.push(...para(
    'None: every step of every phase answered as expected (each hop of each login checked, every',
    'refresh a new access token).',
  ));
}

function intro(lines, { opts, meta }) {
  const cpus = os.cpus();
  const load = (xs) => xs.map((x) => fmt(x, 2)).join(' ');
  const full = opts.requests >= 212_000 && opts.concurrency.includes(64) && opts.concurrency.includes(256);
  lines.push('# express-par under load: two instances per candidate, one Redis', '');
  if (!full) {
    lines.push(...para(
      `**A short run** (\`--requests ${opts.requests}\`, ${opts.concurrency.join(', ')} users): it shows that everything runs`,
      "and what each candidate asks of Redis; its latencies, throughput and RSS slopes are not the benchmark's figures",
      '(`npm run bench:load`, on a quiet machine).',
    ));
  }
  const when = `${meta.started.toISOString()} · Node ${process.version} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}`;
  lines.push(`${when} · load average ${load(meta.loadBefore)} before, ${load(meta.loadAfter)} after · ${fmt(meta.seconds, 0)} s`, '');
  lines.push(...para(
    `Per candidate and level: ${opts.requests} app requests (through the proxy) in ${opts.turns} interleaved turns, after`,
    `${opts.warmup} of warm-up; users = connections: ${opts.concurrency.join(', ')}. A user's cycle: 1 login (fresh session;`,
    `PAR, the provider's consent interaction, callback), ${opts.pagesPerLogin} pages (\`requiresAuth()\` + \`req.oidc.user\`)`,
    'with 1 access-token refresh grant after half of them. Two app instances per candidate behind a round-robin proxy,',
    'sessions in one redis-server (connect-redis), the provider in its own process.',
    `Everything runs on this machine's ${cpus.length} cores: read ratios, not absolute numbers.`,
  ));
}

export function render(data) {
  const lines = [];
  for (const section of [intro, headline, throughput, latency, cpu, redisProbe, redisMix, rss, flood, errors]) section(lines, data);
  return `${lines.join('\n')}\n`;
}
