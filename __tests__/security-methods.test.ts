/**
 * Security review #15, item 5 (contract: "Methods"): only GET starts a login, completes a callback or
 * logs out. HEAD (link prefetchers, monitors) and other methods change nothing: no pushed request, no
 * transaction, no code redeemed, no session change. Checked for the middleware and the Passport strategy.
 */
import { describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { Passport } from 'passport';
import { parAuth } from '../lib/index.js';
import { ParStrategy } from '../lib/passport.js';
import { startApp, type TestApp } from './helpers/app.js';
import { TestBrowser } from './helpers/browser.js';
import { type FaultyServer } from './helpers/faulty-server.js';
import { HOSTILE_TIMEOUT_MS, useFaultyServer } from './helpers/hostile.js';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});

type Mode = 'middleware' | 'passport';

async function appFor(mode: Mode): Promise<TestApp> {
  return startApp((a: Express, baseURL) => {
    const options = { issuerBaseURL: server.issuer, baseURL, clientID: server.clientId, clientSecret: server.clientSecret, httpTimeout: HOSTILE_TIMEOUT_MS };
    if (mode === 'middleware') {
      a.use(parAuth(options));
      a.get('/me', (req, res) => {
        res.json({ authenticated: req.oidc.isAuthenticated(), pending: Object.values(req.session.par ?? {}).reduce((n, s) => n + Object.keys(s.pending ?? {}).length, 0) });
      });
      return;
    }
    const passport = new Passport();
    passport.use(new ParStrategy(options, (_t, claims, done) => done(null, { id: claims.sub })));
    passport.serializeUser((user, done) => done(null, JSON.stringify(user)));
    passport.deserializeUser((raw: string, done) => done(null, JSON.parse(raw)));
    a.use(passport.initialize());
    a.use(passport.session());
    // The handlers after authenticate() must run only for an authenticated request.
    a.all('/login', passport.authenticate('par'), (_req, res) => res.json({ continued: true }));
    a.all('/callback', passport.authenticate('par', { failureRedirect: '/failed' }), (_req, res) => res.redirect('/'));
    a.get('/me', (req, res) => {
      res.json({ authenticated: req.isAuthenticated(), pending: Object.values(req.session.par ?? {}).reduce((n, s) => n + Object.keys(s.pending ?? {}).length, 0) });
    });
  });
}

async function raw(browser: TestBrowser, method: string, url: string) {
  const cookie = Object.entries(browser.cookies('127.0.0.1')).map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(url, { method, redirect: 'manual', headers: cookie ? { cookie } : {} });
  await res.arrayBuffer();
  return res;
}

async function me(app: TestApp, browser: TestBrowser) {
  return JSON.parse((await browser.get(`${app.url}/me`)).body) as { authenticated: boolean; pending: number };
}

describe.each(['middleware', 'passport'] as Mode[])('%s', (mode) => {
  it.each(['HEAD', 'POST', 'PUT'])('%s on the login route pushes nothing and stores nothing', async (method) => {
    const app = await appFor(mode);
    const res = await raw(new TestBrowser(), method, `${app.url}/login`);
    expect(res.status).not.toBe(302);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(server.requestsTo('/par')).toHaveLength(0);
    await app.close();
  });

  it.each(['HEAD', 'POST'])('%s on the callback redeems nothing; the browser\'s GET then logs in', async (method) => {
    const app = await appFor(mode);
    const browser = new TestBrowser();
    const login = await browser.get(`${app.url}/login`);
    expect(login.status).toBe(302);
    const authorize = await browser.get(login.location!);
    const callback = authorize.location!;
    const cookieBefore = browser.cookies('127.0.0.1');
    const res = await raw(browser, method, callback);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(server.requestsTo('/token')).toHaveLength(0);
    expect(browser.cookies('127.0.0.1')).toEqual(cookieBefore);
    expect(await me(app, browser)).toEqual({ authenticated: false, pending: 1 });
    const done = await browser.get(callback);
    expect(done.status).toBe(302);
    expect(server.requestsTo('/token')).toHaveLength(1);
    expect((await me(app, browser)).authenticated).toBe(true);
    await app.close();
  });
});

describe('passport: a HEAD or POST never continues as if authenticated (issue #30, item 4)', () => {
  it.each(['HEAD', 'POST'])('%s on the login route answers 405 with Allow: GET, not the next handler', async (method) => {
    const app = await appFor('passport');
    try {
      const res = await raw(new TestBrowser(), method, `${app.url}/login`);
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET');
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(server.requestsTo('/par')).toHaveLength(0);
    } finally {
      await app.close();
    }
  });

  it.each(['HEAD', 'POST'])('%s on the callback route fails to failureRedirect, not to the handler after authenticate()', async (method) => {
    const app = await appFor('passport');
    try {
      const browser = new TestBrowser();
      const login = await browser.get(`${app.url}/login`);
      const callback = (await browser.get(login.location!)).location!;
      const res = await raw(browser, method, callback);
      expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 302, location: '/failed' });
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(server.requestsTo('/token')).toHaveLength(0);
      expect(await me(app, browser)).toEqual({ authenticated: false, pending: 1 });
    } finally {
      await app.close();
    }
  });
});
