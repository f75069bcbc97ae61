import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type Express } from 'express';
import session from 'express-session';
import { checkProvider, parAuth, requiresAuth } from '../lib/index.js';
import { listen, startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

let provider: TestProvider;
let app: TestApp;

function options(baseURL: string) {
  return {
    issuerBaseURL: provider.issuer,
    baseURL,
    clientID: TEST_CLIENT_ID,
    clientSecret: TEST_CLIENT_SECRET,
    authorizationParams: { scope: 'openid profile email', audience: 'https://api.example.com', organization: 'org_123' },
  };
}

function mount(a: Express, baseURL: string) {
  a.use(parAuth(options(baseURL)));
  a.get('/me', requiresAuth(), (req, res) => {
    res.json({ user: req.oidc.user, idToken: !!req.oidc.idToken, accessToken: !!req.oidc.accessToken, refreshToken: req.oidc.refreshToken, expiresAt: req.oidc.expiresAt });
  });
  // An app that trims what it shows: its change stays in this request (the claims are decoded once per process).
  a.get('/trimmed', requiresAuth(), (req, res) => {
    const user = req.oidc.user!;
    delete user.email;
    user.sub = 'changed';
    res.json({ user: req.oidc.user });
  });
  a.get('/whoami', (req, res) => {
    res.json({ authenticated: req.oidc.isAuthenticated(), user: req.oidc.user ?? null });
  });
}

beforeAll(async () => {
  app = await startApp(mount);
  provider = await startProvider({ redirectUris: [`${app.url}/callback`], postLogoutRedirectUris: [`${app.url}/`] });
});
afterAll(async () => {
  await app.close();
  await provider.close();
});

async function startLogin(browser: TestBrowser, returnTo?: string) {
  const res = await browser.get(`${app.url}/login${returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`}`);
  expect(res.status).toBe(302);
  return res.location!;
}

async function login(browser: TestBrowser, returnTo = '/me') {
  const callbackUrl = await completeProviderLogin(browser, await startLogin(browser, returnTo));
  return { callbackUrl, callback: await browser.get(callbackUrl) };
}

async function whoami(browser: TestBrowser) {
  return JSON.parse((await browser.get(`${app.url}/whoami`)).body) as { authenticated: boolean; user: Record<string, unknown> | null };
}

describe('GET /login', () => {
  it('pushes the authorization request and redirects with only client_id and request_uri', async () => {
    const location = new URL(await startLogin(new TestBrowser()));
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(location.searchParams.get('client_id')).toBe(TEST_CLIENT_ID);
    const pushed = provider.pushedRequests.at(-1)!;
    expect(location.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(pushed).toMatchObject({ response_type: 'code', code_challenge_method: 'S256', redirect_uri: `${app.url}/callback`, scope: 'openid profile email' });
    expect(pushed.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pushed.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pushed.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pushed.code_verifier).toBeUndefined();
  });

  it('sends extra authorization parameters such as audience and organization to the server', async () => {
    await startLogin(new TestBrowser());
    expect(provider.pushedRequests.at(-1)).toMatchObject({ audience: 'https://api.example.com', organization: 'org_123' });
  });

  it('pushes a fresh request_uri for every login (RFC 9126 §7.3)', async () => {
    const browser = new TestBrowser();
    const first = new URL(await startLogin(browser)).searchParams.get('request_uri');
    const second = new URL(await startLogin(browser)).searchParams.get('request_uri');
    expect(first).not.toBe(second);
  });
});

describe('GET /callback', () => {
  it('logs the user in, exposes req.oidc and lands on returnTo', async () => {
    const browser = new TestBrowser();
    const { callback } = await login(browser, '/me?x=1#top');
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/me?x=1#top`);
    const me = JSON.parse((await browser.get(`${app.url}/me`)).body);
    expect(me.user).toMatchObject({ sub: 'alice', name: 'User alice', email: 'alice@example.com', iss: provider.issuer, aud: TEST_CLIENT_ID });
    expect(me).toMatchObject({ idToken: true, accessToken: true });
    expect(me.expiresAt).toBeGreaterThan(Date.now() / 1000);
  });

  it("keeps what a route changes in req.oidc.user to that request: the next request has the token's claims", async () => {
    const browser = new TestBrowser();
    await login(browser);
    const trimmed = JSON.parse((await browser.get(`${app.url}/trimmed`)).body);
    expect(trimmed.user).toMatchObject({ sub: 'changed' });
    expect(trimmed.user.email).toBeUndefined();
    for (let i = 0; i < 2; i++) {
      const me = JSON.parse((await browser.get(`${app.url}/me`)).body);
      expect(me.user).toMatchObject({ sub: 'alice', email: 'alice@example.com' });
    }
  });

  it('regenerates the session id when the login completes', async () => {
    const browser = new TestBrowser();
    const start = await startLogin(browser);
    const before = browser.cookies('127.0.0.1')['app.sid'];
    await browser.get(await completeProviderLogin(browser, start));
    const after = browser.cookies('127.0.0.1')['app.sid'];
    expect(before).toBeDefined();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('sends an off-site returnTo to / instead', async () => {
    const browser = new TestBrowser();
    const { callback } = await login(browser, 'https://evil.example/steal');
    expect(callback.location).toBe(`${app.url}/`);
    expect((await whoami(browser)).authenticated).toBe(true);
  });

  it('completes logins started in two tabs, in either order', async () => {
    const browser = new TestBrowser();
    const tabA = await startLogin(browser, '/a');
    const tabB = await startLogin(browser, '/b');
    const callbackB = await completeProviderLogin(browser, tabB);
    const callbackA = await completeProviderLogin(browser, tabA);
    expect((await browser.get(callbackB)).location).toBe(`${app.url}/b`);
    expect((await browser.get(callbackA)).location).toBe(`${app.url}/a`);
    expect((await whoami(browser)).authenticated).toBe(true);
  });

  it('refuses a replayed callback with state_mismatch and redeems the code once; the login it made stays (a replay is no login in progress)', async () => {
    const browser = new TestBrowser();
    const { callbackUrl, callback } = await login(browser);
    expect(callback.status).toBe(302);
    expect((await whoami(browser)).authenticated).toBe(true);
    const redeemed = provider.tokenRequests.length;
    const replay = await browser.get(callbackUrl);
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body).code).toBe('state_mismatch');
    expect(provider.tokenRequests).toHaveLength(redeemed);
    expect((await whoami(browser)).authenticated).toBe(true);
  });

  it('refuses a forged state with state_mismatch and does not log in', async () => {
    const browser = new TestBrowser();
    const callbackUrl = new URL(await completeProviderLogin(browser, await startLogin(browser)));
    callbackUrl.searchParams.set('state', 'A'.repeat(43));
    const res = await browser.get(callbackUrl.href);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe('state_mismatch');
    expect((await whoami(browser)).authenticated).toBe(false);
  });

  it('refuses a callback without state', async () => {
    const res = await new TestBrowser().get(`${app.url}/callback?code=abc`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe('state_missing');
  });

  it('does not log in a browser that replays a code and state issued to another browser', async () => {
    const victim = new TestBrowser();
    const callbackUrl = await completeProviderLogin(victim, await startLogin(victim));
    const attacker = new TestBrowser();
    await startLogin(attacker); // the attacker has a session with a transaction of its own
    const res = await attacker.get(callbackUrl);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe('state_mismatch');
    expect((await whoami(attacker)).authenticated).toBe(false);
  });

  it('does not log in when an attacker injects its own code into the victim\'s callback (PKCE)', async () => {
    const attacker = new TestBrowser();
    const attackerCallback = new URL(await completeProviderLogin(attacker, await startLogin(attacker), { login: 'mallory' }));
    const victim = new TestBrowser();
    const victimCallback = new URL(await completeProviderLogin(victim, await startLogin(victim)));
    victimCallback.searchParams.set('code', attackerCallback.searchParams.get('code')!);
    const res = await victim.get(victimCallback.href);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'token_exchange_failed' });
    expect((await whoami(victim)).authenticated).toBe(false);
  });

  it('reports a cancelled login as access_denied (403) and stays logged out', async () => {
    const browser = new TestBrowser();
    const callbackUrl = await completeProviderLogin(browser, await startLogin(browser), { cancel: true });
    const res = await browser.get(callbackUrl);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).code).toBe('access_denied');
    expect((await whoami(browser)).authenticated).toBe(false);
  });
});

describe('requiresAuth()', () => {
  it('redirects a browser to the login route with returnTo', async () => {
    const res = await new TestBrowser().get(`${app.url}/me?tab=2`);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${app.url}/login?returnTo=${encodeURIComponent('/me?tab=2')}`);
  });

  it('reports middleware_missing when parAuth() is not mounted before it', async () => {
    const bare = await startApp((a) => a.get('/private', requiresAuth(), (_req, res) => res.send('secret')));
    try {
      const res = await new TestBrowser().get(`${bare.url}/private`);
      expect(res.status).toBe(500);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'middleware_missing', message: expect.stringContaining('app.use(parAuth(') });
    } finally {
      await bare.close();
    }
  });

  it('answers 401 login_required to an API request', async () => {
    const res = await fetch(`${app.url}/me`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('login_required');
  });

  // Issue #25: one browser rule, attemptSilentLogin()'s. fetch() and curl send Accept: */* and get the 401
  // they can act on; a HEAD, a script or a frame is no page load either.
  it.each<[string, string, Record<string, string>]>([
    ['fetch() and curl (Accept: */*)', 'GET', { accept: '*/*' }],
    ['a HEAD, even one that asks for HTML', 'HEAD', { accept: 'text/html' }],
    ['a browser\'s fetch() (Sec-Fetch-Dest: empty)', 'GET', { accept: 'text/html', 'sec-fetch-dest': 'empty' }],
    ['a frame (Sec-Fetch-Dest: iframe)', 'GET', { accept: 'text/html', 'sec-fetch-dest': 'iframe' }],
    ['XHR, whatever the case of X-Requested-With', 'GET', { accept: 'text/html', 'x-requested-with': 'xmlhttprequest' }],
  ])('answers 401 login_required, not a redirect, to %s', async (_name, method, headers) => {
    const res = await fetch(`${app.url}/me`, { method, headers, redirect: 'manual' });
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 401, location: null });
    if (method === 'GET') expect(((await res.json()) as { code: string }).code).toBe('login_required');
  });

  it.each<[string, Record<string, string>]>([
    ['a browser\'s page load', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-dest': 'document', 'sec-fetch-mode': 'navigate' }],
    ['a page load without Fetch Metadata', { accept: 'text/html' }],
  ])('redirects %s to the login route', async (_name, headers) => {
    const res = await fetch(`${app.url}/me`, { headers, redirect: 'manual' });
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 302, location: `/login?returnTo=${encodeURIComponent('/me')}` });
  });
});

describe('GET /logout', () => {
  it('ends the login and redirects to the end_session_endpoint with id_token_hint', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const out = await browser.get(`${app.url}/logout`);
    expect(out.status).toBe(302);
    const location = new URL(out.location!);
    expect(location.origin).toBe(provider.issuer);
    expect(location.searchParams.get('client_id')).toBe(TEST_CLIENT_ID);
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/`);
    expect(location.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    expect((await whoami(browser)).authenticated).toBe(false);
  });

  it('redirects a browser that was not logged in to postLogoutRedirect', async () => {
    const out = await new TestBrowser().get(`${app.url}/logout`);
    expect(out.status).toBe(302);
    expect(out.location).toBe(`${app.url}/`);
  });
});

describe('setup problems', () => {
  it('explains how to add express-session when it is missing', async () => {
    const bare = await startApp((a, baseURL) => a.use(parAuth(options(baseURL))), { session: false });
    try {
      const res = await new TestBrowser().get(`${bare.url}/login`);
      expect(res.status).toBe(500);
      const body = JSON.parse(res.body);
      expect(body.code).toBe('session_unavailable');
      expect(body.message).toContain('express-session');
    } finally {
      await bare.close();
    }
  });

  it('reports session_save_failed when the session store cannot save, without redirecting', async () => {
    const store = new session.MemoryStore();
    store.set = (_sid, _data, cb) => cb?.(new Error('store down'));
    const broken = await listen(() => {
      const a = express();
      a.use(session({ secret: 's', resave: false, saveUninitialized: false, store }));
      a.use(parAuth(options(app.url))); // the registered redirect_uri, so the push itself succeeds
      a.use(((err, _req, res, _next) => {
        res.status(err.status ?? 500).json({ code: err.code });
      }) as express.ErrorRequestHandler);
      return a;
    });
    try {
      const res = await new TestBrowser().get(`${broken.url}/login`);
      expect(res.status).toBe(500);
      expect(JSON.parse(res.body).code).toBe('session_save_failed');
    } finally {
      await broken.close();
    }
  });

  it('names what the server lacks when it has no PAR endpoint', async () => {
    const noPar = await startProvider({ configure: (config) => {
      config.features.pushedAuthorizationRequests = { enabled: false };
    } });
    try {
      await expect(checkProvider({ issuerBaseURL: noPar.issuer, baseURL: 'http://127.0.0.1:1', clientID: 'x', clientSecret: 'y' })).rejects.toMatchObject({
        code: 'par_not_supported',
        status: 502,
        message: expect.stringContaining('pushed_authorization_request_endpoint'),
      });
      const a = await startApp((ap, baseURL) => ap.use(parAuth({ ...options(baseURL), issuerBaseURL: noPar.issuer })));
      try {
        const res = await new TestBrowser().get(`${a.url}/login`);
        expect(res.status).toBe(502);
        expect(JSON.parse(res.body).code).toBe('par_not_supported');
      } finally {
        await a.close();
      }
    } finally {
      await noPar.close();
    }
  });

  it('checkProvider resolves for a server that supports everything configured', async () => {
    const report = await checkProvider(options('http://127.0.0.1:1'));
    expect(report).toEqual({ issuer: provider.issuer, problems: [], warnings: [], findings: { problems: [], warnings: [] } });
  });
});
