import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { parAuth, requiresAuth } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

let provider: TestProvider;
let app: TestApp;

function mount(a: Express, baseURL: string) {
  a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET, authorizationParams: { scope: 'openid profile email', audience: 'https://api.example.com' } }));
  a.get('/me', requiresAuth(), (req, res) => {
    res.json({ user: req.oidc.user, hasAccessToken: !!req.oidc.accessToken, expiresAt: req.oidc.expiresAt });
  });
}

beforeAll(async () => {
  app = await startApp((a, baseURL) => mount(a, baseURL));
  provider = await startProvider({ redirectUris: [`${app.url}/callback`], postLogoutRedirectUris: [`${app.url}/`] });
});
afterAll(async () => {
  await app.close();
  await provider.close();
});

async function login(browser: TestBrowser, returnTo = '/me') {
  const start = await browser.get(`${app.url}/login?returnTo=${encodeURIComponent(returnTo)}`);
  expect(start.status).toBe(302);
  const callbackUrl = await completeProviderLogin(browser, start.location!);
  return { start, callbackUrl, callback: await browser.get(callbackUrl) };
}

describe('signing in with a pushed authorization request', () => {
  it('redirects to the authorization endpoint with only client_id and request_uri', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(`${app.url}/login`);
    const location = new URL(res.location!);
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(location.searchParams.get('client_id')).toBe(TEST_CLIENT_ID);
    const pushed = provider.pushedRequests.at(-1)!;
    expect(pushed.audience).toBe('https://api.example.com');
    expect(pushed.code_challenge_method).toBe('S256');
    expect(pushed.redirect_uri).toBe(`${app.url}/callback`);
  });

  it('logs the user in and lands on returnTo', async () => {
    const browser = new TestBrowser();
    const { callback } = await login(browser, '/me?x=1');
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/me?x=1`);
    const me = await browser.get(`${app.url}/me`);
    expect(me.status).toBe(200);
    const body = JSON.parse(me.body);
    expect(body.user.sub).toBe('alice');
    expect(body.hasAccessToken).toBe(true);
  });

  it('logs out and redirects to the end_session_endpoint', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const out = await browser.get(`${app.url}/logout`);
    expect(out.status).toBe(302);
    const location = new URL(out.location!);
    expect(location.origin).toBe(provider.issuer);
    expect(location.searchParams.get('client_id')).toBe(TEST_CLIENT_ID);
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/`);
    const me = await browser.get(`${app.url}/me`);
    expect(me.status).toBe(302);
  });
});
