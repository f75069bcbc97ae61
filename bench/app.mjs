/**
 * The benchmark app: one process (Express 5) hosting every candidate on its own mount path, so the
 * candidates of a round share one process: `process.cpuUsage()` deltas around a phase are that
 * candidate's cost, and differences between processes (placement, JIT) cancel out of every ratio. The
 * provider and the benchmark browsers run in other processes.
 *
 * argv[2]: JSON array of candidate ids; argv[3]: the port to listen on (0: any).
 *
 *   eoc                  /eoc   express-openid-connect with its own encrypted cookie session (mounted
 *                               before express-session, which it does not use), configured like
 *                               express-par: PAR, response_type code (PKCE S256), client_secret_basic
 *   express-par          /p     parAuth() defaults on express-session (MemoryStore): PAR, PKCE S256,
 *                               client_secret_basic; /p/page = requiresAuth() + req.oidc.user
 *   session-check        /s     /s/page: a bare express-session check of the same session (no parAuth)
 *   express-par-dpop     /dpop  parAuth({ dpop: true }) (a fresh ES256 key per session, RFC 9449)
 *   handwritten          /hw    the minimal hand-written PAR flow of handwritten.mjs
 *   express-par-control  /ctl   express-par again (a second instance): an A/A control
 *   base, base-dpop      /base, /base-dpop  express-par (and with dpop) from BENCH_BASE_DIST, another build
 * Every mount but eoc sits after one express-session middleware (one MemoryStore, cookie `app.sid`).
 * Each mount answers `GET <mount>/me` (who is signed in).
 *
 * IPC: sends `{ port, baseURL }` once listening; then
 *   `{ cmd: 'start', issuer, clientID, clientSecret }` builds the app, answers `{ started: true }`;
 *   `{ cmd: 'snapshot', gc }` (gc: collect garbage first, so a phase does not pay for the previous
 *     one's garbage) answers `{ cpu, rss, peakRss, errors }`; peakRss is the process's peak so far;
 *   `{ cmd: 'memory' }` collects garbage and answers `{ memory, store }`: process.memoryUsage() and the
 *     MemoryStore's session count and bytes (sid + JSON);
 *   `{ cmd: 'clear-store' }` empties the MemoryStore.
 * The app runs with --expose-gc.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import express from 'express';
import session from 'express-session';
import { handwrittenAuth, loginClaims, sessionCheck } from './handwritten.mjs';

export const MOUNTS = {
  eoc: '/eoc',
  'express-par': '/p',
  'session-check': '/s',
  'express-par-dpop': '/dpop',
  handwritten: '/hw',
  'express-par-control': '/ctl',
  base: '/base',
  'base-dpop': '/base-dpop',
};

const require = createRequire(import.meta.url);
const SCOPE = 'openid profile email';
const SECRET = 'bench-app-session-secret-0123456789abcdef';

async function main() {
  const candidates = JSON.parse(process.argv[2]);
  const server = http.createServer();
  server.keepAliveTimeout = 10 * 60_000; // as in provider.mjs: no idle-close races with the browsers
  await new Promise((resolve) => server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  let errors = 0;
  const store = new session.MemoryStore();

  async function parRouter(id, { issuer, clientID, clientSecret }) {
    const dist = id.startsWith('base') ? pathToFileURL(join(process.env.BENCH_BASE_DIST, 'esm', 'index.js')).href : '../dist/esm/index.js';
    const { parAuth, requiresAuth } = await import(dist);
    const router = express.Router();
    const dpop = id.endsWith('-dpop') ? { dpop: true } : {};
    router.use(parAuth({ issuerBaseURL: issuer, baseURL: `${origin}${MOUNTS[id]}`, clientID, clientSecret, authorizationParams: { scope: SCOPE }, ...dpop }));
    router.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
    router.get('/me', (req, res) => res.json({ sub: req.oidc.isAuthenticated() ? req.oidc.user.sub : null }));
    return router;
  }

  async function build(config) {
    const app = express();
    if (candidates.includes('eoc')) {
      const { auth, requiresAuth } = require('express-openid-connect');
      const router = express.Router();
      router.use(
        auth({
          issuerBaseURL: config.issuer,
          baseURL: `${origin}${MOUNTS.eoc}`,
          clientID: config.clientID,
          clientSecret: config.clientSecret,
          secret: SECRET,
          authRequired: false,
          idpLogout: false,
          pushedAuthorizationRequests: true,
          clientAuthMethod: 'client_secret_basic',
          authorizationParams: { response_type: 'code', scope: SCOPE },
        }),
      );
      router.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
      router.get('/me', (req, res) => res.json({ sub: req.oidc.isAuthenticated() ? req.oidc.user.sub : null }));
      app.use(MOUNTS.eoc, router);
    }
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'app.sid', store }));
    for (const id of candidates) {
      if (id === 'eoc') continue;
      let router;
      if (id === 'session-check') {
        router = express.Router();
        router.get('/page', sessionCheck, (req, res) => res.json({ sub: loginClaims(req.session).sub }));
      } else if (id === 'handwritten') {
        router = await handwrittenAuth({ ...config, baseURL: `${origin}${MOUNTS.handwritten}`, scope: SCOPE });
        router.get('/me', (req, res) => res.json({ sub: loginClaims(req.session)?.sub ?? null }));
      } else {
        router = await parRouter(id, config);
      }
      app.use(MOUNTS[id], router);
    }
    app.use((err, _req, res, _next) => {
      errors++;
      if (errors <= 3) process.stderr.write(`[app] ${err.code ?? ''} ${err.message}\n`);
      res.status(typeof err.status === 'number' ? err.status : 500).json({ error: String(err.code ?? err.message) });
    });
    server.on('request', app);
  }

  async function collect() {
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.();
      await tick();
    }
  }

  async function memory() {
    await collect();
    let count = 0;
    let bytes = 0;
    for (const [sid, json] of Object.entries(store.sessions)) {
      count++;
      bytes += sid.length + json.length;
    }
    return { memory: process.memoryUsage(), store: candidates.includes('eoc') ? null : { count, bytes } };
  }

  process.on('message', async (msg) => {
    if (msg?.cmd === 'start') {
      await build(msg);
      process.send({ started: true });
    } else if (msg?.cmd === 'snapshot') {
      if (msg.gc) await collect();
      // Peak RSS from getrusage: sampling memoryUsage.rss() costs ~0.1-0.2 ms a call.
      process.send({ cpu: process.cpuUsage(), rss: process.memoryUsage.rss(), peakRss: process.resourceUsage().maxRSS * 1024, errors });
    } else if (msg?.cmd === 'memory') {
      process.send(await memory());
    } else if (msg?.cmd === 'clear-store') {
      store.clear(() => process.send({ cleared: true }));
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ port: server.address().port, baseURL: origin });
}

if (process.send) await main();
