/**
 * Contract, "Claims, logout and redirects": claims that afterCallback shaped stay shaped after any refresh
 * (`refresh()`, `getAccessToken()`, `fetch()`, `fetchUserInfo()`), and a refreshed ID token is compared with
 * the original ID token (OpenID Connect Core §12.2), not with the shaped claims (issue #24, item 6).
 * oidc-provider issues `role: "admin"` in the ID token; the app's afterCallback decides the role itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { claimEquals, parAuth, type LoginSession } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';
import { mountTokenRoutes } from './helpers/token-routes.js';

const LARGE = 10 * 24 * 3600; // longer than any access token lives: getAccessToken() must refresh

let provider: TestProvider;
let app: TestApp;
let api: { url: string; refuse?: string; close(): Promise<void> };

/** How the app's afterCallback shapes a login: demote the provider's role, keep only sub and role, or fail. */
let shaping: 'viewer' | 'minimal' | 'throw-on-refresh' = 'viewer';
const hookCalls: Array<{ resIsReqRes: boolean; role: unknown }> = [];

function afterCallback(req: import('express').Request, res: import('express').Response, login: LoginSession): LoginSession {
  hookCalls.push({ resIsReqRes: res === req.res, role: login.claims.role });
  const refreshing = hookCalls.length > 1;
  if (shaping === 'throw-on-refresh' && refreshing) throw Object.assign(new Error('the role service is down'), { status: 503, code: 'roles_unavailable' });
  if (shaping === 'minimal') return { ...login, claims: { sub: login.claims.sub, role: 'viewer' } }; // drops aud, iss, …
  return { ...login, claims: { ...login.claims, role: 'viewer' } };
}

function mount(a: Express, baseURL: string) {
  a.use(parAuth({
    issuerBaseURL: provider.issuer,
    baseURL,
    clientID: TEST_CLIENT_ID,
    clientSecret: TEST_CLIENT_SECRET,
    authorizationParams: { scope: 'openid profile offline_access', prompt: 'consent' },
    afterCallback,
  }));
  mountTokenRoutes(a);
  a.get('/admin', claimEquals('role', 'admin'), (_req, res) => {
    res.json({ admin: true });
  });
  a.get('/claims', (req, res) => {
    res.json(req.oidc.user ?? null);
  });
}

beforeAll(async () => {
  const server = http.createServer((req, res) => {
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (token === api.refuse) res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  app = await startApp(mount);
  provider = await startProvider({
    redirectUris: [`${app.url}/callback`],
    configure: (config) => {
      config.rotateRefreshToken = true;
      config.claims.profile = ['name', 'role'];
      config.findAccount = async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub, name: `User ${sub}`, role: 'admin' }) });
    },
  });
});
afterAll(async () => {
  await Promise.all([app.close(), api.close()]);
  await provider.close();
});
beforeEach(() => {
  shaping = 'viewer';
  hookCalls.length = 0;
  api.refuse = undefined;
});

async function loggedIn() {
  const browser = new TestBrowser();
  const start = await browser.get(`${app.url}/login`);
  await browser.get(await completeProviderLogin(browser, start.location!));
  return browser;
}

const claims = async (browser: TestBrowser) => JSON.parse((await browser.get(`${app.url}/claims`)).body) as Record<string, unknown>;
const refreshGrants = () => provider.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length;
const stored = async (browser: TestBrowser) => JSON.parse((await browser.get(`${app.url}/tokens`)).body) as { authenticated: boolean; accessToken: string };

/** Each way a refresh happens, driven from the browser. */
const refreshes: Array<[string, (browser: TestBrowser) => Promise<number>]> = [
  ['req.oidc.refresh()', async (browser) => (await browser.post(`${app.url}/refresh`, {})).status],
  ['req.oidc.getAccessToken()', async (browser) => (await browser.get(`${app.url}/token?minTtl=${LARGE}`)).status],
  ['req.oidc.fetch() renewing a refused token', async (browser) => {
    api.refuse = (await stored(browser)).accessToken;
    const res = await browser.get(`${app.url}/api?url=${encodeURIComponent(`${api.url}/data`)}`);
    return res.status === 200 && JSON.parse(res.body).status === 200 ? 200 : res.status;
  }],
  ['req.oidc.fetchUserInfo() renewing a refused token', async (browser) => {
    await (await provider.provider.AccessToken.find((await stored(browser)).accessToken)).destroy(); // revoked: userinfo says invalid_token
    return (await browser.get(`${app.url}/userinfo`)).status;
  }],
];

describe('afterCallback shaping survives a refresh', () => {
  it.each(refreshes)('%s: the role the app decided stays, and claimEquals("role", "admin") stays 403', async (_name, refresh) => {
    const browser = await loggedIn();
    expect(await claims(browser)).toMatchObject({ sub: 'alice', role: 'viewer' });
    expect((await browser.get(`${app.url}/admin`)).status).toBe(403);
    const grants = refreshGrants();
    expect(await refresh(browser)).toBe(200);
    expect(refreshGrants() - grants).toBe(1);
    expect(await claims(browser)).toMatchObject({ sub: 'alice', role: 'viewer' });
    expect((await browser.get(`${app.url}/admin`)).status).toBe(403);
    // It ran again on the refreshed login (which carried the provider's role), with res = req.res.
    expect(hookCalls).toEqual([{ resIsReqRes: true, role: 'admin' }, { resIsReqRes: true, role: 'admin' }]);
  });

  it('an afterCallback that drops aud (and iss) does not break refreshes: the original ID token is compared (Core §12.2)', async () => {
    shaping = 'minimal';
    const browser = await loggedIn();
    const errors = app.errors.length;
    expect(await claims(browser)).toEqual({ sub: 'alice', role: 'viewer' });
    expect((await browser.post(`${app.url}/refresh`, {})).status).toBe(200);
    expect((await browser.get(`${app.url}/token?minTtl=${LARGE}`)).status).toBe(200);
    expect(await claims(browser)).toEqual({ sub: 'alice', role: 'viewer' });
    expect(app.errors.slice(errors)).toEqual([]);
  });

  it('an afterCallback that throws during a refresh ends the login, and its error reaches next(err)', async () => {
    shaping = 'throw-on-refresh';
    const browser = await loggedIn();
    const before = app.errors.length;
    const res = await browser.get(`${app.url}/token?minTtl=${LARGE}`);
    expect(res.status).toBe(503);
    expect(app.errors.slice(before)).toEqual([expect.objectContaining({ code: 'roles_unavailable' })]);
    expect((await stored(browser)).authenticated).toBe(false);
  });
});
