/**
 * Pure helpers of the load benchmark (bench/load.mjs): percentiles, Redis INFO parsing and deltas, the
 * slope of RSS over pages, round-robin, a virtual user's cycle and error classes. No I/O here, so
 * __tests__/bench-load-lib.test.ts can check them; types in load-lib.d.mts.
 */

/** The p-th percentile (0-100) of an ascending array, nearest rank; NaN when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  // The epsilon: (99.9 / 100) * 1000 is 999.0000000000001 in floating point, whose ceiling is 1000.
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Count, p50, p99, p99.9, max and mean of a list of latencies (any order; the list is not changed). */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  const at = (p) => percentile(sorted, p);
  return { n, p50: at(50), p99: at(99), p999: at(99.9), max: n ? sorted[n - 1] : NaN, mean: n ? sum / n : NaN };
}

/** `INFO` text -> { field: value } (strings; section headers and blank lines skipped). */
export function parseInfo(text) {
  const fields = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** `INFO commandstats` text -> { command: calls } (lower case; `cmdstat_client|setinfo` -> `client|setinfo`). */
export function commandCalls(text) {
  const calls = {};
  for (const [field, value] of Object.entries(parseInfo(text))) {
    if (!field.startsWith('cmdstat_')) continue;
    const match = /(?:^|,)calls=(\d+)/.exec(value);
    if (match) calls[field.slice('cmdstat_'.length)] = Number(match[1]);
  }
  return calls;
}

/**
 * Commands the benchmark's own driver sends (INFO, SCAN, MEMORY USAGE, ...) or a client sends when it
 * connects: left out of every delta, so a delta counts the apps' session traffic only.
 */
export const DRIVER_COMMANDS = new Set([
  'info', 'scan', 'memory|usage', 'memory', 'ttl', 'pttl', 'dbsize',
  'select', 'hello', 'ping', 'command', 'config|get', 'flushall',
]);
const isDriverCommand = (name) => DRIVER_COMMANDS.has(name) || name.startsWith('client|') || name.startsWith('config|');

/** Calls per command between two commandCalls() snapshots, driver commands left out: { total, by: { GET: n } }. */
export function diffCalls(before, after) {
  const by = {};
  let total = 0;
  for (const [name, calls] of Object.entries(after)) {
    if (isDriverCommand(name)) continue;
    const delta = calls - (before[name] ?? 0);
    if (delta <= 0) continue;
    by[name.toUpperCase()] = delta;
    total += delta;
  }
  return { total, by };
}

/** Adds the calls of `b` to `a` (both diffCalls() results); returns `a`. */
export function addCalls(a, b) {
  a.total += b.total;
  for (const [name, n] of Object.entries(b.by)) a.by[name] = (a.by[name] ?? 0) + n;
  return a;
}

/** "GET 1, EXPIRE 1" for `calls` (a diffCalls() result) divided by `ops`, biggest first; "–" when none. */
export function perOp(calls, ops, digits = 2) {
  if (!ops || calls.total === 0) return '–';
  return Object.entries(calls.by)
    .sort((x, y) => y[1] - x[1])
    .map(([name, n]) => `${name} ${round(n / ops, digits)}`)
    .join(', ');
}

const round = (x, digits) => String(Number(x.toFixed(digits)));

/** `INFO keyspace` text -> { 1: { keys, expires } } by database number. */
export function parseKeyspace(text) {
  const dbs = {};
  for (const [field, value] of Object.entries(parseInfo(text))) {
    const db = /^db(\d+)$/.exec(field);
    if (!db) continue;
    const entry = {};
    for (const pair of value.split(',')) {
      const [k, v] = pair.split('=');
      entry[k] = Number(v);
    }
    dbs[Number(db[1])] = { keys: entry.keys ?? 0, expires: entry.expires ?? 0 };
  }
  return dbs;
}

/** Least-squares slope of y over x for [{ x, y }]; null with fewer than two distinct x. */
export function slope(points) {
  if (points.length < 2) return null;
  const mx = points.reduce((s, p) => s + p.x, 0) / points.length;
  const my = points.reduce((s, p) => s + p.y, 0) / points.length;
  let sxy = 0;
  let sxx = 0;
  for (const { x, y } of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}

/** A picker that returns items[0], items[1], ..., items[0], ... (one shared counter). */
export function roundRobin(items) {
  if (items.length === 0) throw new TypeError('roundRobin: no items');
  let next = 0;
  return () => {
    const item = items[next];
    next = (next + 1) % items.length;
    return item;
  };
}

/**
 * A virtual user's cycle: one login, then `pages` signed-in pages with one access-token refresh after
 * `refreshAfter` of them (clamped to 0..pages). The user repeats it from a fresh session.
 */
export function cycle({ pages, refreshAfter = Math.floor(pages / 2) }) {
  if (!Number.isInteger(pages) || pages < 0) throw new TypeError('cycle: "pages" must be a whole number, 0 or more');
  const at = Math.min(pages, Math.max(0, refreshAfter));
  const steps = ['login'];
  for (let i = 0; i < pages; i++) {
    if (i === at) steps.push('token');
    steps.push('page');
  }
  if (at === pages) steps.push('token');
  return steps;
}

/** App requests (through the proxy) a step makes: a login is GET /login and GET /callback. */
export const APP_REQUESTS = { login: 2, page: 1, token: 1, flood: 1 };

/**
 * A short, stable class for an error of a step: the HTTP answer without its body ("/page answered 401"),
 * a socket error's code, or the message's first words. Never a token: bodies are cut off.
 */
export function classifyError(step, err) {
  if (typeof err?.code === 'string' && /^E[A-Z_]+$/.test(err.code)) return `${step}: ${err.code}`;
  const message = String(err?.message ?? err);
  const answered = /^(\S+(?: at the provider)? answered \d{3})/.exec(message);
  if (answered) return `${step}: ${answered[1]}`;
  return `${step}: ${message.replace(/[^\w /:.-]/g, '').slice(0, 60)}`;
}

/** Shuffled copy (Fisher-Yates) with `random` in [0, 1). */
export function shuffled(xs, random = Math.random) {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** How many requests each of `turns` turns runs so they add up to `total`. */
export function splitEvenly(total, turns) {
  const base = Math.floor(total / turns);
  return Array.from({ length: turns }, (_, i) => base + (i < total % turns ? 1 : 0));
}
