import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parAuth, type ParEvent } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

let provider: TestProvider;
let app: TestApp;
const events: ParEvent[] = [];

beforeAll(async () => {
  app = await startApp((a, baseURL) => {
    a.use(parAuth({
      issuerBaseURL: provider.issuer,
      baseURL,
      clientID: TEST_CLIENT_ID,
      clientSecret: TEST_CLIENT_SECRET,
      // oidc-provider issues refresh tokens for offline_access with prompt=consent
      authorizationParams: { scope: 'openid profile email offline_access', prompt: 'consent' },
      onEvent: (event) => events.push(event),
    }));
    a.get('/tokens', (req, res) => {
      res.json({ accessToken: req.oidc.accessToken, refreshToken: req.oidc.refreshToken, idToken: req.oidc.idToken, sub: req.oidc.user?.sub });
    });
    a.post('/refresh', (req, res, next) => {
      req.oidc.refresh().then(() => res.json({ ok: true }), next);
    });
  });
  provider = await startProvider({ redirectUris: [`${app.url}/callback`] });
});
afterAll(async () => {
  await app.close();
  await provider.close();
});

async function loggedIn() {
  const browser = new TestBrowser();
  const start = await browser.get(`${app.url}/login`);
  await browser.get(await completeProviderLogin(browser, start.location!));
  return browser;
}

async function tokens(browser: TestBrowser) {
  return JSON.parse((await browser.get(`${app.url}/tokens`)).body) as Record<string, string | undefined>;
}

describe('req.oidc.refresh()', () => {
  it('redeems the refresh token, stores the new tokens and emits token.refreshed', async () => {
    const browser = await loggedIn();
    const before = await tokens(browser);
    expect(before.refreshToken).toBeDefined();
    const res = await browser.post(`${app.url}/refresh`, {});
    expect(res.status).toBe(200);
    const after = await tokens(browser);
    expect(after.accessToken).toBeDefined();
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.sub).toBe('alice');
    expect(provider.tokenRequests.at(-1)).toMatchObject({ grant_type: 'refresh_token' });
    const refreshed = events.filter((e) => e.type === 'token.refreshed');
    expect(refreshed.at(-1)).toEqual({ type: 'token.refreshed', expiresAt: expect.any(Number) });
    expect(JSON.stringify(refreshed)).not.toContain(after.accessToken!);
  });

  it('reports a revoked refresh token as a 502 token_exchange_failed and keeps the login', async () => {
    const browser = await loggedIn();
    const { refreshToken } = await tokens(browser);
    const stored = await provider.provider.RefreshToken.find(refreshToken);
    await stored.destroy(); // revoked at the server
    const res = await browser.post(`${app.url}/refresh`, {});
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'token_exchange_failed' });
    expect(res.body).not.toContain(refreshToken!);
    expect((await tokens(browser)).sub).toBe('alice');
  });
});
