/**
 * The session budget (#12): sessions live in Redis and their cookie comes back on every request, so what
 * express-par adds to a session is measured and bounded here, against oidc-provider. The numbers are
 * printed for the "Session budget" section of docs/production.md.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import { parAuth } from '../lib/index.js';
import { listen, startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

let provider: TestProvider;
let app: TestApp;
/** An app with the README's production cookie flags (docs/production.md, Which session store; README, Production: Cookie flags). */
let production: { url: string; close(): Promise<void> };

beforeAll(async () => {
  app = await startApp((a, baseURL) => {
    a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET }));
    a.get('/me', (req, res) => {
      res.json(req.oidc.user);
    });
    a.get('/size', (req, res) => {
      const login = Object.values(req.session.par ?? {})[0]?.login;
      res.json({
        session: JSON.stringify(req.session).length,
        par: req.session.par ? JSON.stringify(req.session.par).length : 0,
        tokens: login ? JSON.stringify({ idToken: login.idToken, accessToken: login.accessToken, refreshToken: login.refreshToken }).length : 0,
      });
    });
  });
  production = await listen((baseURL) => {
    const a = express();
    a.set('trust proxy', 1);
    const cookie = { secure: true, httpOnly: true, sameSite: 'lax' as const, maxAge: 8 * 60 * 60 * 1000 };
    a.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false, name: 'app.sid', cookie }));
    a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET }));
    a.get('/size', (req, res) => {
      res.json({ session: JSON.stringify(req.session).length });
    });
    return a;
  });
  provider = await startProvider({ redirectUris: [`${app.url}/callback`, `${production.url}/callback`] });
});
afterAll(async () => {
  await production.close();
  await app.close();
  await provider.close();
});

async function size(browser: TestBrowser) {
  return JSON.parse((await browser.get(`${app.url}/size`)).body) as { session: number; par: number; tokens: number };
}

describe('what express-par adds to a session', () => {
  it('a pending login adds at most 256 bytes, each further tab at most 220', async () => {
    const browser = new TestBrowser();
    const first = await browser.get(`${app.url}/login`);
    expect(first.status).toBe(302);
    const one = await size(browser);
    await browser.get(`${app.url}/login?returnTo=/account`);
    const two = await size(browser);
    const perTab = two.par - one.par;
    expect(one.par).toBeLessThanOrEqual(256);
    expect(perTab).toBeLessThanOrEqual(220);
    process.stdout.write(`session-budget: a pending login adds ${one.par} bytes (session ${one.session} bytes with the cookie); a second tab ${perTab} more\n`);
  });

  it('an anonymous session after /login, with the cookie flags of the README\'s production set-up, stays under 400 bytes', async () => {
    // As behind the README's TLS-terminating proxy: express-session sets a secure cookie only for req.secure.
    const viaProxy: typeof fetch = (url, init) => {
      return fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-forwarded-proto': 'https' } });
    };
    const browser = new TestBrowser(viaProxy);
    expect((await browser.get(`${production.url}/login`)).status).toBe(302);
    const { session: bytes } = JSON.parse((await browser.get(`${production.url}/size`)).body) as { session: number };
    expect(bytes).toBeLessThan(400);
    process.stdout.write(`session-budget: an anonymous session after /login with secure, httpOnly, sameSite=lax and maxAge is ${bytes} bytes\n`);
  });

  it('keeps claims that afterCallback reshaped, and serves them on later requests', async () => {
    let shapedIssuer = '';
    const shaped = await startApp((a, baseURL) => {
      a.use(parAuth({ issuerBaseURL: shapedIssuer, baseURL, clientID: 'shaped-client', clientSecret: TEST_CLIENT_SECRET, afterCallback: (_req, _res, session) => ({ ...session, claims: { ...session.claims, role: 'admin' } }) }));
      a.get('/me', (req, res) => {
        res.json(req.oidc.user);
      });
    });
    const shapedProvider = await startProvider({ clients: [{ client_id: 'shaped-client', client_secret: TEST_CLIENT_SECRET, grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [`${shaped.url}/callback`] }] });
    shapedIssuer = shapedProvider.issuer;
    try {
      const browser = new TestBrowser();
      const start = await browser.get(`${shaped.url}/login`);
      expect((await browser.get(await completeProviderLogin(browser, start.location!))).status).toBe(302);
      expect(JSON.parse((await browser.get(`${shaped.url}/me`)).body)).toMatchObject({ sub: 'alice', role: 'admin' });
    } finally {
      await shaped.close();
      await shapedProvider.close();
    }
  });

  it('a completed login adds its tokens and little else', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/login`);
    expect((await browser.get(await completeProviderLogin(browser, start.location!))).status).toBe(302);
    const { session, par, tokens } = await size(browser);
    const overhead = par - tokens;
    // the claims are the ID token's own: not stored twice, read back from the ID token
    expect(overhead).toBeLessThanOrEqual(200);
    const me = JSON.parse((await browser.get(`${app.url}/me`)).body) as Record<string, unknown>;
    expect(me).toMatchObject({ sub: 'alice', iss: provider.issuer, aud: TEST_CLIENT_ID });
    process.stdout.write(`session-budget: a completed login adds ${par} bytes: ${tokens} of tokens (ID, access, refresh) and ${overhead} of claims and bookkeeping (session ${session} bytes)\n`);
  });
});
