#!/usr/bin/env node
/**
 * Splits a bench app's `.cpuprofile` by candidate: the app (run with BENCH_CPU_PROF=1) records when each
 * slice began and ended (`marks.<pid>.json` beside the profile), and every sample is charged to the
 * slice it fell in. Candidates of one run share the process, its JIT state and its moments of load, so
 * their profiles compare function by function. Only one-in-flight slices count (the cost measure), unless
 * `--in-flight N` picks the slices run N in flight (bench.mjs's --concurrency). Warm-ups are left out.
 *
 *   BENCH_CPU_PROF=1 BENCH_CPU_PROF_INTERVAL=200 node bench/bench.mjs --rounds 1 --logins 1000 \
 *     --paths login --candidates express-par,handwritten
 *   node bench/profile-split.mjs bench/results/profiles [--a express-par --b handwritten] [--top 40] [--in-flight 1]
 *
 * Prints, per function (self time, grouped like profile-summary.mjs's --by function), µs per operation
 * for a and b and the difference, largest differences first.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    a: { type: 'string', default: 'express-par' },
    b: { type: 'string', default: 'handwritten' },
    top: { type: 'string', default: '40' },
    'in-flight': { type: 'string', default: '1' },
  },
});
const dir = positionals[0] ?? 'bench/results/profiles';

function nameOf(frame) {
  const { url, functionName, lineNumber } = frame.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return name; // (garbage collector), (program), (idle), native
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}: ${name}`;
  }
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return `express-par ${url.slice(dist + '/dist/'.length).replace(/^(esm|cjs)\//, '')}: ${name}`;
  if (url.startsWith('node:')) return `${url}: ${name}`;
  return `${url.slice(url.lastIndexOf('/') + 1)}:${lineNumber}: ${name}`;
}

const files = await readdir(dir);
const totals = { [opts.a]: new Map(), [opts.b]: new Map() };
const ops = { [opts.a]: 0, [opts.b]: 0 };
for (const file of files.filter((f) => f.endsWith('.cpuprofile'))) {
  const pid = file.split('.')[3];
  const marksFile = files.find((f) => f === `marks.${pid}.json`);
  if (!marksFile) throw new Error(`no marks.${pid}.json beside ${file}`);
  const marks = JSON.parse(await readFile(join(dir, marksFile), 'utf8'));
  // [start µs, end µs, candidate] of each slice of a or b run --in-flight (default one) in flight.
  const windows = [];
  for (let i = 0; i + 1 < marks.length; i++) {
    const [start, mark] = marks[i];
    if (!mark || mark.warmup || mark.concurrency !== Number(opts['in-flight']) || !(mark.candidate in totals) || marks[i + 1][1] !== null) continue;
    windows.push([start, marks[i + 1][0], mark.candidate]);
    ops[mark.candidate] += mark.total;
  }
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let t = profile.startTime;
  let w = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const dt = profile.timeDeltas[i + 1] ?? 0; // the time until the next sample is this sample's
    while (w < windows.length && windows[w][1] < t) w++;
    if (w === windows.length || windows[w][0] > t) continue;
    const name = nameOf(byId.get(profile.samples[i]));
    if (name === '(idle)') continue;
    const m = totals[windows[w][2]];
    m.set(name, (m.get(name) ?? 0) + dt);
  }
}

const a = totals[opts.a];
const b = totals[opts.b];
const per = (m, k, n) => (m.get(k) ?? 0) / n;
const sum = (m, n) => [...m.values()].reduce((x, y) => x + y, 0) / n;
console.log(`${opts.a}: ${ops[opts.a]} ops, ${sum(a, ops[opts.a]).toFixed(0)} µs/op sampled; ${opts.b}: ${ops[opts.b]} ops, ${sum(b, ops[opts.b]).toFixed(0)} µs/op sampled\n`);
console.log(`| ${opts.a} µs/op | ${opts.b} µs/op | difference | function (self time) |`);
console.log('|---:|---:|---:|---|');
const rows = [...new Set([...a.keys(), ...b.keys()])].map((k) => [k, per(a, k, ops[opts.a]), per(b, k, ops[opts.b])]);
rows.sort((x, y) => Math.abs(y[1] - y[2]) - Math.abs(x[1] - x[2]));
for (const [k, x, y] of rows.slice(0, Number(opts.top))) console.log(`| ${x.toFixed(1)} | ${y.toFixed(1)} | ${(x - y).toFixed(1)} | ${k} |`);
