/**
 * Security review #15, item 3 (contract: "Several sign-ins on one app"): a customer login at `/` and a
 * workforce login in an `express.Router()` under `/admin`, each with its own issuer and client. Each mount
 * sees only its own login, a state made by one is unknown at the other's callback (and leaves the genuine
 * transaction alone), and one issuer's tokens never reach the other.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type Express } from 'express';
import { parAuth, requiresAuth } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_SECRET, testClient, type TestProvider } from './helpers/provider.js';

let customers: TestProvider;
let workforce: TestProvider;
let app: TestApp;

const offline = { scope: 'openid profile email offline_access', prompt: 'consent' };

function mount(a: Express, baseURL: string): void {
  a.use(parAuth({ issuerBaseURL: customers.issuer, baseURL, clientID: 'customer-app', clientSecret: TEST_CLIENT_SECRET, authorizationParams: offline }));
  const admin = express.Router();
  admin.use(parAuth({ issuerBaseURL: workforce.issuer, baseURL: `${baseURL}/admin`, clientID: 'workforce-app', clientSecret: TEST_CLIENT_SECRET, authorizationParams: offline }));
  admin.get('/protected', requiresAuth(), (req, res) => {
    res.json({ iss: req.oidc.user?.iss, sub: req.oidc.user?.sub, refreshToken: req.oidc.refreshToken });
  });
  admin.get('/refresh', (req, res, next) => {
    req.oidc.refresh().then(() => res.json({ refreshed: true, iss: req.oidc.user?.iss }), next);
  });
  a.use('/admin', admin);
  a.get('/protected', requiresAuth(), (req, res) => {
    res.json({ iss: req.oidc.user?.iss, sub: req.oidc.user?.sub, refreshToken: req.oidc.refreshToken });
  });
}

beforeAll(async () => {
  app = await startApp(mount);
  customers = await startProvider({ clients: [testClient('customer-app', [`${app.url}/callback`], [`${app.url}/`])] });
  workforce = await startProvider({ clients: [testClient('workforce-app', [`${app.url}/admin/callback`], [`${app.url}/admin/`])] });
});
afterAll(async () => {
  await app.close();
  await customers.close();
  await workforce.close();
});

async function logIn(browser: TestBrowser, prefix: '' | '/admin', login: string): Promise<void> {
  const start = await browser.get(`${app.url}${prefix}/login`);
  expect(start.status).toBe(302);
  const done = await browser.get(await completeProviderLogin(browser, start.location!, { login }));
  expect(done.status).toBe(302);
}

async function api(browser: TestBrowser, path: string) {
  const res = await fetch(`${app.url}${path}`, { headers: { accept: 'application/json', cookie: Object.entries(browser.cookies('127.0.0.1')).map(([k, v]) => `${k}=${v}`).join('; ') } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('two parAuth() mounts on one app', () => {
  it('a login at the root does not pass requiresAuth() under /admin', async () => {
    const browser = new TestBrowser();
    await logIn(browser, '', 'carol');
    expect(await api(browser, '/protected')).toMatchObject({ status: 200, body: { iss: customers.issuer, sub: 'carol' } });
    expect(await api(browser, '/admin/protected')).toMatchObject({ status: 401, body: { code: 'login_required' } });
    const page = await browser.get(`${app.url}/admin/protected`);
    expect(page.status).toBe(302);
    expect(page.location).toBe(`${app.url}/admin/login?returnTo=${encodeURIComponent('/admin/protected')}`);
  });

  it('keeps both logins side by side, each with its own issuer and tokens', async () => {
    const browser = new TestBrowser();
    await logIn(browser, '', 'carol');
    await logIn(browser, '/admin', 'wendy');
    const root = await api(browser, '/protected');
    const admin = await api(browser, '/admin/protected');
    expect(root).toMatchObject({ status: 200, body: { iss: customers.issuer, sub: 'carol' } });
    expect(admin).toMatchObject({ status: 200, body: { iss: workforce.issuer, sub: 'wendy' } });
    expect(root.body.refreshToken).toEqual(expect.any(String));
    expect(admin.body.refreshToken).toEqual(expect.any(String));
    expect(admin.body.refreshToken).not.toBe(root.body.refreshToken);
  });

  it('refreshes under /admin with the workforce token at the workforce issuer only', async () => {
    const browser = new TestBrowser();
    await logIn(browser, '', 'carol');
    const rootToken = (await api(browser, '/protected')).body.refreshToken;
    await logIn(browser, '/admin', 'wendy');
    const adminToken = (await api(browser, '/admin/protected')).body.refreshToken;
    const customerCalls = customers.tokenRequests.length;
    expect(await api(browser, '/admin/refresh')).toMatchObject({ status: 200, body: { refreshed: true, iss: workforce.issuer } });
    expect(customers.tokenRequests).toHaveLength(customerCalls);
    expect(workforce.tokenRequests.at(-1)).toMatchObject({ grant_type: 'refresh_token', refresh_token: adminToken });
    expect(JSON.stringify(workforce.tokenRequests)).not.toContain(String(rootToken));
  });

  it('a refresh under /admin without an /admin login never sends the root login\'s token anywhere', async () => {
    const browser = new TestBrowser();
    await logIn(browser, '', 'carol');
    const counts = [customers.tokenRequests.length, workforce.tokenRequests.length];
    const res = await api(browser, '/admin/refresh');
    expect(res.status).toBe(500); // a TypeError: this mount has no login
    expect([customers.tokenRequests.length, workforce.tokenRequests.length]).toEqual(counts);
  });

  it('refuses at /admin/callback a state made by the root mount, and the genuine callback still works', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/login`);
    const genuine = new URL(await completeProviderLogin(browser, start.location!, { login: 'carol' }));
    expect(genuine.pathname).toBe('/callback');
    const replayed = await api(browser, `/admin/callback${genuine.search}`);
    expect(replayed).toMatchObject({ status: 400, body: { code: 'state_mismatch' } });
    expect(workforce.tokenRequests.filter((r) => r.code === genuine.searchParams.get('code'))).toHaveLength(0);
    const done = await browser.get(genuine.href);
    expect(done.status).toBe(302);
    expect(await api(browser, '/protected')).toMatchObject({ status: 200, body: { sub: 'carol' } });
  });

  it('leaves both logins alone when a link sends the browser to /admin/callback with a junk state or the root mount\'s state', async () => {
    const browser = new TestBrowser();
    await logIn(browser, '', 'carol');
    await logIn(browser, '/admin', 'wendy');
    const start = await browser.get(`${app.url}/login`);
    const rootCallback = new URL(await completeProviderLogin(browser, start.location!, { login: 'carol' }));
    for (const search of ['?state=junk&code=x', rootCallback.search]) {
      expect(await api(browser, `/admin/callback${search}`)).toMatchObject({ status: 400, body: { code: 'state_mismatch' } });
      expect(await api(browser, '/admin/protected')).toMatchObject({ status: 200, body: { sub: 'wendy' } });
      expect(await api(browser, '/protected')).toMatchObject({ status: 200, body: { sub: 'carol' } });
    }
  });

  it('logging out of /admin keeps the root login', async () => {
    const browser = new TestBrowser();
    await logIn(browser, '', 'carol');
    await logIn(browser, '/admin', 'wendy');
    const out = await browser.get(`${app.url}/admin/logout`);
    expect(out.status).toBe(302);
    expect(out.location!.startsWith(workforce.issuer)).toBe(true);
    expect(await api(browser, '/admin/protected')).toMatchObject({ status: 401 });
    expect(await api(browser, '/protected')).toMatchObject({ status: 200, body: { sub: 'carol' } });
  });
});
