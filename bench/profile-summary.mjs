#!/usr/bin/env node
/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. `BENCH_CPU_PROF=express-par npm run bench`):
 * each sample is attributed to the nearest frame on its stack that is not Node's own code (`node:` URLs),
 * grouped by package (`express-session`, `jose`, …) or, for express-par, by `dist/` file. Also prints the
 * inclusive share of the functions named with `--fn` (time with that function anywhere on the stack).
 *
 *   node bench/profile-summary.mjs bench/results/profiles/CPU.*.cpuprofile [--fn jwtVerify,validateIdToken] [--top 25]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { fn: { type: 'string', default: '' }, top: { type: 'string', default: '25' }, by: { type: 'string', default: 'package' } },
});
if (positionals.length === 0) throw new TypeError('usage: profile-summary.mjs <file.cpuprofile> [--fn a,b] [--top N] [--by package|function]');

function groupOf(frame, by) {
  const { url, functionName } = frame.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return null;
  if (url.startsWith('node:')) return null;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    const pkg = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    return by === 'function' ? `${pkg}: ${name}` : pkg;
  }
  const dist = url.indexOf('/dist/');
  if (dist !== -1) {
    const file = url.slice(dist + '/dist/'.length).replace(/^(esm|cjs)\//, '');
    return by === 'function' ? `express-par ${file}: ${name}` : `express-par ${file}`;
  }
  const bench = url.indexOf('/bench/');
  if (bench !== -1) return `bench ${url.slice(bench + 1)}`;
  return url;
}

for (const file of positionals) {
  const profile = JSON.parse(await readFile(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const wanted = opts.fn ? opts.fn.split(',') : [];
  const self = new Map();
  const inclusive = new Map(wanted.map((w) => [w, 0]));
  let total = 0;
  let idle = 0;
  const cache = new Map();
  const attribute = (id) => {
    if (cache.has(id)) return cache.get(id);
    const node = byId.get(id);
    const special = node.callFrame.functionName;
    let result;
    if (special === '(garbage collector)' || special === '(program)' || special === '(idle)') result = { group: special, stack: new Set() };
    else {
      let group = null;
      const stack = new Set();
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
        const frame = byId.get(cur);
        stack.add(frame.callFrame.functionName);
        if (group === null) group = groupOf(frame, opts.by);
      }
      result = { group: group ?? '(node core, no library frame)', stack };
    }
    cache.set(id, result);
    return result;
  };
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const { group, stack } = attribute(profile.samples[i]);
    const dt = deltas[i + 1] ?? deltas[i] ?? 0;
    if (group === '(idle)') {
      idle += dt;
      continue;
    }
    total += dt;
    self.set(group, (self.get(group) ?? 0) + dt);
    for (const w of wanted) if (stack.has(w)) inclusive.set(w, inclusive.get(w) + dt);
  }
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle`);
  console.log('\n| share | self time attributed to |\n|---:|---|');
  for (const [group, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(opts.top))) {
    console.log(`| ${((100 * t) / total).toFixed(1)}% | ${group} |`);
  }
  if (wanted.length > 0) {
    console.log('\n| share | inclusive (function anywhere on the stack) |\n|---:|---|');
    for (const [w, t] of inclusive) console.log(`| ${((100 * t) / total).toFixed(1)}% | ${w} |`);
  }
}
