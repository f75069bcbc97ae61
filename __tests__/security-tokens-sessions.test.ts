/**
 * Security review #15, items 6, 7 and 8: a refresh never switches user (OpenID Connect Core §12.2);
 * sessions that hold only pending logins are short-lived and small; untrusted ID token audiences are
 * refused (Core §3.1.3.7 step 3); the issuer's trailing slash is tolerated in both directions and nothing
 * else is.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import session from 'express-session';
import { parAuth } from '../lib/index.js';
import { normalizeIssuer, sameIssuer } from '../lib/protocol/issuer.js';
import type { ParAuthConfig } from '../lib/core/types.js';
import { listen } from './helpers/app.js';
import { TestBrowser } from './helpers/browser.js';
import { type FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, HOSTILE_TIMEOUT_MS, useFaultyServer, type HostileApp } from './helpers/hostile.js';
import express from 'express';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});
/** Apps of the running test, closed after it. */
const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((app) => app.close()));
});

const DAY_MS = 24 * 60 * 60 * 1000;

/** An app with a one-day session cookie (as many apps configure), /me, /refresh and /cart. */
async function startTestApp(options: Partial<ParAuthConfig> = {}): Promise<HostileApp> {
  const captured: HostileApp['captured'] = [];
  const app = await listen((baseURL) => {
    const a: Express = express();
    a.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false, name: 'app.sid', cookie: { maxAge: DAY_MS } }));
    a.use(parAuth({ issuerBaseURL: server.issuer, baseURL, clientID: server.clientId, clientSecret: server.clientSecret, httpTimeout: HOSTILE_TIMEOUT_MS, ...options }));
    a.get('/whoami', (req, res) => {
      res.json({ authenticated: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub, refreshToken: req.oidc.refreshToken, idToken: req.oidc.idToken, pending: 0 });
    });
    a.get('/refresh', (req, res, next) => {
      req.oidc.refresh().then(() => res.json({ refreshed: true }), next);
    });
    a.get('/cart', (req, res) => {
      (req.session as unknown as { cart: string[] }).cart = ['book'];
      res.json({ ok: true });
    });
    a.use(((err, _req, res, _next) => {
      captured.push(err);
      res.status(err.status ?? 500).json({ code: err.code, message: err.message });
    }) as express.ErrorRequestHandler);
    return a;
  });
  opened.push(app);
  return { ...app, errors: [], captured };
}

async function whoami(app: HostileApp, browser: TestBrowser) {
  return JSON.parse((await browser.get(`${app.url}/whoami`)).body) as { authenticated: boolean; sub?: string; refreshToken?: string; idToken?: string };
}

async function loggedIn(app: HostileApp, browser = new TestBrowser()) {
  const run = await attemptLogin(server, browser, app);
  expect(run.final.status).toBe(302);
  return browser;
}

describe('a refresh never switches user (Core §12.2)', () => {
  const cases: Array<[string, () => void, Partial<ParAuthConfig>?]> = [
    ['another sub', () => { server.sub = 'mallory'; }],
    ['another iss', () => { server.idTokenClaims.iss = 'https://evil.example'; }],
    ['another aud (even one this client trusts)', () => { server.idTokenClaims.aud = [server.clientId, 'https://api.example']; server.idTokenClaims.azp = server.clientId; }, { trustedAudiences: ['https://api.example'] }],
    ['an azp of another client', () => { server.idTokenClaims.azp = 'someone-else'; }],
    ['another auth_time', () => { server.idTokenClaims.auth_time = 2_000_000_000; }],
    ['a nonce', () => { server.idTokenClaims.nonce = 'injected'; }],
    ['a signature by a foreign key', () => { server.fault.idToken = (claims, sign) => sign(claims, { key: 'foreign' }); }],
    ['alg none', () => { server.fault.idToken = (claims, sign) => sign(claims, { key: 'none' }); }],
  ];

  it.each(cases)('refuses a refreshed ID token with %s and keeps the login as it was', async (_name, corrupt, options = {}) => {
    server.idTokenClaims.auth_time = 1_700_000_000;
    const app = await startTestApp(options);
    const browser = await loggedIn(app);
    const before = await whoami(app, browser);
    expect(before).toMatchObject({ authenticated: true, sub: 'user-123' });
    corrupt();
    const res = await browser.get(`${app.url}/refresh`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'id_token_invalid' });
    expect(server.requestsTo('/token').at(-1)!.body.grant_type).toBe('refresh_token');
    expect(await whoami(app, browser)).toEqual(before);
  });

  it('accepts a refreshed ID token that agrees with the login (same sub, aud, auth_time, no nonce)', async () => {
    server.idTokenClaims.auth_time = 1_700_000_000;
    const app = await startTestApp();
    const browser = await loggedIn(app);
    const before = await whoami(app, browser);
    const res = await browser.get(`${app.url}/refresh`);
    expect(res.status).toBe(200);
    const after = await whoami(app, browser);
    expect(after.sub).toBe('user-123');
    expect(after.idToken).not.toBe(before.idToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
  });
});

describe('ID token audiences (Core §3.1.3.7 step 3)', () => {
  it('refuses an audience the client does not trust, even with azp = client_id', async () => {
    const app = await startTestApp();
    server.idTokenClaims.aud = [server.clientId, 'https://other-api.example'];
    server.idTokenClaims.azp = server.clientId;
    const run = await attemptLogin(server, new TestBrowser(), app);
    expect(run.final.status).toBe(502);
    expect(JSON.parse(run.final.body)).toMatchObject({ code: 'id_token_invalid' });
  });

  it('accepts the audiences named in trustedAudiences, and only those', async () => {
    const app = await startTestApp({ trustedAudiences: ['https://api.example'] });
    server.idTokenClaims.aud = [server.clientId, 'https://api.example'];
    server.idTokenClaims.azp = server.clientId;
    expect((await attemptLogin(server, new TestBrowser(), app)).final.status).toBe(302);
    server.idTokenClaims.aud = [server.clientId, 'https://api.example', 'https://third.example'];
    expect((await attemptLogin(server, new TestBrowser(), app)).final.status).toBe(502);
  });

  it('refuses a trustedAudiences option that is not a list of strings', () => {
    const base = { issuerBaseURL: 'https://op.example', baseURL: 'https://app.example', clientID: 'c', clientSecret: 's' };
    expect(() => parAuth({ ...base, trustedAudiences: 'https://api.example' as never })).toThrow(/"trustedAudiences"/);
    expect(() => parAuth({ ...base, trustedAudiences: [''] })).toThrow(/"trustedAudiences"/);
  });
});

describe('sessions that hold only pending logins', () => {
  const expiresIn = (setCookie: string | null) => Date.parse(/Expires=([^;]+)/i.exec(setCookie ?? '')![1]!) - Date.now();

  it('an anonymous /login gets a cookie that lives no longer than the transaction (15 minutes), not the app\'s day', async () => {
    const app = await startTestApp();
    const res = await new TestBrowser().get(`${app.url}/login`);
    expect(res.status).toBe(302);
    const lifetime = expiresIn(res.headers.get('set-cookie'));
    expect(lifetime).toBeLessThanOrEqual(15 * 60 * 1000);
    expect(lifetime).toBeGreaterThan(14 * 60 * 1000);
  });

  it('the login gets the app\'s lifetime back', async () => {
    const app = await startTestApp();
    const browser = new TestBrowser();
    const login = await browser.get(`${app.url}/login`);
    const authorize = await browser.get(login.location!);
    const done = await browser.get(authorize.location!);
    expect(done.status).toBe(302);
    expect(expiresIn(done.headers.get('set-cookie'))).toBeGreaterThan(DAY_MS - 60_000);
  });

  it('a session that holds the app\'s own data keeps the app\'s lifetime', async () => {
    const app = await startTestApp();
    const browser = new TestBrowser();
    await browser.get(`${app.url}/cart`);
    const res = await browser.get(`${app.url}/login`);
    expect(expiresIn(res.headers.get('set-cookie'))).toBeGreaterThan(DAY_MS - 60_000);
  });

  it('a logged-in session that starts another login keeps the app\'s lifetime', async () => {
    const app = await startTestApp();
    const browser = await loggedIn(app);
    const res = await browser.get(`${app.url}/login`);
    expect(expiresIn(res.headers.get('set-cookie'))).toBeGreaterThan(DAY_MS - 60_000);
  });

  it('caps a pending login at 1,536 bytes: an over-long returnTo falls back to /', async () => {
    const app = await startTestApp();
    const browser = new TestBrowser();
    const long = `/${'a'.repeat(2000)}`;
    const run = await attemptLogin(server, browser, app, { returnTo: long });
    expect(run.final.location).toBe(`${app.url}/`);
    const fits = `/${'b'.repeat(600)}`;
    const ok = await attemptLogin(server, browser, app, { returnTo: fits });
    expect(ok.final.location).toBe(`${app.url}${fits}`);
  });
});

describe('the issuer trailing-slash rule (lib/protocol/issuer.ts)', () => {
  it('compares issuers with one trailing slash aside, in both directions, and nothing else aside', () => {
    expect(sameIssuer('https://tenant.auth0.com', 'https://tenant.auth0.com/')).toBe(true);
    expect(sameIssuer('https://tenant.auth0.com/', 'https://tenant.auth0.com')).toBe(true);
    expect(sameIssuer('https://op.example/tenant/', 'https://op.example/tenant')).toBe(true);
    expect(sameIssuer('https://tenant.auth0.com', 'https://tenant.auth0.com//')).toBe(false);
    expect(sameIssuer('https://tenant.auth0.com', 'https://TENANT.auth0.com')).toBe(false);
    expect(sameIssuer('https://op.example/tenant', 'https://op.example/tenant2')).toBe(false);
    expect(normalizeIssuer('https://op.example/')).toBe('https://op.example');
  });

  async function slashServerLogin(configured: string) {
    // The server publishes its issuer with a trailing slash, and uses it exactly everywhere.
    const published = `${server.issuer}/`;
    server.fault.discovery = { issuer: published };
    server.fault.authorize = { iss: published };
    server.idTokenClaims.iss = published;
    const app = await startTestApp({ issuerBaseURL: configured });
    return attemptLogin(server, new TestBrowser(), app);
  }

  it('logs in when issuerBaseURL has no slash and the metadata has one', async () => {
    expect((await slashServerLogin(server.issuer)).final.status).toBe(302);
  });

  it('logs in when issuerBaseURL has a slash and the metadata has none', async () => {
    const app = await startTestApp({ issuerBaseURL: `${server.issuer}/` });
    expect((await attemptLogin(server, new TestBrowser(), app)).final.status).toBe(302);
  });

  it('after discovery, compares iss exactly with the metadata issuer (RFC 9207 §2.4)', async () => {
    const published = `${server.issuer}/`;
    server.fault.discovery = { issuer: published };
    server.idTokenClaims.iss = published; // the authorization response still says the slash-less one
    const app = await startTestApp();
    const run = await attemptLogin(server, new TestBrowser(), app);
    expect(JSON.parse(run.final.body)).toMatchObject({ code: 'iss_mismatch' });
  });

  it('refuses metadata whose issuer differs by more than one trailing slash', async () => {
    server.fault.discovery = { issuer: `${server.issuer}//` };
    const app = await startTestApp();
    const res = await new TestBrowser().get(`${app.url}/login`);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'issuer_mismatch' });
  });
});
