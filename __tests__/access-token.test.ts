/**
 * req.oidc.getAccessToken(): self-renewing access tokens against oidc-provider with refresh-token
 * rotation (a reused refresh token is refused), and against the faulty server for failures and the
 * OpenID Connect Core §12.2 checks of a refreshed ID token (conformance suite refresh-token modules).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import { parAuth, type ParEvent } from '../lib/index.js';
import { listen, startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, HOSTILE_TIMEOUT_MS, type HostileApp } from './helpers/hostile.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';
import { createGate, mountTokenRoutes, type HeldGate } from './helpers/token-routes.js';

const LARGE = 10 * 24 * 3600; // longer than any access token lives: every call must refresh
const events: ParEvent[] = [];
let provider: TestProvider;
let app: TestApp;
let gate: HeldGate | undefined;
// Two instances of one app sharing one session store (as behind a load balancer).
const sharedStore = new session.MemoryStore();
const instances: Array<{ url: string; close(): Promise<void> }> = [];
let faulty: FaultyServer;
let faultyApp: TestApp;

const options = (issuer: string, baseURL: string) => ({
  issuerBaseURL: issuer,
  baseURL,
  clientID: TEST_CLIENT_ID,
  clientSecret: TEST_CLIENT_SECRET,
  // oidc-provider issues refresh tokens for offline_access with prompt=consent
  authorizationParams: { scope: 'openid profile email offline_access', prompt: 'consent' },
});

function sharedInstance() {
  return listen((baseURL) => {
    const a = express();
    a.use(session({ secret: 'shared-secret', resave: false, saveUninitialized: false, name: 'shared.sid', store: sharedStore }));
    a.use(parAuth({ ...options(provider.issuer, baseURL), routes: { callback: '/callback' } }));
    mountTokenRoutes(a, { gate: () => gate });
    a.use(((err, _req, res, _next) => {
      res.status(err.status ?? 500).json({ code: err.code });
    }) as express.ErrorRequestHandler);
    return a;
  });
}

beforeAll(async () => {
  app = await startApp((a, baseURL) => {
    a.use(parAuth({ ...options(provider.issuer, baseURL), onEvent: (event) => events.push(event) }));
    mountTokenRoutes(a, { gate: () => gate });
  });
  instances.push(await sharedInstance(), await sharedInstance());
  provider = await startProvider({
    redirectUris: [app.url, ...instances.map((i) => i.url)].map((u) => `${u}/callback`),
    configure: (config) => {
      config.rotateRefreshToken = true; // every refresh returns a new refresh token; a reused one is refused
    },
  });
  faulty = await startFaultyServer();
  faultyApp = await startApp((a, baseURL) => {
    a.use(parAuth({ issuerBaseURL: faulty.issuer, baseURL, clientID: faulty.clientId, clientSecret: faulty.clientSecret, httpTimeout: HOSTILE_TIMEOUT_MS }));
    mountTokenRoutes(a);
  });
});
afterAll(async () => {
  await Promise.all([app.close(), faultyApp.close(), ...instances.map((i) => i.close())]);
  await Promise.all([provider.close(), faulty.close()]);
});

async function loggedIn(url = app.url) {
  const browser = new TestBrowser();
  const start = await browser.get(`${url}/login`);
  await browser.get(await completeProviderLogin(browser, start.location!));
  return browser;
}

async function tokens(browser: TestBrowser, url = app.url) {
  return JSON.parse((await browser.get(`${url}/tokens`)).body) as { authenticated: boolean; sub?: string; accessToken?: string; refreshToken?: string; visits?: number };
}

async function getToken(browser: TestBrowser, minTtl?: number, url = app.url) {
  const res = await browser.get(`${url}/token${minTtl === undefined ? '' : `?minTtl=${minTtl}`}`);
  return { status: res.status, body: JSON.parse(res.body) as { accessToken?: string; code?: string } };
}

const refreshGrants = () => provider.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length;

describe('getAccessToken() against oidc-provider with rotateRefreshToken', () => {
  it('returns the stored token while it lasts for minTtl, without a refresh', async () => {
    const browser = await loggedIn();
    const before = refreshGrants();
    const { status, body } = await getToken(browser);
    expect(status).toBe(200);
    expect(body.accessToken).toBe((await tokens(browser)).accessToken);
    expect(refreshGrants()).toBe(before);
  });

  it('10 parallel calls of one session cause exactly one refresh grant, and a later refresh still succeeds', async () => {
    const browser = await loggedIn();
    const first = await tokens(browser);
    const before = refreshGrants();
    const refreshedBefore = events.filter((e) => e.type === 'token.refreshed').length;
    const answers = await Promise.all(Array.from({ length: 10 }, () => getToken(browser, LARGE)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(refreshGrants() - before).toBe(1);
    expect(events.filter((e) => e.type === 'token.refreshed').length - refreshedBefore).toBe(1);
    const tokenSet = new Set(answers.map((a) => a.body.accessToken));
    expect(tokenSet.size).toBe(1);
    expect(tokenSet.has(first.accessToken)).toBe(false);
    const stored = await tokens(browser);
    expect(stored.accessToken).toBe(answers[0]!.body.accessToken);
    expect(stored.refreshToken).not.toBe(first.refreshToken); // the rotated one is stored
    // A token renewed moments ago is returned, not refreshed again, though it cannot last LARGE seconds.
    expect(await getToken(browser, LARGE)).toEqual({ status: 200, body: { accessToken: stored.accessToken } });
    expect(refreshGrants() - before).toBe(1);
    // With rotation, a stale refresh token would be refused (and oidc-provider would revoke the grant).
    const later = await browser.post(`${app.url}/refresh`, {});
    expect(later.status).toBe(200);
    expect(refreshGrants() - before).toBe(2);
    expect(await getToken(browser)).toEqual({ status: 200, body: { accessToken: JSON.parse(later.body).accessToken } });
    expect((await tokens(browser)).sub).toBe('alice');
  });

  it('a request that loaded the session before a refresh does not write the old refresh token back', async () => {
    const browser = await loggedIn();
    const first = await tokens(browser);
    gate = createGate();
    const held = browser.get(`${app.url}/hold`);
    await gate.entered; // its session (with the first refresh token) is loaded
    const refreshed = await getToken(browser, LARGE);
    expect(refreshed.status).toBe(200);
    gate.release();
    expect((await held).status).toBe(200);
    gate = undefined;
    const stored = await tokens(browser);
    expect(stored.visits).toBe(1); // the held request's own change was saved
    expect(stored.refreshToken).not.toBe(first.refreshToken);
    expect(stored.accessToken).toBe(refreshed.body.accessToken);
    expect((await browser.post(`${app.url}/refresh`, {})).status).toBe(200); // the stored refresh token is the live one
  });

  it('with two instances on one session store, a stale request on one does not undo the other\'s refresh', async () => {
    const one = instances[0]!;
    const two = instances[1]!;
    const browser = await loggedIn(one.url);
    const first = await tokens(browser, two.url);
    expect(first.authenticated).toBe(true);
    gate = createGate();
    const held = browser.get(`${two.url}/hold`); // instance two loads the session
    await gate.entered;
    const refreshed = await getToken(browser, LARGE, one.url); // instance one refreshes and saves
    expect(refreshed.status).toBe(200);
    gate.release();
    expect((await held).status).toBe(200);
    gate = undefined;
    const stored = await tokens(browser, two.url);
    expect(stored.visits).toBe(1);
    expect(stored.refreshToken).not.toBe(first.refreshToken);
    expect(stored.accessToken).toBe(refreshed.body.accessToken);
    expect((await browser.post(`${two.url}/refresh`, {})).status).toBe(200);
  });

  it('a revoked refresh token ends the login: 401 login_required, then not authenticated', async () => {
    const browser = await loggedIn();
    const { refreshToken } = await tokens(browser);
    await (await provider.provider.RefreshToken.find(refreshToken)).destroy();
    const res = await getToken(browser, LARGE);
    expect(res).toEqual({ status: 401, body: expect.objectContaining({ code: 'login_required' }) });
    expect(JSON.stringify(res.body)).not.toContain(refreshToken!);
    expect(await tokens(browser)).toMatchObject({ authenticated: false });
    expect((await getToken(browser)).status).toBe(401);
  });

  it('without a login: 401 login_required', async () => {
    const res = await getToken(new TestBrowser());
    expect(res).toEqual({ status: 401, body: expect.objectContaining({ code: 'login_required' }) });
  });

  it('refuses a minTtl that is not a number of seconds', async () => {
    const browser = await loggedIn();
    const res = await getToken(browser, -1);
    expect(res.status).toBe(500);
  });
});

describe('getAccessToken() against a failing server (the login stays)', () => {
  beforeEach(() => faulty.reset());

  async function faultyLogin() {
    const browser = new TestBrowser();
    const run = await attemptLogin(faulty, browser, faultyApp as HostileApp);
    expect(run.final.status).toBe(302);
    return browser;
  }

  it('a token endpoint that does not answer gives 504 upstream_timeout', async () => {
    const browser = await faultyLogin();
    faulty.fault.token = { hang: true };
    const res = await getToken(browser, LARGE, faultyApp.url);
    expect(res).toEqual({ status: 504, body: expect.objectContaining({ code: 'upstream_timeout' }) });
    expect(await tokens(browser, faultyApp.url)).toMatchObject({ authenticated: true, sub: 'user-123' });
  });

  it('a token endpoint that answers 500 gives 502 token_exchange_failed', async () => {
    const browser = await faultyLogin();
    faulty.fault.token = { status: 500, body: '<html>down</html>' };
    const res = await getToken(browser, LARGE, faultyApp.url);
    expect(res).toEqual({ status: 502, body: expect.objectContaining({ code: 'token_exchange_failed' }) });
    expect(await tokens(browser, faultyApp.url)).toMatchObject({ authenticated: true });
  });

  it('a token endpoint error other than invalid_grant gives 502 token_exchange_failed', async () => {
    const browser = await faultyLogin();
    faulty.fault.token = { error: 'invalid_request', errorDescription: 'try <b>later</b>' };
    const res = await getToken(browser, LARGE, faultyApp.url);
    expect(res).toEqual({ status: 502, body: expect.objectContaining({ code: 'token_exchange_failed' }) });
    expect(JSON.stringify(res.body)).not.toMatch(/[<>]/);
    expect(await tokens(browser, faultyApp.url)).toMatchObject({ authenticated: true });
  });

  it('an oversized token response gives 502 upstream_response_too_large', async () => {
    const browser = await faultyLogin();
    faulty.fault.token = { huge: { bytes: 2 * 1024 * 1024 } };
    const res = await getToken(browser, LARGE, faultyApp.url);
    expect(res).toEqual({ status: 502, body: expect.objectContaining({ code: 'upstream_response_too_large' }) });
    expect(await tokens(browser, faultyApp.url)).toMatchObject({ authenticated: true });
  });

  it('oidcc-client-test-refresh-token', async () => {
    const browser = await faultyLogin();
    const before = await tokens(browser, faultyApp.url);
    const res = await getToken(browser, LARGE, faultyApp.url);
    expect(res.status).toBe(200);
    expect(res.body.accessToken).not.toBe(before.accessToken);
    expect(faulty.requestsTo('/token').at(-1)?.body).toMatchObject({ grant_type: 'refresh_token', refresh_token: before.refreshToken });
  });

  // OpenID Connect Core §12.2: the refreshed ID token must agree with the original one.
  const cases: Array<[string, (server: FaultyServer) => void]> = [
    ['oidcc-client-test-refresh-token-invalid-issuer', (s) => { s.idTokenClaims = { iss: 'https://issuer.example' }; }],
    ['oidcc-client-test-refresh-token-invalid-sub', (s) => { s.sub = 'someone-else'; }],
    ['oidcc-client-test-refresh-token-invalid-aud', (s) => { s.idTokenClaims = { aud: 'another-client' }; }],
    // as the suite's AddInvalidAzpValueToIdToken: a random azp where the original ID token had none
    ['oidcc-client-test-refresh-token-invalid-azp', (s) => { s.idTokenClaims = { azp: 'random_azp_value_Xq3vT9LmP2' }; }],
  ];
  for (const [name, shape] of cases) {
    it(name, async () => {
      const browser = await faultyLogin();
      const before = await tokens(browser, faultyApp.url);
      shape(faulty);
      const res = await getToken(browser, LARGE, faultyApp.url);
      expect(res).toEqual({ status: 502, body: expect.objectContaining({ code: 'id_token_invalid' }) });
      // the refreshed tokens are not used: the stored login is the original one
      expect(await tokens(browser, faultyApp.url)).toMatchObject({ authenticated: true, sub: 'user-123', accessToken: before.accessToken });
    });
  }
});
