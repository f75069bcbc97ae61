/**
 * Contract, "Claims, logout and redirects": after /logout, no copy of the session cookie taken before is
 * logged in, even when a slower request of that session saves afterwards, with or without a refresh token
 * (issue #24, item 7). A request held open at /hold (its session loaded, logged in) changes the session once
 * released, so express-session saves it after the logout regenerated the session.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { parAuth } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';
import { createGate, mountTokenRoutes, type HeldGate } from './helpers/token-routes.js';

let provider: TestProvider;
let gate: HeldGate | undefined;
const apps: Record<'refresh' | 'plain', TestApp> = {} as never;

function mount(scope: Record<string, string>) {
  return (a: Express, baseURL: string) => {
    a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET, authorizationParams: scope }));
    mountTokenRoutes(a, { gate: () => gate });
    a.get('/bye', (_req, res, next) => {
      res.oidc.logout({ returnTo: '/' }).catch(next);
    });
  };
}

beforeAll(async () => {
  // oidc-provider issues a refresh token for offline_access with prompt=consent
  apps.refresh = await startApp(mount({ scope: 'openid profile offline_access', prompt: 'consent' }));
  apps.plain = await startApp(mount({ scope: 'openid profile' }));
  provider = await startProvider({ redirectUris: [`${apps.refresh.url}/callback`, `${apps.plain.url}/callback`] });
});
afterAll(async () => {
  await Promise.all([apps.refresh.close(), apps.plain.close()]);
  await provider.close();
});

async function tokensWith(app: TestApp, cookie: string) {
  const res = await fetch(`${app.url}/tokens`, { headers: { cookie } });
  return (await res.json()) as { authenticated: boolean; refreshToken?: string };
}

describe('a slow request of the session that saves after the logout', () => {
  it.each([
    ['with a refresh token', 'refresh', '/logout'],
    ['without a refresh token', 'plain', '/logout'],
    ['without a refresh token, res.oidc.logout()', 'plain', '/bye'],
  ] as const)('%s (%s): the copy of the pre-logout cookie is not logged in afterwards', async (_name, which, logoutPath) => {
    const app = apps[which];
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/login`);
    await browser.get(await completeProviderLogin(browser, start.location!));
    const copy = `app.sid=${browser.cookies('127.0.0.1')['app.sid']}`;
    const before = await tokensWith(app, copy);
    expect(before.authenticated).toBe(true);
    expect(before.refreshToken !== undefined).toBe(which === 'refresh');

    gate = createGate();
    const held = fetch(`${app.url}/hold`, { headers: { cookie: copy } });
    await gate.entered; // its session (logged in) is loaded
    expect((await browser.get(`${app.url}${logoutPath}`)).status).toBe(302);
    gate.release();
    expect((await held).status).toBe(200);
    gate = undefined;

    expect((await tokensWith(app, copy)).authenticated).toBe(false);
    expect(JSON.parse((await browser.get(`${app.url}/tokens`)).body).authenticated).toBe(false);
    expect(app.errors).toEqual([]);
  });
});
