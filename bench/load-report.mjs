/**
 * The load benchmark's markdown report (bench/results/load-latest.md): the headline ratios first
 * (express-par over each other candidate, per concurrency level), then the figures they come from.
 */
import os from 'node:os';
import { perOp, slope, summarize } from './load-lib.mjs';

const LABEL = { 'express-par': 'express-par', handwritten: 'hand-written PAR flow', eoc: 'express-openid-connect (Redis store)', 'eoc-cookie': 'express-openid-connect (cookie session)' };
const SHORT = { handwritten: 'hand-written', eoc: 'EOC', 'eoc-cookie': 'EOC (cookie)' };
const APP_KINDS = ['page', 'token', 'GET /login', 'GET /callback'];
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const mb = (bytes) => fmt(bytes / 2 ** 20, 0);
const sum = (xs) => xs.reduce((s, x) => s + x, 0);

/** Latency summary of every app request of a sink (pages, tokens, GET /login, GET /callback). */
const allApp = (sink) => summarize(APP_KINDS.flatMap((k) => sink.latency[k]));
const rate = (sink) => (sink.appRequests / sink.wall) * 1000;

/** The figures compared in the headline, per level and candidate: [name, lower is better?, value]. */
function figures(lvl, id, probes, floods, track) {
  const { sink, totals } = lvl.run[id];
  const all = allApp(sink);
  const lat = (kind, p) => summarize(sink.latency[kind])[p];
  const probe = probes[id];
  const rows = [
    ['throughput, app requests/s', false, rate(sink)],
    ['latency p50, all app requests', true, all.p50],
    ['latency p99, all app requests', true, all.p99],
    ['latency p99.9, all app requests', true, all.p999],
    ['page p99', true, lat('page', 'p99')],
    ['login p99 (whole login, provider included)', true, lat('login', 'p99')],
    ['refresh p99', true, lat('token', 'p99')],
    ['errors', true, sum(Object.values(sink.errors))],
    ['app CPU µs per app request (both instances)', true, totals.appCpu / sink.appRequests],
    ['redis-server CPU µs per app request', true, totals.redisCpu / sink.appRequests],
    ['Redis commands per app request (the mix)', true, totals.redisCalls.total / sink.appRequests],
    ['Redis commands per page (probe)', true, probe.page.calls.total / probe.page.ops],
    ['Redis commands per login (probe)', true, probe.login.calls.total / probe.login.ops],
    ['Redis commands per refresh (probe)', true, probe.token.calls.total / probe.token.ops],
    ['RSS at the end of the level, MB (larger instance)', true, Math.max(...lastRss(track[id], lvl.concurrency)) / 2 ** 20],
  ];
  const left = floods?.[id]?.left;
  if (floods) rows.push(['/login flood: keys left in Redis', true, left ? left.keys : 0], ['/login flood: Redis bytes left (sample mean × keys)', true, left ? meanBytes(left) * left.keys : 0]);
  return rows;
}

const meanBytes = (left) => (left.sample.length ? sum(left.sample.map((s) => s.bytes)) / left.sample.length : 0);
const lastRss = (track, concurrency) => samplesOf(track, concurrency).at(-1)?.rss ?? [NaN];

function cell(a, b, lowerIsBetter) {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return '–';
  if (b === 0) return a === 0 ? '= (0 = 0)' : `✗ (${fmt(a, 0)} vs 0)`;
  const r = a / b;
  const leads = lowerIsBetter ? r < 1 : r > 1;
  return `${leads ? '✓ ' : r === 1 ? '= ' : '✗ '}${fmt(r, 2)}`;
}

function headline(lines, { opts, probes, levels, floods, track }) {
  const others = opts.candidates.filter((c) => c !== 'express-par');
  if (!opts.candidates.includes('express-par') || others.length === 0) return;
  lines.push('## Headline: express-par ÷ each other candidate', '');
  lines.push('One run, candidates interleaved. ✓: express-par leads on that figure (higher throughput, lower everything else); ✗: it does not.', '');
  const cols = levels.flatMap((l) => others.map((o) => `${l.concurrency} users: ÷ ${SHORT[o]}`));
  lines.push(`| figure | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`);
  const per = levels.map((l) => Object.fromEntries(opts.candidates.map((id) => [id, figures(l, id, probes, floods, track)])));
  per[0]['express-par'].forEach(([name, lower], row) => {
    const cells = per.flatMap((byId) => others.map((o) => cell(byId['express-par'][row][2], byId[o][row][2], lower)));
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  });
  lines.push('');
}

function throughput(lines, { opts, levels }) {
  lines.push('## Throughput and latency (all app requests through the proxy)', '');
  lines.push('| users | candidate | app requests/s | pages/s | logins/s | refreshes/s | p50 ms | p99 ms | p99.9 ms | requests | errors |', '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of levels) {
    for (const id of opts.candidates) {
      const { sink } = l.run[id];
      const per = (n) => fmt((n / sink.wall) * 1000, 0);
      const a = allApp(sink);
      lines.push(`| ${l.concurrency} | ${LABEL[id]} | ${fmt(rate(sink), 0)} | ${per(sink.steps.page)} | ${per(sink.steps.login)} | ${per(sink.steps.token)} | ${fmt(a.p50, 2)} | ${fmt(a.p99, 1)} | ${fmt(a.p999, 1)} | ${sink.appRequests} | ${sum(Object.values(sink.errors))} |`);
    }
  }
  lines.push('');
}

function latency(lines, { opts, levels }) {
  lines.push('## Latency per request type, ms: p50 / p99 / p99.9 (count)', '');
  lines.push('"login" is the whole login as the user waits for it: GET /login, the provider\'s hops (consent interaction included), GET /callback. "provider" is one hop at the provider.', '');
  const kinds = ['page', 'token', 'login', 'GET /login', 'GET /callback', 'provider'];
  lines.push(`| users | candidate | ${kinds.join(' | ')} |`, `|---:|---|${kinds.map(() => '---:').join('|')}|`);
  for (const l of levels) {
    for (const id of opts.candidates) {
      const cells = kinds.map((k) => {
        const s = summarize(l.run[id].sink.latency[k]);
        return `${fmt(s.p50, 1)} / ${fmt(s.p99, 1)} / ${fmt(s.p999, 1)} (${s.n})`;
      });
      lines.push(`| ${l.concurrency} | ${LABEL[id]} | ${cells.join(' | ')} |`);
    }
  }
  lines.push('');
}

function cpu(lines, { opts, levels }) {
  lines.push('## CPU per app request, µs (all processes share the 2 cores)', '');
  lines.push('| users | candidate | app (both instances) | proxy | provider | redis-server | load generator | requests per instance | app errors (handler) | proxy errors |', '|---:|---|---:|---:|---:|---:|---:|---|---:|---:|');
  for (const l of levels) {
    for (const id of opts.candidates) {
      const { sink, totals: t } = l.run[id];
      const per = (us) => fmt(us / sink.appRequests, 0);
      lines.push(`| ${l.concurrency} | ${LABEL[id]} | ${per(t.appCpu)} | ${per(t.proxyCpu)} | ${per(t.providerCpu)} | ${per(t.redisCpu)} | ${per(t.driverCpu)} | ${t.served.join(' / ')} | ${t.appErrors} | ${t.proxyErrors} |`);
    }
  }
  lines.push('');
}

function redis(lines, { opts, probes, levels, keyspace, track }) {
  lines.push('## Redis commands', '');
  lines.push(`Probe: each kind of step alone, 8 users one candidate at a time, \`INFO commandstats\` deltas (the driver's own INFO, SCAN, MEMORY and TTL left out): ${opts.probe} logins, ${opts.probe} refreshes (each right after a fresh login), ${10 * opts.probe} pages.`, '');
  lines.push('| candidate | per login | per refresh | per page |', '|---|---|---|---|');
  for (const id of opts.candidates) {
    const p = probes[id];
    const col = (k) => `${fmt(p[k].calls.total / p[k].ops, 2)} (${perOp(p[k].calls, p[k].ops)})`;
    lines.push(`| ${LABEL[id]} | ${col('login')} | ${col('token')} | ${col('page')} |`);
  }
  lines.push('', 'In the mix (every measured turn):', '', '| users | candidate | commands per app request | by command, per app request |', '|---:|---|---:|---|');
  for (const l of levels) {
    for (const id of opts.candidates) {
      const { sink, totals } = l.run[id];
      lines.push(`| ${l.concurrency} | ${LABEL[id]} | ${fmt(totals.redisCalls.total / sink.appRequests, 3)} | ${perOp(totals.redisCalls, sink.appRequests, 3)} |`);
    }
  }
  lines.push('', 'Keys after both levels (before the flood), against every login made so far:', '', '| candidate | keys | with a TTL | logins | keys per login |', '|---|---:|---:|---:|---:|');
  for (const id of opts.candidates) {
    const db = { 'express-par': 1, handwritten: 2, eoc: 3 }[id];
    const k = db === undefined ? { keys: 0, expires: 0 } : (keyspace[db] ?? { keys: 0, expires: 0 });
    lines.push(`| ${LABEL[id]} | ${k.keys} | ${k.expires} | ${track[id].logins} | ${fmt(k.keys / track[id].logins, 2)} |`);
  }
  lines.push('');
}

/** Samples of one phase (`64`, `256` or `flood`), by the label prefix the driver gave them. */
const samplesOf = (track, phase) => track.rss.filter((s) => s.label.startsWith(`${phase}/`));

function rss(lines, { opts, levels, floods, track }) {
  lines.push('## RSS of each app instance over time', '');
  lines.push('Sampled after every measured turn, against the pages that candidate had served by then (k; probe and warm-ups included). Slope: least squares over the turns of the level but its first (new users, new connections), MB per 100,000 pages; read it only over a long run (the full mode serves 200,000 pages per level).', '');
  lines.push('| phase | candidate | instance | MB @ pages served | min–max MB | slope MB / 100k pages |', '|---|---|---:|---|---:|---:|');
  const phases = [...levels.map((l) => String(l.concurrency)), ...(floods ? ['flood'] : [])];
  for (const phase of phases) {
    for (const id of opts.candidates) {
      const samples = samplesOf(track[id], phase);
      for (let i = 0; i < (samples[0]?.rss.length ?? 0); i++) {
        const mbs = samples.map((s) => s.rss[i] / 2 ** 20);
        const series = samples.map((s, t) => `${fmt(mbs[t], 0)}@${fmt(s.pages / 1000, 0)}k`).join(' ');
        const fit = phase === 'flood' ? null : slope(samples.slice(1).map((s, t) => ({ x: s.pages / 100_000, y: mbs[t + 1] })));
        const name = phase === 'flood' ? 'flood' : `${phase} users`;
        lines.push(`| ${name} | ${LABEL[id]} | ${i + 1} | ${series} | ${fmt(Math.min(...mbs), 0)}–${fmt(Math.max(...mbs), 0)} | ${fmt(fit ?? NaN, 1)} |`);
      }
    }
  }
  lines.push('');
}

function flood(lines, { opts, floods }) {
  if (!floods) return;
  lines.push(`## The /login flood: ${opts.flood} anonymous GET /login per candidate, ${opts.floodConcurrency} connections`, '');
  lines.push('Each request carries no cookie: a new pending login each time (a pushed request at the provider, a session where the candidate keeps one). Keys: what the flood added to the candidate\'s Redis database (SCAN before and after); bytes and TTL from `MEMORY USAGE` and `TTL` on a random sample of up to 200 of them.', '');
  lines.push('| candidate | requests/s | p50 / p99 / p99.9 ms | errors | keys added | per request | bytes per key (sample mean, min–max) | MB (mean × keys) | TTL s (min / median / max) | used_memory Δ MB |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const id of opts.candidates) {
    const { sink, totals, left } = floods[id];
    const s = summarize(sink.latency.flood);
    const bytes = left?.sample.map((x) => x.bytes) ?? [];
    const ttls = summarize(left?.sample.map((x) => x.ttl) ?? []);
    const keys = left ? left.keys : 0;
    const b = left && bytes.length ? `${fmt(meanBytes(left), 0)} (${Math.min(...bytes)}–${Math.max(...bytes)})` : '–';
    const ttl = bytes.length ? `${fmt(Math.min(...left.sample.map((x) => x.ttl)), 0)} / ${fmt(ttls.p50, 0)} / ${fmt(ttls.max, 0)}` : '–';
    const row = [LABEL[id], fmt(rate(sink), 0), `${fmt(s.p50, 1)} / ${fmt(s.p99, 1)} / ${fmt(s.p999, 1)}`, sum(Object.values(sink.errors)), left ? keys : '0 (no store)', fmt(keys / sink.steps.flood, 2), b, left ? fmt((meanBytes(left) * keys) / 2 ** 20, 1) : '0', ttl, fmt(totals.usedMemory / 2 ** 20, 1)];
    lines.push(`| ${row.join(' | ')} |`);
  }
  lines.push('');
}

function errors(lines, { opts, probes, levels, floods }) {
  lines.push('## Errors', '');
  const rows = [];
  const add = (phase, id, errs) => Object.entries(errs).forEach(([kind, n]) => rows.push(`| ${phase} | ${LABEL[id]} | ${kind} | ${n} |`));
  for (const id of opts.candidates) add('Redis probe', id, probes[id].errors);
  for (const l of levels) {
    for (const id of opts.candidates) {
      add(`${l.concurrency} users, warm-up`, id, l.warmup[id].errors);
      add(`${l.concurrency} users`, id, l.run[id].sink.errors);
    }
  }
  for (const id of floods ? opts.candidates : []) add('flood', id, floods[id].sink.errors);
  if (rows.length === 0) lines.push('None: every step of every phase answered as expected (each hop of each login checked, every refresh a new access token).', '');
  else lines.push('| phase | candidate | class | count |', '|---|---|---|---:|', ...rows, '');
}

export function render(data) {
  const { opts, meta } = data;
  const cpus = os.cpus();
  const lines = ['# express-par under load: two instances per candidate, one Redis', ''];
  const load = (xs) => xs.map((x) => fmt(x, 2)).join(' ');
  lines.push(`${meta.started.toISOString()} · Node ${process.version} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · load average ${load(meta.loadBefore)} before, ${load(meta.loadAfter)} after · ${fmt(meta.seconds, 0)} s`, '');
  lines.push(`Per candidate and level: ${opts.requests} app requests (through the proxy) in ${opts.turns} interleaved turns, after ${opts.warmup} of warm-up; users = connections: ${opts.concurrency.join(', ')}. A user's cycle: 1 login (fresh session; PAR, the provider's consent interaction, callback), ${opts.pagesPerLogin} pages (\`requiresAuth()\` + \`req.oidc.user\`) with 1 access-token refresh grant after half of them. Two app instances per candidate behind a round-robin proxy, sessions in one redis-server (connect-redis), the provider in its own process. Everything runs on this machine's ${cpus.length} cores: read ratios, not absolute numbers.`, '');
  for (const section of [headline, throughput, latency, cpu, redis, rss, flood, errors]) section(lines, data);
  return `${lines.join('\n')}\n`;
}
