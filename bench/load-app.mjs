/**
 * One app instance of the load benchmark (bench/load.mjs forks two per candidate, behind its proxy):
 * Express 5, one candidate mounted at the root, sessions in the shared Redis (connect-redis, one redis
 * client per instance, the candidate's own database number so keys can be counted per candidate).
 *
 * argv[2]: JSON { candidate, baseURL (the proxy's origin), issuer, clientID, clientSecret, redisURL, db }.
 *
 *   express-par   express-session + RedisStore, parAuth() defaults; GET /page = requiresAuth() +
 *                 req.oidc.user; GET /token = req.oidc.getAccessToken({ minTtl: 2 h })
 *   handwritten   express-session + RedisStore, the hand-written PAR flow of handwritten.mjs; GET /page =
 *                 its session check; GET /token = its refresh, the stored token marked expired first
 *   eoc           express-openid-connect with `session.store` = a RedisStore (its session server-side in
 *                 the same Redis, as the other two; the login's transaction stays in its cookie);
 *                 GET /token = req.oidc.accessToken.refresh()
 *   eoc-cookie    express-openid-connect with its default encrypted cookie session (no Redis)
 *
 * Every login asks for offline_access with prompt=consent (oidc-provider issues a refresh token only
 * then, OIDC Core §11), so every login goes through the provider's (scripted) consent interaction.
 *
 * The refresh. The provider's access tokens live 1 h. express-par: a minTtl of 2 h cannot be met by the
 * login's token, so getAccessToken() refreshes; a token it renewed itself is then returned for 10 s
 * (nothing could satisfy that minTtl), but every cycle of a virtual user starts from a new login, so each
 * /token is one refresh grant. The hand-written flow refreshes when less than 60 s remain: its stored
 * token is marked expired first (its own session field). EOC has no minTtl: refresh() outright. The
 * driver checks that every /token answers a new access token.
 *
 * IPC: sends `{ port }` once listening; `{ cmd: 'stats' }` answers `{ cpu, rss, heapUsed, errors }`
 * (process.cpuUsage(), bytes, errors seen by the error handler). Exits when the parent disconnects.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import session from 'express-session';
import { expireAccessToken, handwrittenAuth, sessionCheck } from './handwritten.mjs';

const require = createRequire(import.meta.url);
const SCOPE = 'openid profile email offline_access';
const PROMPT = 'consent';
const SECRET = 'bench-load-session-secret-0123456789abcdef';
/** Above the provider's access-token lifetime (1 h): the login's token never satisfies it. */
const MIN_TTL = 2 * 3600;

async function redisStore(config) {
  const [{ createClient }, { RedisStore }] = await Promise.all([import('redis'), import('connect-redis')]);
  const client = createClient({ url: `${config.redisURL}/${config.db}` });
  client.on('error', (err) => process.stderr.write(`[load-app ${config.candidate}] redis: ${err.message}\n`));
  await client.connect();
  return new RedisStore({ client });
}

const expressSession = (store) =>
  session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'app.sid', store });

async function expressPar(app, config) {
  const { parAuth, requiresAuth } = await import('../dist/esm/index.js');
  app.use(expressSession(await redisStore(config)));
  const { issuer, baseURL, clientID, clientSecret } = config;
  const authorizationParams = { scope: SCOPE, prompt: PROMPT };
  app.use(parAuth({ issuerBaseURL: issuer, baseURL, clientID, clientSecret, authorizationParams }));
  app.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
  app.get('/token', async (req, res) => res.json({ accessToken: await req.oidc.getAccessToken({ minTtl: MIN_TTL }) }));
}

async function handwritten(app, config) {
  app.use(expressSession(await redisStore(config)));
  app.use('/token', (req, _res, next) => (expireAccessToken(req.session), next()));
  const { issuer, baseURL, clientID, clientSecret } = config;
  app.use(await handwrittenAuth({ issuer, baseURL, clientID, clientSecret, scope: SCOPE, prompt: PROMPT }));
  app.get('/page', sessionCheck, (_req, res) => res.json({ sub: res.locals.claims.sub }));
}

async function eoc(app, config) {
  const { auth, requiresAuth } = require('express-openid-connect');
  const store = config.candidate === 'eoc' ? { session: { store: await redisStore(config) } } : {};
  app.use(
    auth({
      issuerBaseURL: config.issuer,
      baseURL: config.baseURL,
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      secret: SECRET,
      authRequired: false,
      idpLogout: false,
      pushedAuthorizationRequests: true,
      clientAuthMethod: 'client_secret_basic',
      authorizationParams: { response_type: 'code', scope: SCOPE, prompt: PROMPT },
      ...store,
    }),
  );
  app.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
  app.get('/token', async (req, res) => res.json({ accessToken: (await req.oidc.accessToken.refresh()).access_token }));
}

const BUILDERS = { 'express-par': expressPar, handwritten, eoc, 'eoc-cookie': eoc };

async function main() {
  const config = JSON.parse(process.argv[2]);
  const build = BUILDERS[config.candidate];
  if (!build) throw new TypeError(`load-app: unknown candidate ${config.candidate}`);
  const app = express();
  await build(app, config);
  let errors = 0;
  app.use((err, _req, res, _next) => {
    errors++;
    if (errors <= 3) process.stderr.write(`[load-app ${config.candidate}] ${err.code ?? ''} ${err.message}\n`);
    res.status(typeof err.status === 'number' ? err.status : 500).json({ error: String(err.code ?? 'error') });
  });
  const server = http.createServer(app);
  // The proxy keeps its connections open for the whole run: no idle-close races (as app.mjs).
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('message', (msg) => {
    if (msg?.cmd !== 'stats') return;
    const { rss, heapUsed } = process.memoryUsage();
    process.send({ cpu: process.cpuUsage(), rss, heapUsed, errors });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ port: server.address().port });
}

if (process.send) await main();
