import './helpers/capture-logs.js'; // first: turns the debug log on before lib/ loads
/**
 * The README's promises, one test each, written so that removing the behaviour fails the test. The
 * documented numbers are stated here as numbers (10 transactions, 15 minutes, 512 KiB, 256 KiB, 30 s,
 * 32 bytes), never imported from lib/.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { generateKeyPairSync } from './helpers/keys.js';
import { checkProvider, requiresAuth } from '../lib/index.js';
import { resolveConfig } from '../lib/config/resolve.js';
import type { ParAuthConfig } from '../lib/core/types.js';
import { TestBrowser } from './helpers/browser.js';
import { type FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, expectFailure, hostileLogin, startHostileApp, useFaultyServer, whoami, type HostileApp } from './helpers/hostile.js';

const MAX_PENDING = 10;
const LIFETIME_MS = 15 * 60 * 1000;
const KIB = 1024;

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});
afterEach(() => {
  jest.restoreAllMocks();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Moves Date.now (the library's, jose's and the faulty server's clock) by `ms` from here on. */
function shiftClock(ms: number): void {
  jest.restoreAllMocks(); // first, so the clock read below is the real one
  const realNow = Date.now.bind(Date);
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);
}

async function loggedIn(app: HostileApp, browser = new TestBrowser()): Promise<TestBrowser> {
  const run = await attemptLogin(server, browser, app);
  expect(run.final.status).toBe(302);
  expect((await whoami(app, browser)).authenticated).toBe(true);
  return browser;
}

describe('auth_time is checked when max_age was requested (Core §3.1.3.7)', () => {
  const options = { authorizationParams: { scope: 'openid', max_age: 60 } };

  it('pushes max_age and accepts an ID token whose auth_time is within it', async () => {
    const run = await hostileLogin(server, { options, idTokenClaims: { auth_time: nowSeconds() - 50 } });
    expect(server.requestsTo('/par')[0]!.body.max_age).toBe('60');
    expect(run.final.status).toBe(302);
    expect(run.loggedIn).toBe(true);
  });

  it('refuses an ID token without auth_time', async () => {
    const run = await hostileLogin(server, { options });
    expectFailure(run, server, 'callback', 502, 'id_token_invalid');
    expect(run.error!.message).toContain('auth_time');
  });

  it('refuses an auth_time older than max_age plus the clock tolerance (60 + 30 s)', async () => {
    const run = await hostileLogin(server, { options, idTokenClaims: { auth_time: nowSeconds() - 60 - 30 - 5 } });
    expectFailure(run, server, 'callback', 502, 'id_token_invalid');
    expect(run.error!.message).toContain('auth_time');
  });

  it('does not ask for auth_time when max_age was not requested', async () => {
    const run = await hostileLogin(server, {});
    expect(run.loggedIn).toBe(true);
  });
});

describe('logout regenerates the session (fixation)', () => {
  it('gives the browser a new session id and the old id no longer holds a login', async () => {
    const app = await startHostileApp(server);
    const browser = await loggedIn(app);
    const before = browser.cookies('127.0.0.1')['app.sid'];
    expect(before).toBeDefined();
    const res = await browser.get(`${app.url}/logout`);
    expect(res.status).toBe(302);
    const after = browser.cookies('127.0.0.1')['app.sid'];
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect((await whoami(app, browser)).authenticated).toBe(false);
    // Whoever kept the old cookie finds no login and no session behind it.
    const old = await fetch(`${app.url}/whoami`, { headers: { cookie: `app.sid=${before}` } });
    expect(await old.json()).toMatchObject({ authenticated: false, pending: 0 });
  });
});

describe('a refreshed ID token must be about the same user (Core §12.2)', () => {
  const refreshRoute = (a: import('express').Express) => {
    a.get('/refresh', (req, res, next) => {
      req.oidc.refresh().then(() => res.json({ sub: req.oidc.user?.sub, accessToken: req.oidc.accessToken }), next);
    });
  };

  it('stores the new tokens when the sub is the same', async () => {
    const app = await startHostileApp(server, {}, refreshRoute);
    const browser = await loggedIn(app);
    const res = await browser.get(`${app.url}/refresh`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ sub: 'user-123' });
    expect(server.requestsTo('/token').map((r) => r.body.grant_type)).toEqual(['authorization_code', 'refresh_token']);
  });

  it('refuses a refreshed ID token about another sub and keeps the stored login unchanged', async () => {
    const app = await startHostileApp(server, {}, refreshRoute);
    const browser = await loggedIn(app);
    server.idTokenClaims.sub = 'someone-else';
    const res = await browser.get(`${app.url}/refresh`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'id_token_invalid' });
    expect(JSON.parse(res.body).message).toContain('sub');
    expect(await whoami(app, browser)).toMatchObject({ authenticated: true, sub: 'user-123' });
  });
});

describe('login transactions: at most 10 pending, each for 15 minutes', () => {
  it('keeps the newest 10 of 11 logins: the oldest is refused, the second oldest completes', async () => {
    const app = await startHostileApp(server);
    const browser = new TestBrowser();
    const starts: string[] = [];
    for (let i = 0; i < MAX_PENDING + 1; i++) starts.push((await browser.get(`${app.url}/login`)).location!);
    expect((await whoami(app, browser)).pending).toBe(10);
    const oldest = await browser.get((await browser.get(starts[0]!)).location!);
    expect(oldest.status).toBe(400);
    expect(JSON.parse(oldest.body)).toMatchObject({ code: 'state_mismatch' });
    const second = await browser.get((await browser.get(starts[1]!)).location!);
    expect(second.status).toBe(302);
    expect(await whoami(app, browser)).toMatchObject({ authenticated: true, pending: 9 });
  });

  async function callbackAfter(ms: number) {
    server.codeLifetimeMs = 2 * LIFETIME_MS; // the server's code outlives the test's clock jump
    const app = await startHostileApp(server);
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/login`);
    const callback = (await browser.get(start.location!)).location!;
    shiftClock(ms);
    return { res: await browser.get(callback), app, browser };
  }

  it('completes a login whose callback arrives 14 min 59 s after it started', async () => {
    const { res, app, browser } = await callbackAfter(LIFETIME_MS - 1000);
    expect(res.status).toBe(302);
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });

  it('refuses a login whose callback arrives 15 min after it started, before redeeming the code', async () => {
    const { res, app, browser } = await callbackAfter(LIFETIME_MS);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'state_mismatch' });
    expect(server.requestsTo('/token')).toHaveLength(0);
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });
});

describe('response size caps: 512 KiB, and 256 KiB for the JWKS', () => {
  it('reads a token response of exactly 512 KiB (then finds it has no ID token)', async () => {
    const run = await hostileLogin(server, { faults: { token: { huge: { bytes: 512 * KIB } } } });
    expectFailure(run, server, 'callback', 502, 'token_response_invalid');
  });

  it.each([false, true])('drops a token response of 512 KiB + 1 byte (declared length: %s)', async (declareLength) => {
    const run = await hostileLogin(server, { preLogin: true, faults: { token: { huge: { bytes: 512 * KIB + 1, declareLength } } } });
    expectFailure(run, server, 'callback', 502, 'upstream_response_too_large');
  });

  it('reads a JWKS response of exactly 256 KiB (then finds it is no key set)', async () => {
    const run = await hostileLogin(server, { faults: { jwks: { huge: { bytes: 256 * KIB } } } });
    expectFailure(run, server, 'callback', 502, 'jwks_failed');
  });

  it.each([false, true])('drops a JWKS response of 256 KiB + 1 byte (declared length: %s)', async (declareLength) => {
    const run = await hostileLogin(server, { faults: { jwks: { huge: { bytes: 256 * KIB + 1, declareLength } } } });
    expectFailure(run, server, 'callback', 502, 'upstream_response_too_large');
  });

  it('drops a metadata document of 512 KiB + 1 byte', async () => {
    const run = await hostileLogin(server, { faults: { discovery: { huge: { bytes: 512 * KIB + 1 } } } });
    expectFailure(run, server, 'login', 502, 'upstream_response_too_large');
  });
});

describe('the JWKS is refetched at once for an unknown kid, at most 5 times a minute', () => {
  it('accepts a rotated key on first use, then lets unknown kids cost at most 5 refetches a rolling minute', async () => {
    const app = await startHostileApp(server);
    await loggedIn(app);
    expect(server.requestsTo('/jwks')).toHaveLength(1);
    await server.rotateSigningKey();
    shiftClock(1_000); // no pause after the last fetch is needed
    const rotated = await hostileLogin(server, { app });
    expect(rotated.loggedIn).toBe(true);
    expect(server.requestsTo('/jwks')).toHaveLength(2);

    for (let i = 0; i < 6; i++) {
      const run = await hostileLogin(server, { app, faults: { idToken: (c, sign) => sign(c, { key: 'foreign', kid: `unknown-${i}` }) } });
      expectFailure(run, server, 'callback', 502, 'id_token_invalid');
    }
    // the rotation's refetch and 4 of the 6 unknown kids: 5 in the minute, then none
    expect(server.requestsTo('/jwks')).toHaveLength(6);

    shiftClock(61_000);
    const later = await hostileLogin(server, { app, faults: { idToken: (c, sign) => sign(c, { key: 'foreign', kid: 'unknown-later' }) } });
    expectFailure(later, server, 'callback', 502, 'id_token_invalid');
    expect(server.requestsTo('/jwks')).toHaveLength(7);
  });
});

describe('consent_required and interaction_required at the callback are 401 login_required', () => {
  it.each(['consent_required', 'interaction_required', 'login_required'])('maps error=%s to 401 login_required and ends the earlier login', async (error) => {
    const run = await hostileLogin(server, { preLogin: true, faults: { authorize: { error } } });
    expectFailure(run, server, 'callback', 401, 'login_required');
    expect(run.error).toMatchObject({ error });
  });

  it('keeps other errors 400 authorization_error', async () => {
    const run = await hostileLogin(server, { faults: { authorize: { error: 'invalid_scope' } } });
    expectFailure(run, server, 'callback', 400, 'authorization_error');
  });
});

describe('profile "fapi2": what the provider check treats as problems', () => {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const fapi2 = (): ParAuthConfig => ({ issuerBaseURL: server.issuer, baseURL: 'http://127.0.0.1:1', clientID: server.clientId, profile: 'fapi2', clientAssertionSigningKey: p256 });
  const dpopAlgs = { dpop_signing_alg_values_supported: ['ES256'] };

  it('passes a server with RFC 9207 iss and DPoP', async () => {
    server.fault.discovery = { merge: dpopAlgs };
    await expect(checkProvider(fapi2())).resolves.toMatchObject({ problems: [] });
  });

  it('fails a server without authorization_response_iss_parameter_supported (a warning without fapi2)', async () => {
    server.fault.discovery = { merge: { ...dpopAlgs, authorization_response_iss_parameter_supported: undefined } };
    await expect(checkProvider(fapi2())).rejects.toMatchObject({ code: 'provider_unsupported', status: 502, message: expect.stringContaining('authorization_response_iss_parameter_supported') });
    const plain = await checkProvider({ issuerBaseURL: server.issuer, baseURL: 'http://127.0.0.1:1', clientID: server.clientId, clientSecret: server.clientSecret });
    expect(plain.problems).toEqual([]);
    expect(plain.warnings).toEqual([expect.stringContaining('authorization_response_iss_parameter_supported')]);
  });

  it('fails a server that advertises no DPoP signing algorithms', async () => {
    await expect(checkProvider(fapi2())).rejects.toMatchObject({ code: 'provider_unsupported', message: expect.stringContaining('dpop_signing_alg_values_supported') });
  });
});

describe('afterCallback shapes what is stored', () => {
  it('stores what the (async) hook returns, and hands it the request and the validated login', async () => {
    const seen: Array<{ path: string; sub: unknown; hasIdToken: boolean }> = [];
    const app = await startHostileApp(server, {
      afterCallback: async (req, _res, session) => {
        seen.push({ path: req.path, sub: session.claims.sub, hasIdToken: typeof session.idToken === 'string' });
        const { refreshToken: _dropped, ...rest } = session;
        return { ...rest, claims: { ...session.claims, role: 'admin' } };
      },
    }, (a) => {
      a.get('/me', requiresAuth(), (req, res) => {
        res.json({ role: req.oidc.user?.role, refreshToken: req.oidc.refreshToken ?? null });
      });
    });
    const browser = await loggedIn(app);
    expect(seen).toEqual([{ path: '/callback', sub: 'user-123', hasIdToken: true }]);
    const me = await browser.get(`${app.url}/me`);
    expect(JSON.parse(me.body)).toEqual({ role: 'admin', refreshToken: null });
  });

  it('turns a throwing hook into the error and no login, also for a browser that was logged in', async () => {
    let fail = false;
    const app = await startHostileApp(server, {
      afterCallback: (_req, _res, session) => {
        if (fail) throw Object.assign(new Error('not allowed'), { status: 403, code: 'app_refused' });
        return session;
      },
    });
    const browser = await loggedIn(app);
    fail = true;
    const run = await attemptLogin(server, browser, app);
    expect(run.final.status).toBe(403);
    expect(JSON.parse(run.final.body)).toMatchObject({ code: 'app_refused' });
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });
});

describe('routes.login: false', () => {
  it('answers nothing at /login and makes requiresAuth() refuse browsers with 401 instead of redirecting', async () => {
    const app = await startHostileApp(server, { routes: { login: false } }, (a) => {
      a.get('/protected', requiresAuth(), (_req, res) => {
        res.json({ ok: true });
      });
    });
    const browser = new TestBrowser();
    const login = await browser.get(`${app.url}/login`);
    expect(login.status).toBe(404);
    expect(server.requestsTo('/par')).toHaveLength(0);
    const protectedPage = await browser.get(`${app.url}/protected`);
    expect(protectedPage.status).toBe(401);
    expect(JSON.parse(protectedPage.body)).toMatchObject({ code: 'login_required' });
    expect(protectedPage.location).toBeUndefined();
  });
});

describe('req.oidc.authorizationHeaders() for a Bearer login', () => {
  it('is exactly { authorization: "Bearer <access token>" }', async () => {
    const app = await startHostileApp(server, {}, (a) => {
      a.get('/headers', (req, res, next) => {
        req.oidc.authorizationHeaders('GET', 'https://api.example/orders').then((headers) => res.json({ headers, tokenType: req.oidc.tokenType }), next);
      });
    });
    const browser = await loggedIn(app);
    const issuedAccessToken = server.requestsTo('/token').length === 1 ? server.issued[1] : undefined;
    expect(issuedAccessToken).toEqual(expect.any(String));
    const res = await browser.get(`${app.url}/headers`);
    expect(JSON.parse(res.body)).toEqual({ headers: { authorization: `Bearer ${issuedAccessToken}` }, tokenType: 'Bearer' });
  });
});

describe('client_secret_jwt needs a secret of at least 32 bytes', () => {
  const options = (clientSecret: string): ParAuthConfig => ({ issuerBaseURL: 'https://op.example', baseURL: 'https://app.example', clientID: 'c', clientSecret, clientAuthMethod: 'client_secret_jwt' });

  it('accepts 32 bytes, also when they are 16 two-byte characters', () => {
    expect(resolveConfig(options('a'.repeat(32))).clientAuthMethod).toBe('client_secret_jwt');
    expect(resolveConfig(options('é'.repeat(16))).clientAuthMethod).toBe('client_secret_jwt');
  });

  it('throws a TypeError naming clientSecret for 31 bytes', () => {
    expect(() => resolveConfig(options('a'.repeat(31)))).toThrow(new TypeError('"clientSecret" must be at least 32 bytes for client_secret_jwt (HS256)'));
    expect(() => resolveConfig(options(`${'é'.repeat(15)}a`))).toThrow(TypeError);
  });

  it('does not apply the minimum to client_secret_basic', () => {
    expect(resolveConfig({ ...options('short'), clientAuthMethod: 'client_secret_basic' }).clientAuthMethod).toBe('client_secret_basic');
  });
});
