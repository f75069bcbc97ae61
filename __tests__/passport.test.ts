import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Express, NextFunction, Request, Response } from 'express';
import { Passport } from 'passport';
import { ParStrategy, type ParClaims, type ParTokenSet } from '../lib/passport.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

let providerA: TestProvider;
let providerB: TestProvider;
let app: TestApp;
const verifyCalls: Array<{ strategy: string; tokens: ParTokenSet; claims: ParClaims }> = [];

interface TestUser {
  id: string;
  iss: string;
  strategy: string;
  path?: string;
  idToken?: string;
}

function options(issuer: string, baseURL: string, callbackPath: string) {
  return { issuerBaseURL: issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET, callbackPath };
}

function verifyFor(strategy: string) {
  return (tokens: ParTokenSet, claims: ParClaims, done: (err: unknown, user?: TestUser | false, info?: Record<string, unknown>) => void) => {
    verifyCalls.push({ strategy, tokens, claims });
    if (claims.sub === 'mallory') return done(null, false, { message: 'mallory is not welcome' });
    if (claims.sub === 'crash') throw new Error('user directory down');
    done(null, { id: claims.sub, iss: String(claims.iss), strategy, idToken: tokens.id_token });
  };
}

function mount(a: Express, baseURL: string) {
  const passport = new Passport();
  const par = new ParStrategy(options(providerA.issuer, baseURL, '/auth/callback'), verifyFor('par'));
  passport.use(par);
  passport.use(new ParStrategy({ ...options(providerA.issuer, baseURL, '/auth/return/callback'), name: 'par-return' }, verifyFor('par-return')));
  passport.use(new ParStrategy({ ...options(providerA.issuer, baseURL, '/auth/custom/callback'), name: 'par-custom' }, verifyFor('par-custom')));
  passport.use(new ParStrategy({ ...options(providerA.issuer, baseURL, '/auth/req/callback'), name: 'par-req', passReqToCallback: true }, (req, tokens, claims, done) => {
    verifyCalls.push({ strategy: 'par-req', tokens, claims });
    done(null, { id: claims.sub, iss: String(claims.iss), strategy: 'par-req', path: req.path });
  }));
  passport.use(new ParStrategy({ ...options(providerA.issuer, baseURL, '/auth/a/callback'), name: 'par-a' }, verifyFor('par-a')));
  passport.use(new ParStrategy({ ...options(providerB.issuer, baseURL, '/auth/b/callback'), name: 'par-b' }, verifyFor('par-b')));
  passport.serializeUser((user, done) => done(null, JSON.stringify(user)));
  passport.deserializeUser((raw: string, done) => done(null, JSON.parse(raw)));
  a.use(passport.initialize());
  a.use(passport.session());

  const failure = { failureRedirect: '/failed', failureMessage: true };
  for (const name of ['par', 'par-req', 'par-a', 'par-b']) {
    const prefix = name === 'par' ? '/auth' : `/auth/${name.slice(4)}`;
    a.get(`${prefix}/login`, passport.authenticate(name));
    a.get(`${prefix}/callback`, passport.authenticate(name, failure), (req, res) => {
      res.redirect(`/profile?returnTo=${encodeURIComponent(String((req.authInfo as { returnTo?: string }).returnTo))}`);
    });
  }
  a.get('/auth/return/login', passport.authenticate('par-return'));
  a.get('/auth/return/callback', passport.authenticate('par-return', { ...failure, successReturnToOrRedirect: '/default', keepSessionInfo: true }));
  a.get('/auth/custom/login', passport.authenticate('par-custom'));
  a.get('/auth/custom/callback', (req: Request, res: Response, next: NextFunction) => {
    passport.authenticate('par-custom', (err: unknown, user: TestUser | false, info: Record<string, unknown> | undefined, status?: number) => {
      if (err) return next(err);
      if (!user) return res.status(status ?? 401).json({ refused: true, info });
      req.logIn(user, (loginErr) => (loginErr ? next(loginErr) : res.json({ custom: true, user, info })));
    })(req, res, next);
  });
  a.get('/auth/logout', (req, res, next) => {
    const idToken = (req.user as TestUser | undefined)?.idToken;
    req.logout((err) => {
      if (err) return next(err);
      par.logoutUrl(idToken).then((url) => res.redirect(url ?? '/'), next);
    });
  });
  a.get('/profile', (req, res) => {
    if (req.isAuthenticated()) res.json({ authenticated: true, user: req.user });
    else res.status(401).json({ authenticated: false });
  });
  a.get('/failed', (req, res) => {
    res.json({ messages: (req.session as unknown as { messages?: string[] }).messages ?? [] });
  });
}

beforeAll(async () => {
  app = await startApp(mount);
  const paths = ['/auth/callback', '/auth/return/callback', '/auth/custom/callback', '/auth/req/callback', '/auth/a/callback'];
  providerA = await startProvider({ redirectUris: paths.map((p) => `${app.url}${p}`) });
  providerB = await startProvider({ redirectUris: [`${app.url}/auth/b/callback`] });
});
afterAll(async () => {
  await app.close();
  await providerA.close();
  await providerB.close();
});

async function startLogin(browser: TestBrowser, path: string) {
  const res = await browser.get(`${app.url}${path}`);
  expect(res.status).toBe(302);
  return res.location!;
}

async function callbackUrl(browser: TestBrowser, loginPath: string, opts: { login?: string; cancel?: boolean } = {}) {
  return completeProviderLogin(browser, await startLogin(browser, loginPath), opts);
}

/** Starts two logins in one browser (two tabs), then completes both at the provider; the callback URLs. */
async function twoTabs(browser: TestBrowser, loginA: string, loginB: string): Promise<[string, string]> {
  const tabA = await startLogin(browser, loginA);
  const tabB = await startLogin(browser, loginB);
  return [await completeProviderLogin(browser, tabA), await completeProviderLogin(browser, tabB)];
}

async function profile(browser: TestBrowser) {
  const res = await browser.get(`${app.url}/profile`);
  return { status: res.status, ...(JSON.parse(res.body) as { authenticated: boolean; user?: TestUser }) };
}

async function failureMessages(browser: TestBrowser): Promise<string[]> {
  return JSON.parse((await browser.get(`${app.url}/failed`)).body).messages;
}

describe('ParStrategy login', () => {
  it('pushes the authorization request and redirects with only client_id and request_uri', async () => {
    const location = new URL(await startLogin(new TestBrowser(), '/auth/login'));
    expect(location.origin).toBe(providerA.issuer);
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(providerA.pushedRequests.at(-1)).toMatchObject({ redirect_uri: `${app.url}/auth/callback`, code_challenge_method: 'S256', response_type: 'code' });
  });

  it('calls verify with the tokens and claims, serializes the user into the session and exposes req.user', async () => {
    const browser = new TestBrowser();
    const before = browser.cookies('127.0.0.1')['app.sid'];
    const callback = await browser.get(await callbackUrl(browser, '/auth/login'));
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/profile?returnTo=%2F`);
    const call = verifyCalls.at(-1)!;
    expect(call.strategy).toBe('par');
    expect(call.tokens).toMatchObject({ token_type: 'Bearer', id_token: expect.stringMatching(/^eyJ/), access_token: expect.any(String) });
    expect(call.claims).toMatchObject({ sub: 'alice', iss: providerA.issuer, aud: TEST_CLIENT_ID, email: 'alice@example.com' });
    expect(await profile(browser)).toMatchObject({ status: 200, authenticated: true, user: { id: 'alice', iss: providerA.issuer, strategy: 'par', idToken: call.tokens.id_token } });
    expect(browser.cookies('127.0.0.1')['app.sid']).not.toBe(before); // passport's req.login regenerated it
  });

  it('lands on the returnTo of the login with successReturnToOrRedirect and keepSessionInfo', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(await callbackUrl(browser, `/auth/return/login?returnTo=${encodeURIComponent('/profile?tab=2')}`));
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${app.url}/profile?tab=2`);
    expect((await profile(browser)).user).toMatchObject({ id: 'alice', strategy: 'par-return' });
  });

  it('falls back to the successReturnToOrRedirect URL when the login had no returnTo', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(await callbackUrl(browser, '/auth/return/login'));
    expect(res.location).toBe(`${app.url}/default`);
  });

  it('keeps the returnTo of each tab in req.authInfo', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(await callbackUrl(browser, `/auth/login?returnTo=${encodeURIComponent('/orders/7')}`));
    expect(res.location).toBe(`${app.url}/profile?returnTo=${encodeURIComponent('/orders/7')}`);
  });

  it('passes the request to verify with passReqToCallback', async () => {
    const browser = new TestBrowser();
    expect((await browser.get(await callbackUrl(browser, '/auth/req/login'))).status).toBe(302);
    expect((await profile(browser)).user).toEqual({ id: 'alice', iss: providerA.issuer, strategy: 'par-req', path: '/auth/req/callback' });
  });
});

describe('ParStrategy logout', () => {
  it('ends the passport login with req.logout and redirects to the end_session_endpoint with id_token_hint', async () => {
    const browser = new TestBrowser();
    await browser.get(await callbackUrl(browser, '/auth/login'));
    const { user } = await profile(browser);
    const out = await browser.get(`${app.url}/auth/logout`);
    expect(out.status).toBe(302);
    const location = new URL(out.location!);
    expect(location.origin).toBe(providerA.issuer);
    expect(location.searchParams.get('id_token_hint')).toBe(user!.idToken);
    expect(location.searchParams.get('client_id')).toBe(TEST_CLIENT_ID);
    expect((await profile(browser)).authenticated).toBe(false);
  });
});

describe('ParStrategy failures', () => {
  it('fails a forged state to failureRedirect with a message and logs nobody in', async () => {
    const browser = new TestBrowser();
    const forged = new URL(await callbackUrl(browser, '/auth/login'));
    forged.searchParams.set('state', 'A'.repeat(43));
    const calls = verifyCalls.length;
    const res = await browser.get(forged.href);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${app.url}/failed`);
    expect((await failureMessages(browser))[0]).toContain('matches no pending login');
    expect(verifyCalls.length).toBe(calls);
    expect(await profile(browser)).toEqual({ status: 401, authenticated: false });
  });

  it('sends a login cancelled at the provider (access_denied) to failureRedirect with failureMessage', async () => {
    const browser = new TestBrowser();
    const callback = new URL(await callbackUrl(browser, '/auth/login', { cancel: true }));
    expect(callback.searchParams.get('error')).toBe('access_denied');
    const res = await browser.get(callback.href);
    expect(res.location).toBe(`${app.url}/failed`);
    expect(await failureMessages(browser)).toEqual([expect.stringContaining('access_denied')]);
    expect((await profile(browser)).authenticated).toBe(false);
  });

  it('reports a replayed callback to a custom callback as a 400 state_mismatch failure', async () => {
    const browser = new TestBrowser();
    const url = await callbackUrl(browser, '/auth/custom/login');
    expect(JSON.parse((await browser.get(url)).body)).toMatchObject({ custom: true, user: { id: 'alice', strategy: 'par-custom' }, info: { returnTo: '/' } });
    const other = new TestBrowser();
    const replay = await other.get(url);
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toMatchObject({ refused: true, info: { code: 'state_mismatch' } });
    expect((await profile(other)).authenticated).toBe(false);
  });

  it('hands a user refused by verify to the custom callback with the verify info', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(await callbackUrl(browser, '/auth/custom/login', { login: 'mallory' }));
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ refused: true, info: { message: 'mallory is not welcome' } });
    expect((await profile(browser)).authenticated).toBe(false);
  });

  it('passes an error thrown by verify to the custom callback as err', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(await callbackUrl(browser, '/auth/custom/login', { login: 'crash' }));
    expect(res.status).toBe(500);
    expect(app.errors.at(-1)).toMatchObject({ message: 'user directory down' });
    expect((await profile(browser)).authenticated).toBe(false);
  });

  it('loses another tab\'s pending login when req.login regenerates the session without keepSessionInfo', async () => {
    const browser = new TestBrowser();
    const [callbackA, callbackB] = await twoTabs(browser, '/auth/login', '/auth/login');
    expect((await browser.get(callbackA)).location).toBe(`${app.url}/profile?returnTo=%2F`);
    expect((await browser.get(callbackB)).location).toBe(`${app.url}/failed`);
    expect((await profile(browser)).user).toMatchObject({ id: 'alice' }); // a failed callback does not log out tab A's login
  });

  it('keeps another tab\'s pending login with keepSessionInfo', async () => {
    const browser = new TestBrowser();
    const [callbackA, callbackB] = await twoTabs(browser, '/auth/return/login?returnTo=/a', '/auth/return/login?returnTo=/b');
    expect((await browser.get(callbackB)).location).toBe(`${app.url}/b`);
    expect((await browser.get(callbackA)).location).toBe(`${app.url}/a`);
  });
});

describe('ParStrategy setup', () => {
  it('explains that express-session is missing', async () => {
    const bare = await startApp((a, baseURL) => {
      const passport = new Passport();
      passport.use(new ParStrategy(options(providerA.issuer, baseURL, '/auth/callback'), verifyFor('bare')));
      a.use(passport.initialize());
      a.get('/auth/login', passport.authenticate('par', { session: false }));
    }, { session: false });
    try {
      const res = await new TestBrowser().get(`${bare.url}/auth/login`);
      expect(res.status).toBe(500);
      const body = JSON.parse(res.body);
      expect(body.code).toBe('session_unavailable');
      expect(body.message).toContain('express-session');
    } finally {
      await bare.close();
    }
  });

  it('rejects wrong options with a TypeError naming the option', () => {
    const base = options('https://issuer.example', 'https://app.example', '/cb');
    const verify = verifyFor('x');
    expect(() => new ParStrategy({ ...base, callbackPath: 'cb' }, verify)).toThrow(/"callbackPath"/);
    expect(() => new ParStrategy({ ...base, clientID: '' }, verify)).toThrow(/"clientID"/);
    expect(() => new ParStrategy({ ...base, afterCallback: () => ({}) } as never, verify)).toThrow(/"afterCallback"/);
    expect(() => new ParStrategy(base, undefined as never)).toThrow(TypeError);
    expect(new ParStrategy(base, verify).name).toBe('par');
  });
});

describe('two ParStrategy instances with different issuers', () => {
  it('logs in through either issuer under its own strategy name', async () => {
    const a = new TestBrowser();
    expect((await a.get(await callbackUrl(a, '/auth/a/login'))).status).toBe(302);
    expect((await profile(a)).user).toMatchObject({ iss: providerA.issuer, strategy: 'par-a' });
    const b = new TestBrowser();
    const loginB = new URL(await startLogin(b, '/auth/b/login'));
    expect(loginB.origin).toBe(providerB.issuer);
    expect((await b.get(await completeProviderLogin(b, loginB.href, { login: 'bob' }))).status).toBe(302);
    expect((await profile(b)).user).toMatchObject({ id: 'bob', iss: providerB.issuer, strategy: 'par-b' });
  });

  it('refuses issuer A\'s response delivered to issuer B\'s callback (the transaction is bound to A\'s redirect_uri) and logs nobody in', async () => {
    const browser = new TestBrowser();
    const fromA = new URL(await callbackUrl(browser, '/auth/a/login'));
    const misdelivered = new URL(`/auth/b/callback${fromA.search}`, app.url);
    const tokenRequests = providerB.tokenRequests.length;
    const res = await browser.get(misdelivered.href);
    expect(res.location).toBe(`${app.url}/failed`);
    expect((await failureMessages(browser))[0]).toContain('matches no pending login');
    expect(providerB.tokenRequests).toHaveLength(tokenRequests);
    expect((await profile(browser)).authenticated).toBe(false);
  });
});
