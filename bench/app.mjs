/**
 * One benchmark app in its own process: Express 5 + one login library, so `process.cpuUsage()` of this
 * process is the cost of that library, Express and its session handling (the provider and the benchmark
 * browser run in other processes).
 *
 * Variants (argv[2]):
 *   express-par       express-session (MemoryStore) + parAuth() defaults: PAR, PKCE S256, client_secret_basic
 *   express-par-dpop  the same with `dpop: true` (a fresh ES256 key per session, RFC 9449)
 *   eoc               express-openid-connect with its own encrypted cookie session, configured like
 *                     express-par: PAR, response_type code (PKCE S256), client_secret_basic, idpLogout off
 *
 * IPC: sends `{ port, baseURL }` once listening; then `{ cmd: 'start', issuer, clientID, clientSecret }`
 * builds the app (answers `{ started: true }`) and `{ cmd: 'cpu' }` answers `{ cpu, memory, errors }`.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import session from 'express-session';

const require = createRequire(import.meta.url);
const variant = process.argv[2];
const SCOPE = 'openid profile email';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseURL = `http://127.0.0.1:${server.address().port}`;
let errors = 0;

async function build({ issuer, clientID, clientSecret }) {
  const app = express();
  if (variant === 'eoc') {
    const { auth } = require('express-openid-connect');
    app.use(
      auth({
        issuerBaseURL: issuer,
        baseURL,
        clientID,
        clientSecret,
        secret: 'bench-app-session-secret-0123456789abcdef',
        authRequired: false,
        idpLogout: false,
        pushedAuthorizationRequests: true,
        clientAuthMethod: 'client_secret_basic',
        authorizationParams: { response_type: 'code', scope: SCOPE },
      }),
    );
  } else {
    const { parAuth } = await import('../dist/esm/index.js');
    app.use(session({ secret: 'bench-app-session-secret-0123456789abcdef', resave: false, saveUninitialized: false, name: 'app.sid' }));
    app.use(
      parAuth({
        issuerBaseURL: issuer,
        baseURL,
        clientID,
        clientSecret,
        authorizationParams: { scope: SCOPE },
        ...(variant === 'express-par-dpop' ? { dpop: true } : {}),
      }),
    );
  }
  app.get('/me', (req, res) => {
    res.json({ sub: req.oidc.isAuthenticated() ? req.oidc.user.sub : null });
  });
  app.use((err, _req, res, _next) => {
    errors++;
    if (errors <= 3) process.stderr.write(`[${variant}] ${err.code ?? ''} ${err.message}\n`);
    res.status(typeof err.status === 'number' ? err.status : 500).json({ error: String(err.code ?? err.message) });
  });
  server.on('request', app);
}

process.on('message', async (msg) => {
  if (msg?.cmd === 'start') {
    await build(msg);
    process.send({ started: true });
  } else if (msg?.cmd === 'cpu') {
    process.send({ cpu: process.cpuUsage(), memory: process.memoryUsage().heapUsed, errors });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ port: server.address().port, baseURL });
