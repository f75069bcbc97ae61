/**
 * One benchmark app in its own process: Express 5 + one login implementation, so `process.cpuUsage()` of
 * this process is the cost of that implementation, Express and its session handling (the provider and
 * the benchmark browsers run in other processes).
 *
 * Variants (argv[2]):
 *   express-par       express-session (MemoryStore) + parAuth() defaults: PAR, PKCE S256, client_secret_basic
 *   express-par-dpop  the same with `dpop: true` (a fresh ES256 key per session, RFC 9449)
 *   handwritten       express-session (MemoryStore) + the minimal hand-written PAR flow of handwritten.mjs
 *   base, base-dpop   express-par and express-par-dpop from another build: BENCH_BASE_DIST=<a dist/ directory>
 *   eoc               express-openid-connect with its own encrypted cookie session, configured like
 *                     express-par: PAR, response_type code (PKCE S256), client_secret_basic, idpLogout off
 *
 * Routes besides the login routes: `GET /page`, the authenticated page (express-par and eoc:
 * `requiresAuth()` + `req.oidc.user`; handwritten: a bare session check), and `GET /me` (who is signed in).
 *
 * IPC: sends `{ port, baseURL }` once listening; then
 *   `{ cmd: 'start', issuer, clientID, clientSecret }` builds the app, answers `{ started: true }`;
 *   `{ cmd: 'snapshot' }` answers `{ cpu, rss, peakRss, errors }`: peakRss is the process's peak RSS so far;
 *   `{ cmd: 'memory' }` collects garbage (the app runs with --expose-gc) and answers `{ memory, store }`:
 *     process.memoryUsage() and the MemoryStore's session count and bytes (sid + JSON);
 *   `{ cmd: 'clear-store' }` empties the MemoryStore.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import express from 'express';
import session from 'express-session';
import { handwrittenAuth, sessionCheck } from './handwritten.mjs';

const require = createRequire(import.meta.url);
const variant = process.argv[2];
const SCOPE = 'openid profile email';
const SECRET = 'bench-app-session-secret-0123456789abcdef';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseURL = `http://127.0.0.1:${server.address().port}`;
let errors = 0;
const store = new session.MemoryStore();

async function build({ issuer, clientID, clientSecret }) {
  const app = express();
  const expressSession = () => session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'app.sid', store });
  let page;
  if (variant === 'eoc') {
    const { auth, requiresAuth } = require('express-openid-connect');
    app.use(
      auth({
        issuerBaseURL: issuer,
        baseURL,
        clientID,
        clientSecret,
        secret: SECRET,
        authRequired: false,
        idpLogout: false,
        pushedAuthorizationRequests: true,
        clientAuthMethod: 'client_secret_basic',
        authorizationParams: { response_type: 'code', scope: SCOPE },
      }),
    );
    page = [requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub })];
  } else if (variant === 'handwritten') {
    app.use(expressSession());
    // The session-only baseline: nothing between express-session and the page (the login routes after it).
    app.get('/page', sessionCheck, (req, res) => res.json({ sub: req.session.oidc.claims.sub }));
    app.use(await handwrittenAuth({ issuer, baseURL, clientID, clientSecret, scope: SCOPE }));
  } else {
    // base / base-dpop: the same from another build (BENCH_BASE_DIST, e.g. an earlier commit's dist/).
    const base = variant.startsWith('base');
    const { parAuth, requiresAuth } = await import(base ? pathToFileURL(join(process.env.BENCH_BASE_DIST, 'esm', 'index.js')).href : '../dist/esm/index.js');
    app.use(expressSession());
    app.use(parAuth({ issuerBaseURL: issuer, baseURL, clientID, clientSecret, authorizationParams: { scope: SCOPE }, ...(variant.endsWith('-dpop') ? { dpop: true } : {}) }));
    page = [requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub })];
  }
  if (page) app.get('/page', ...page);
  app.get('/me', (req, res) => {
    const sub = variant === 'handwritten' ? req.session.oidc?.claims.sub : req.oidc.isAuthenticated() ? req.oidc.user.sub : undefined;
    res.json({ sub: sub ?? null });
  });
  app.use((err, _req, res, _next) => {
    errors++;
    if (errors <= 3) process.stderr.write(`[${variant}] ${err.code ?? ''} ${err.message}\n`);
    res.status(typeof err.status === 'number' ? err.status : 500).json({ error: String(err.code ?? err.message) });
  });
  server.on('request', app);
}

async function memory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await tick();
  }
  let count = 0;
  let bytes = 0;
  for (const [sid, json] of Object.entries(store.sessions)) {
    count++;
    bytes += sid.length + json.length;
  }
  return { memory: process.memoryUsage(), store: variant === 'eoc' ? null : { count, bytes } };
}

process.on('message', async (msg) => {
  if (msg?.cmd === 'start') {
    await build(msg);
    process.send({ started: true });
  } else if (msg?.cmd === 'snapshot') {
    // Peak RSS from getrusage (the process's peak so far): sampling memoryUsage.rss() costs ~0.1-0.2 ms a call.
    process.send({ cpu: process.cpuUsage(), rss: process.memoryUsage.rss(), peakRss: process.resourceUsage().maxRSS * 1024, errors });
  } else if (msg?.cmd === 'memory') {
    process.send(await memory());
  } else if (msg?.cmd === 'clear-store') {
    store.clear(() => process.send({ cleared: true }));
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ port: server.address().port, baseURL });
