/**
 * FAPI 2.0 Security Profile, client requirements: a login is initiated only with the user's consent,
 * protected against CSRF (issue #30, item 9). Under `profile: 'fapi2'`, a login that another site starts
 * (Fetch Metadata `Sec-Fetch-Site: cross-site`) is refused with 403 `cross_site_login` wherever a GET would
 * start one: the login route, `res.oidc.login()`, `requiresAuth()`'s redirect, the claim checks and the
 * Passport strategy; `attemptSilentLogin()` lets such a page load through anonymous. Against the faulty
 * server acting as a FAPI 2.0 server.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { Passport } from 'passport';
import { attemptSilentLogin, claimEquals, parAuth, requiresAuth } from '../lib/index.js';
import { ParStrategy } from '../lib/passport.js';
import type { ParAuthConfig } from '../lib/core/types.js';
import { startApp, type TestApp } from './helpers/app.js';
import { type FaultyServer } from './helpers/faulty-server.js';
import { HOSTILE_TIMEOUT_MS, useFaultyServer } from './helpers/hostile.js';
import { generateKeyPairSync } from './helpers/keys.js';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});

const clientKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

beforeEach(() => {
  server.fault.discovery = { merge: { dpop_signing_alg_values_supported: ['ES256'], id_token_signing_alg_values_supported: ['ES256', 'PS256'] } };
});

function options(baseURL: string, profile: boolean): ParAuthConfig {
  const common = { issuerBaseURL: server.issuer, baseURL, clientID: server.clientId, httpTimeout: HOSTILE_TIMEOUT_MS };
  return profile ? { ...common, profile: 'fapi2', clientAssertionSigningKey: clientKey } : { ...common, clientSecret: server.clientSecret };
}

function app(profile = true): Promise<TestApp> {
  return startApp((a: Express, baseURL) => {
    a.use(parAuth(options(baseURL, profile)));
    a.get('/signup', (_req, res, next) => {
      res.oidc.login({ authorizationParams: { screen_hint: 'signup' } }).catch(next);
    });
    a.post('/start', (_req, res, next) => {
      res.oidc.login().catch(next); // the app's own form (and its CSRF token) starts this one
    });
    a.get('/page', attemptSilentLogin(), (req, res) => {
      res.json({ page: true, authenticated: req.oidc.isAuthenticated() });
    });
    a.get('/protected', requiresAuth(), (_req, res) => res.json({ protected: true }));
    a.get('/admin', claimEquals('role', 'admin'), (_req, res) => res.json({ admin: true }));
    const passport = new Passport();
    passport.use(new ParStrategy({ ...options(baseURL, profile), callbackPath: '/auth/callback' }, (_t, claims, done) => done(null, { id: claims.sub })));
    a.use(passport.initialize());
    a.get('/auth/login', passport.authenticate('par'));
  });
}

/** A top-level navigation as a browser sends it, with the Fetch Metadata `site` given (or none at all). */
async function navigate(url: string, site?: string, method = 'GET') {
  const headers: Record<string, string> = { accept: 'text/html', 'sec-fetch-dest': 'document', 'sec-fetch-mode': 'navigate' };
  if (site !== undefined) headers['sec-fetch-site'] = site;
  else for (const name of ['sec-fetch-dest', 'sec-fetch-mode']) delete headers[name];
  const res = await fetch(url, { method, headers, redirect: 'manual' });
  const text = await res.text();
  const body = text.startsWith('{') ? JSON.parse(text) : text;
  return { status: res.status, location: res.headers.get('location'), cookie: res.headers.get('set-cookie'), body };
}

async function withApp(profile: boolean, run: (a: TestApp) => Promise<void>): Promise<void> {
  const a = await app(profile);
  try {
    await run(a);
  } finally {
    await a.close();
  }
}

describe('profile "fapi2": a login started by another site', () => {
  it.each(['/login', '/signup', '/auth/login'])('is refused at %s with 403 cross_site_login: nothing pushed, nothing stored', async (path) => {
    await withApp(true, async (a) => {
      const res = await navigate(`${a.url}${path}`, 'cross-site');
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'cross_site_login', status: 403 });
      expect(res.cookie).toBeNull();
      expect(server.requestsTo('/par')).toHaveLength(0);
    });
  });

  it.each(['/protected', '/admin'])('is refused by %s instead of a redirect into the login', async (path) => {
    await withApp(true, async (a) => {
      const res = await navigate(`${a.url}${path}`, 'cross-site');
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'cross_site_login' });
      const own = await navigate(`${a.url}${path}`, 'same-origin');
      expect(own.status).toBe(302);
      expect(new URL(own.location!, a.url).pathname).toBe('/login');
    });
  });

  it('makes attemptSilentLogin() let the page through anonymous, and try at the next page load of this site', async () => {
    await withApp(true, async (a) => {
      const res = await navigate(`${a.url}/page`, 'cross-site');
      expect(res).toMatchObject({ status: 200, body: { page: true, authenticated: false } });
      expect(server.requestsTo('/par')).toHaveLength(0);
      const own = await navigate(`${a.url}/page`, 'same-origin');
      expect(own.status).toBe(302);
      expect(server.requestsTo('/par')).toHaveLength(1);
    });
  });

  it.each([['same-origin'], ['same-site'], ['none'], [undefined]])('is not what a request with Sec-Fetch-Site %s is: it starts the login', async (site) => {
    await withApp(true, async (a) => {
      for (const path of ['/login', '/signup', '/auth/login']) {
        const res = await navigate(`${a.url}${path}`, site);
        expect({ path, status: res.status }).toEqual({ path, status: 302 });
      }
      expect(server.requestsTo('/par')).toHaveLength(3);
    });
  });

  it('does not stop a login that the app starts from a POST (the app protects its own form against CSRF)', async () => {
    await withApp(true, async (a) => {
      expect((await navigate(`${a.url}/start`, 'cross-site', 'POST')).status).toBe(302);
    });
  });
});

describe('without the profile', () => {
  it('starts a login that another site links to, as before', async () => {
    await withApp(false, async (a) => {
      expect((await navigate(`${a.url}/login`, 'cross-site')).status).toBe(302);
      expect((await navigate(`${a.url}/protected`, 'cross-site')).status).toBe(302);
    });
  });
});
