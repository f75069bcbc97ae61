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
 *   passthrough          /sp    the same check behind one `router.use((req, res, next) => next())`: what
 *                               Express charges a page for any app.use() middleware, parAuth() included
 *   session-claims       /sc    /sc/page: an app's own session check reading the claims its login stored in
 *                               the session (`req.session.oidc.claims`, the hand-written flow's session:
 *                               its tokens and the ID token's claims), no decoding
 *   express-par-dpop     /dpop  parAuth({ dpop: true }) (a fresh ES256 key per session, RFC 9449)
 *   handwritten          /hw    the minimal hand-written PAR flow of handwritten.mjs
 *   handwritten-dpop     /hwd   that flow with a fresh DPoP key per login (its `dpop: true`)
 *   handwritten-dpop-jkt /hwj   the same with `dpop_jkt` alone at PAR, no proof there (RFC 9449 §10.1;
 *                               `dpop: 'jkt'`): what the PAR proof the contract asks for costs a login
 *   express-par-control  /ctl   express-par again (a second instance): an A/A control
 *   base, base-dpop      /base, /base-dpop  express-par (and with dpop) from BENCH_BASE_DIST, another build
 *   express-par-redis    /pr    parAuth() defaults on express-session with a RedisStore (connect-redis),
 *                               the production setup; its own session middleware and cookie `app.rsid`
 *   handwritten-redis    /hwr   the hand-written flow on that same Redis session
 *   express-par-refresh  /pt    parAuth() asking for offline_access (prompt=consent, so the provider issues
 *                               a refresh token); /pt/token = req.oidc.getAccessToken() on a stale token
 *   handwritten-refresh  /hwt   the hand-written flow asking for offline_access; /hwt/token its refresh
 *   eoc-refresh          /eoct  express-openid-connect asking for offline_access (cookie `eocRefresh`);
 *                               /eoct/token = req.oidc.accessToken.refresh()
 * Every other mount but eoc sits after one express-session middleware (one MemoryStore, cookie
 * `app.sid`). The Redis mounts come before it, each with a session middleware of its own on the mount:
 * their requests never reach the MemoryStore one (which would skip anyway, req.session being set).
 * Each mount answers `GET <mount>/me` (who is signed in).
 *
 * The refresh mounts' `GET <mount>/token` first marks the session's access token as expired (as an hour
 * after the login): getAccessToken({ minTtl }) with a minTtl above the token's lifetime would refresh
 * once and then return the just-renewed token for 10 s (express-par's JUST_RENEWED_MS: no refresh can
 * satisfy such a minTtl), so only an expired token makes every call a refresh. Each answers
 * `{ accessToken }`; the driver checks it is a new one every time.
 *
 * IPC: sends `{ port, baseURL }` once listening; then
 *   `{ cmd: 'start', issuer, clientID, clientSecret, redisURL }` builds the app (redisURL: only with a
 *     Redis mount), answers `{ started: true }`;
 *   `{ cmd: 'snapshot', gc }` (gc: a young-generation collection first, so a slice does not pay for
 *     the previous one's short-lived garbage; see sweepYoung) answers `{ cpu, main, rss, peakRss, errors, alloc }` (main: the main thread's CPU µs, see mainThreadCpuUs;
 *     alloc: bytes allocated since start, see allocatedBytes);
 *     peakRss is the process's peak so far;
 *   `{ cmd: 'memory' }` collects garbage and answers `{ memory, store }`: process.memoryUsage() and the
 *     MemoryStore's session count and bytes (sid + JSON);
 *   `{ cmd: 'clear-store' }` empties the MemoryStore.
 * The app runs with --expose-gc.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import express from 'express';
import session from 'express-session';
import { expireAccessToken, handwrittenAuth, loginClaims, sessionCheck, storedClaimsCheck } from './handwritten.mjs';

export const MOUNTS = {
  eoc: '/eoc',
  'express-par': '/p',
  'session-check': '/s',
  passthrough: '/sp',
  'session-claims': '/sc',
  'express-par-dpop': '/dpop',
  handwritten: '/hw',
  'handwritten-dpop': '/hwd',
  'handwritten-dpop-jkt': '/hwj',
  'express-par-control': '/ctl',
  base: '/base',
  'base-dpop': '/base-dpop',
  'express-par-redis': '/pr',
  'handwritten-redis': '/hwr',
  'express-par-refresh': '/pt',
  'handwritten-refresh': '/hwt',
  'eoc-refresh': '/eoct',
};

const require = createRequire(import.meta.url);
const SCOPE = 'openid profile email';
// oidc-provider keeps offline_access (and so issues a refresh token) only with prompt=consent (OIDC Core §11).
const OFFLINE = { scope: `${SCOPE} offline_access`, prompt: 'consent' };
const isRedis = (id) => id.endsWith('-redis');
const isRefresh = (id) => id.endsWith('-refresh');
const SECRET = 'bench-app-session-secret-0123456789abcdef';

async function main() {
  const candidates = JSON.parse(process.argv[2]);
  const server = http.createServer();
  server.keepAliveTimeout = 10 * 60_000; // as in provider.mjs: no idle-close races with the browsers
  await new Promise((resolve) => server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  let errors = 0;
  const marks = process.env.BENCH_PROFILE_DIR ? [] : null;
  const store = new session.MemoryStore();

  async function parRouter(id, { issuer, clientID, clientSecret }) {
    const dist = id.startsWith('base') ? pathToFileURL(join(process.env.BENCH_BASE_DIST, 'esm', 'index.js')).href : '../dist/esm/index.js';
    const { parAuth, requiresAuth } = await import(dist);
    const router = express.Router();
    const dpop = id.endsWith('-dpop') ? { dpop: true } : {};
    const authorizationParams = isRefresh(id) ? OFFLINE : { scope: SCOPE };
    router.use(parAuth({ issuerBaseURL: issuer, baseURL: `${origin}${MOUNTS[id]}`, clientID, clientSecret, authorizationParams, ...dpop }));
    router.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
    // The default minTtl (60 s): the token was just marked expired, so this refreshes (see the top).
    if (isRefresh(id)) router.get('/token', expireToken, async (req, res) => res.json({ accessToken: await req.oidc.getAccessToken() }));
    router.get('/me', (req, res) => res.json({ sub: req.oidc.isAuthenticated() ? req.oidc.user.sub : null }));
    return router;
  }

  /** The session's access token, as an hour after the login: expired (see the top). */
  function expireToken(req, _res, next) {
    expireAccessToken(req.session);
    next();
  }

  function eocRouter(id, config) {
    const { auth, requiresAuth } = require('express-openid-connect');
    const router = express.Router();
    router.use(
      auth({
        issuerBaseURL: config.issuer,
        baseURL: `${origin}${MOUNTS[id]}`,
        clientID: config.clientID,
        clientSecret: config.clientSecret,
        secret: SECRET,
        authRequired: false,
        idpLogout: false,
        pushedAuthorizationRequests: true,
        clientAuthMethod: 'client_secret_basic',
        authorizationParams: { response_type: 'code', ...(isRefresh(id) ? OFFLINE : { scope: SCOPE }) },
        // Its own cookie: both eoc mounts' cookies have path '/'.
        ...(isRefresh(id) ? { session: { name: 'eocRefresh' } } : {}),
      }),
    );
    router.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user.sub }));
    router.get('/me', (req, res) => res.json({ sub: req.oidc.isAuthenticated() ? req.oidc.user.sub : null }));
    // eoc has no minTtl: code would call refresh() when accessToken.isExpired(), so this calls it outright.
    if (isRefresh(id)) router.get('/token', async (req, res) => res.json({ accessToken: (await req.oidc.accessToken.refresh()).access_token }));
    return router;
  }

  async function handwrittenRouter(id, config) {
    const router = await handwrittenAuth({ ...config, baseURL: `${origin}${MOUNTS[id]}`, scope: isRefresh(id) ? OFFLINE.scope : SCOPE, prompt: isRefresh(id) ? OFFLINE.prompt : undefined, dpop: id.endsWith('-dpop-jkt') ? 'jkt' : id.endsWith('-dpop') });
    router.get('/me', (req, res) => res.json({ sub: loginClaims(req.session)?.sub ?? null }));
    return router;
  }

  /** The express-par or hand-written router of a mount on the MemoryStore session or its own Redis session. */
  const routerOf = (id, config) => (id.startsWith('handwritten') ? handwrittenRouter(id, config) : parRouter(id, config));

  async function build(config) {
    const app = express();
    const redisIds = candidates.filter(isRedis);
    if (redisIds.length > 0) {
      const [{ createClient }, { RedisStore }] = await Promise.all([import('redis'), import('connect-redis')]);
      const client = createClient({ url: config.redisURL });
      client.on('error', (err) => process.stderr.write(`[app] redis: ${err.message}\n`));
      await client.connect();
      // One store (one connection) for the Redis mounts, as an app would have; default prefix and TTL.
      const redisSession = session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'app.rsid', store: new RedisStore({ client }) });
      for (const id of redisIds) app.use(MOUNTS[id], redisSession, await routerOf(id, config));
    }
    for (const id of candidates.filter((c) => c === 'eoc' || c === 'eoc-refresh')) app.use(MOUNTS[id], eocRouter(id, config));
    app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'app.sid', store }));
    for (const id of candidates) {
      if (id === 'eoc' || id === 'eoc-refresh' || isRedis(id)) continue;
      let router;
      if (id === 'session-check' || id === 'passthrough') {
        router = express.Router();
        if (id === 'passthrough') router.use((_req, _res, next) => next());
        router.get('/page', sessionCheck, (_req, res) => res.json({ sub: res.locals.claims.sub }));
      } else if (id === 'session-claims') {
        router = express.Router();
        router.get('/page', storedClaimsCheck, (_req, res) => res.json({ sub: res.locals.claims.sub }));
      } else {
        router = await routerOf(id, config);
      }
      if (id === 'handwritten-refresh') app.use(`${MOUNTS[id]}/token`, expireToken);
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

  /**
   * A scavenge only, not a full GC: a full collection also frees the hidden classes (maps) of the
   * request, session and login objects no request holds at that moment, and V8 then throws away every
   * optimised function that used them ("weak objects" deoptimisations) and compiles it again during the
   * next slice. With a full GC before every slice, an in-process page loop re-optimised ~100 functions
   * per slice and cost ~2x the steady state (about 800 µs against 370 µs per page), and a candidate was
   * charged in proportion to how many functions its path has rather than to what they do. A scavenge
   * clears what the previous slice left in the young generation and leaves compiled code alone.
   */
  async function sweepYoung() {
    globalThis.gc?.({ type: 'minor' });
    await tick();
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
      if (msg.gc) await sweepYoung();
      const alloc = allocatedBytes();
      // With --cpu-prof: when each slice began and ended, to split the profile by candidate (profile-split.mjs).
      if (marks && msg.mark !== undefined) marks.push([Number(process.hrtime.bigint() / 1000n), msg.mark]);
      // Peak RSS from getrusage: sampling memoryUsage.rss() costs ~0.1-0.2 ms a call.
      process.send({ cpu: process.cpuUsage(), main: mainThreadCpuUs(), rss: process.memoryUsage.rss(), peakRss: process.resourceUsage().maxRSS * 1024, errors, alloc });
    } else if (msg?.cmd === 'memory') {
      process.send(await memory());
    } else if (msg?.cmd === 'heap-sample') {
      process.send(await heapSample(msg));
    } else if (msg?.cmd === 'clear-store') {
      store.clear(() => process.send({ cleared: true }));
    }
  });
  process.on('disconnect', () => {
    if (marks) writeFileSync(join(process.env.BENCH_PROFILE_DIR, `marks.${process.pid}.json`), JSON.stringify(marks));
    process.exit(0);
  });
  process.send({ port: server.address().port, baseURL: origin });
}

/**
 * Bytes the JavaScript heap has allocated since the app started: the heap in use now, plus what every
 * collection so far freed (v8.GCProfiler reports each collection's heap before and after). Unlike CPU
 * time it does not depend on the machine's load, so a slice's difference is a near-deterministic measure
 * of the garbage a candidate's operations make (whatever the GC then costs on the helper threads).
 */
const gcProfiler = new v8.GCProfiler();
gcProfiler.start();
let freedBytes = 0;
function allocatedBytes() {
  for (const gc of gcProfiler.stop()?.statistics ?? []) {
    freedBytes += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
  }
  gcProfiler.start();
  return freedBytes + v8.getHeapStatistics().used_heap_size;
}

let inspector;
/**
 * `{ start: true }` starts V8's sampling heap profiler with the objects later collected kept (every
 * allocation counts, not only what survives); `{ stop: true, file }` writes the .heapprofile (Chrome
 * DevTools, or `bench/alloc-split.mjs`) and answers `{ written }`. For finding what a path allocates.
 */
async function heapSample({ start, file }) {
  if (!inspector) {
    const { Session } = await import('node:inspector');
    inspector = new Session();
    inspector.connect();
  }
  const post = (method, params) => new Promise((resolve, reject) => inspector.post(method, params, (err, out) => (err ? reject(err) : resolve(out))));
  if (start) {
    await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return { started: true };
  }
  const { profile } = await post('HeapProfiler.stopSampling');
  writeFileSync(file, JSON.stringify(profile));
  return { written: file };
}

/**
 * CPU time of the main (JavaScript) thread alone, in µs: the first field of Linux's
 * /proc/<pid>/task/<pid>/schedstat (ns on the CPU). process.cpuUsage() also counts V8's and libuv's
 * helper threads (concurrent GC marking and sweeping, background compilation, the thread pool).
 * null where there is no such file.
 */
function mainThreadCpuUs() {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return null;
  }
}

if (process.send) await main();
