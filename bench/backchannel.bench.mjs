#!/usr/bin/env node
/**
 * What back-channel logout costs a signed-in request: `requiresAuth()` + `req.oidc.user` with
 * `backchannelLogout: true` (the login's sub and sid records, answered from the per-store cache for
 * `maxStaleness`, 1 s by default, else read from the store in parallel) against the same page without it,
 * and both against a bare express-session check. A fourth candidate turns the cache off (`maxStaleness:
 * 0`: two store reads on every request), which is also what a session costs whose previous request is
 * older than maxStaleness. One process, one MemoryStore, one signed-in session; candidates interleaved
 * in rounds; the median of per-round CPU ratios is reported (the client runs in the same process, so
 * every candidate carries the same client cost). Run after `npm run build`:
 *
 *   npm run bench:backchannel [-- --rounds 10 --requests 4000]
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import express from 'express';
import session from 'express-session';
import signature from 'cookie-signature';
import { parAuth, requiresAuth } from '../dist/esm/index.js';
import { signInKey } from '../dist/esm/state/layout.js';

const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, requests: { type: 'string', default: '4000' } } });
const ROUNDS = Number(opts.rounds);
const REQUESTS = Number(opts.requests);
const SECRET = 'bench-backchannel-session-secret-0123456789';
const ISSUER = 'https://op.example';
const CLIENT = 'bench-client';

const store = new session.MemoryStore();
const app = express();
app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store, name: 'app.sid' }));
const options = { issuerBaseURL: ISSUER, baseURL: 'http://127.0.0.1', clientID: CLIENT, clientSecret: 'bench-secret-0123456789abcdef0123456789' };
const plain = express.Router();
plain.use(parAuth(options));
plain.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
const withLogout = express.Router();
withLogout.use(parAuth({ ...options, backchannelLogout: true }));
withLogout.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
const uncached = express.Router();
uncached.use(parAuth({ ...options, backchannelLogout: { maxStaleness: 0 } }));
uncached.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
app.use('/p', plain);
app.use('/b', withLogout);
app.use('/u', uncached);
app.get('/s/page', (req, res) => (req.session.par ? res.json({ sub: 'user' }) : res.status(401).end()));

const server = http.createServer(app);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;

// One signed-in session, as a login at this sign-in leaves it (the ID token is not checked on this path).
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const idToken = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ iss: ISSUER, sub: 'user-1', aud: CLIENT, iat: now, exp: now + 3600, sid: 'op-session' })}.${randomBytes(256).toString('base64url')}`;
const sid = randomBytes(24).toString('base64url');
const login = { idToken, accessToken: randomBytes(32).toString('base64url'), tokenType: 'Bearer', expiresAt: now + 3600, loginAt: now };
await new Promise((resolve, reject) => store.set(sid, { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }, par: { [signInKey(ISSUER, CLIENT)]: { login } } }, (err) => (err ? reject(err) : resolve())));
const cookie = `app.sid=${encodeURIComponent(`s:${signature.sign(sid, SECRET)}`)}`;

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function get(path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent, headers: { cookie } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

const candidates = {
  'session check': '/s/page',
  'requiresAuth()': '/p/page',
  'requiresAuth() + backchannelLogout: true': '/b/page',
  'requiresAuth() + backchannelLogout, maxStaleness: 0': '/u/page',
};
async function measure(path, count) {
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) await get(path);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / count;
}

for (const path of Object.values(candidates)) await measure(path, 500); // warm-up
const perRound = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const names = Object.keys(candidates);
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + round) % names.length];
    perRound[name].push(await measure(candidates[name], REQUESTS));
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ratio = (a, b) => median(perRound[a].map((value, i) => value / perRound[b][i]));
const lines = [
  `${ROUNDS} rounds of ${REQUESTS} requests per candidate (interleaved); CPU per request in this process (server and client).`,
  '',
  '| candidate | µs CPU per request (median) | ÷ session check | ÷ requiresAuth() |',
  '|---|---:|---:|---:|',
];
for (const name of Object.keys(candidates)) {
  lines.push(`| ${name} | ${median(perRound[name]).toFixed(1)} | ${ratio(name, 'session check').toFixed(3)} | ${ratio(name, 'requiresAuth()').toFixed(3)} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
agent.destroy();
server.close();
