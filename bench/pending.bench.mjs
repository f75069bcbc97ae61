#!/usr/bin/env node
/**
 * express-par only: the cost of one login in a fresh session vs in a session that already holds
 * `--pending` unfinished logins (other tabs: GET /login whose redirect was never followed).
 *
 *   node bench/pending.bench.mjs [--pending 10] [--logins 200] [--rounds 3] [--variant express-par]
 *
 * Sequential, fresh and pending logins alternating; latency and app CPU are measured around the final,
 * complete login only (the unfinished /login requests before it are not counted). Same processes as
 * bench.mjs.
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Browser, login } from './browser.mjs';
import { MOUNTS } from './app.mjs';
import { CLIENT_ID, CLIENT_SECRET } from './provider.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    pending: { type: 'string', default: '10' },
    logins: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    variant: { type: 'string', default: 'express-par' },
  },
});

function spawnChild(file, args) {
  const child = fork(join(here, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return { child, first: new Promise((resolve) => child.once('message', resolve)) };
}
const ask = (child, cmd, extra = {}) =>
  new Promise((resolve) => {
    child.once('message', resolve);
    child.send({ cmd, ...extra });
  });

const app = spawnChild('app.mjs', [JSON.stringify([opts.variant]), '0']);
const { baseURL: origin } = await app.first;
const baseURL = `${origin}${MOUNTS[opts.variant]}`;
const op = spawnChild('provider.mjs', [JSON.stringify({ redirectUris: [`${baseURL}/callback`] })]);
const { issuer } = await op.first;
await ask(app.child, 'start', { issuer, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET });

const browser = new Browser();
const appOrigin = new URL(baseURL).origin;

const other = new Browser();

/**
 * One measured login after `pending` unfinished ones in the same (fresh) session, or, as a control
 * (`elsewhere`), after as many unfinished ones in another browser's session: the same work just before,
 * but nothing pending in the measured session.
 */
async function measured(pending, elsewhere = false) {
  browser.clear(appOrigin);
  other.clear(appOrigin);
  for (let i = 0; i < pending; i++) {
    const res = await (elsewhere ? other : browser).get(`${baseURL}/login`);
    if (res.status !== 302) throw new Error(`/login answered ${res.status}`);
  }
  const before = await ask(app.child, 'snapshot');
  const t0 = performance.now();
  await login(browser, baseURL, { freshSession: false });
  const ms = performance.now() - t0;
  const after = await ask(app.child, 'snapshot');
  return { ms, cpu: (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system) / 1000 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
for (let i = 0; i < 100; i++) await measured(i % 2 ? Number(opts.pending) : 0); // warm-up
const PENDING = Number(opts.pending);
for (let round = 0; round < Number(opts.rounds); round++) {
  // Alternating fresh and pending logins, so a change in machine load hits both alike.
  const runs = { fresh: [], pending: [], control: [] };
  for (let i = 0; i < Number(opts.logins); i++) {
    runs.fresh.push(await measured(0));
    runs.pending.push(await measured(PENDING));
    runs.control.push(await measured(PENDING, true));
  }
  const line = (name, label) => {
    const r = runs[name];
    return `${label}: ${mean(r.map((x) => x.ms)).toFixed(2)} ms mean, ${median(r.map((x) => x.ms)).toFixed(2)} ms p50, app CPU ${mean(r.map((x) => x.cpu)).toFixed(2)} ms/login`;
  };
  console.log(`round ${round + 1}\n  ${line('fresh', 'fresh session')}\n  ${line('pending', `${PENDING} pending in the session`)}\n  ${line('control', `${PENDING} unfinished /login in another session just before`)}`);
}
app.child.disconnect();
op.child.disconnect();
