/**
 * Around the login (contract "Around the login", issue #10): res.oidc.login() with per-request
 * parameters, res.oidc.logout() with returnTo and logoutParams, attemptSilentLogin(), and the claim
 * checks, against oidc-provider over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type Express, type Request, type Response } from 'express';
import { Passport } from 'passport';
import { ParStrategy } from '../lib/passport.js';
import { attemptSilentLogin, claimCheck, claimEquals, claimIncludes, parAuth, requiresAuth } from '../lib/index.js';
import type { LoginOptions } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, parseForms, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider, testClient } from './helpers/provider.js';

let provider: TestProvider;
let app: TestApp;
let passportApp: TestApp;
const ADMIN_CLIENT_ID = 'admin-client';

const PROTOCOL_PARAMS = [
  'state', 'nonce', 'redirect_uri', 'code_challenge', 'code_challenge_method', 'response_type', 'client_id',
  'request_uri', 'request', 'dpop_jkt', 'client_secret', 'client_assertion', 'client_assertion_type',
];

function options(baseURL: string) {
  return {
    issuerBaseURL: provider.issuer,
    baseURL,
    clientID: TEST_CLIENT_ID,
    clientSecret: TEST_CLIENT_SECRET,
    authorizationParams: { scope: 'openid profile email', organization: 'org_configured' },
  };
}

/** A route that starts a login with `login` and reports a rejection as JSON (name and message). */
function startsLogin(login: (req: Request) => LoginOptions) {
  return (req: Request, res: Response) => {
    let opts: LoginOptions;
    try {
      opts = login(req);
    } catch (err) {
      res.status(500).json({ name: (err as Error).name, message: (err as Error).message });
      return;
    }
    res.oidc.login(opts).catch((err: Error) => res.status(500).json({ name: err.name, message: err.message }));
  };
}

function mount(a: Express, baseURL: string) {
  a.use(parAuth(options(baseURL)));
  a.get('/signup', startsLogin(() => ({ returnTo: '/welcome', authorizationParams: { screen_hint: 'signup' } })));
  a.get('/invite', startsLogin(() => ({ authorizationParams: { organization: 'org_invited', invitation: 'inv_123' } })));
  a.get('/override', startsLogin((req) => ({ authorizationParams: { [String(req.query.param)]: 'x' } })));
  a.get('/max-age', startsLogin(() => ({ returnTo: '/whoami', authorizationParams: { max_age: 0 } })));
  a.get('/silent-prompt-login', startsLogin(() => ({ silent: true, authorizationParams: { prompt: 'login' } })));
  a.get('/typo', startsLogin(() => ({ returnto: '/x' }) as unknown as LoginOptions));
  a.get('/pending', (req, res) => {
    const signIns = Object.values(req.session.par ?? {});
    res.json(signIns.flatMap((s) => Object.values(s.pending ?? {})).map((tx) => ({ maxAge: tx.m ?? null, silent: tx.s === 1, returnTo: tx.r ?? '/' })));
  });
  a.get('/bye', (_req, res, next) => {
    res.oidc.logout({ returnTo: '/goodbye', logoutParams: { ui_locales: 'fr-FR', logout_hint: 'alice', state: 'xyz' } }).catch(next);
  });
  a.get('/bye-elsewhere', (_req, res, next) => {
    res.oidc.logout({ returnTo: 'https://evil.example/' }).catch(next);
  });
  a.get('/bye-override', (req, res) => {
    res.oidc.logout({ logoutParams: { [String(req.query.param)]: 'x' } }).catch((err: Error) => res.status(500).json({ name: err.name, message: err.message }));
  });
  a.get('/goodbye', (req, res) => {
    res.json({ goodbye: true, authenticated: req.oidc.isAuthenticated() });
  });
  a.get('/whoami', (req, res) => {
    res.json({ authenticated: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub ?? null });
  });
  a.get('/page', attemptSilentLogin(), (req, res) => {
    res.json({ page: true, authenticated: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub ?? null });
  });
  const ok = (_req: Request, res: Response) => {
    res.json({ passed: true });
  };
  a.get('/claims/admin', claimEquals('role', 'admin'), ok);
  a.get('/claims/verified', claimEquals('email_verified', true), ok);
  a.get('/claims/editor', claimIncludes('roles', 'reader', 'editor'), ok);
  a.get('/claims/owner', claimIncludes('roles', 'editor', 'owner'), ok);
  a.get('/claims/staff', claimIncludes('groups', 'staff', 'ops'), ok);
  a.get('/claims/finance', claimIncludes('groups', 'finance'), ok);
  a.get('/claims/self', claimCheck((req, claims) => claims.sub === req.query.sub), ok);
  a.get('/claims/throws', claimCheck(() => {
    throw new Error('directory unavailable');
  }), ok);

  // A second sign-in (another client) in a router under /admin.
  const admin = express.Router();
  admin.use(parAuth({ ...options(`${baseURL}/admin`), clientID: ADMIN_CLIENT_ID }));
  admin.get('/page', attemptSilentLogin(), (req, res) => {
    res.json({ adminPage: true, authenticated: req.oidc.isAuthenticated() });
  });
  admin.get('/me', requiresAuth(), ok);
  a.use('/admin', admin);
}

/** Passport: per-request parameters through passport.authenticate('par', options). */
function mountPassport(a: Express, baseURL: string) {
  const passport = new Passport();
  const strategy = new ParStrategy(
    { ...options(baseURL), callbackPath: '/auth/callback' },
    (tokens, claims, done) => done(null, { id: claims.sub, idToken: tokens.id_token }),
  );
  passport.use(strategy);
  passport.serializeUser((user, done) => done(null, JSON.stringify(user)));
  passport.deserializeUser((raw: string, done) => done(null, JSON.parse(raw)));
  a.use(passport.initialize());
  a.use(passport.session());
  a.get('/auth/signup', passport.authenticate('par', { authorizationParams: { screen_hint: 'signup', organization: 'org_invited' }, returnTo: '/welcome' }));
  a.get('/auth/override', (req, res, next) => passport.authenticate('par', { authorizationParams: { [String(req.query.param)]: 'x' } })(req, res, next));
  a.get('/auth/callback', passport.authenticate('par', { failureRedirect: '/failed' }), (req, res) => {
    res.json({ user: req.user, returnTo: (req.authInfo as { returnTo?: string }).returnTo });
  });
  a.get('/auth/logout-url', (req, res, next) => {
    const logoutParams = req.query.param ? { [String(req.query.param)]: 'x' } : { ui_locales: 'de' };
    strategy.logoutUrl((req.user as { idToken?: string } | undefined)?.idToken, { returnTo: '/goodbye', logoutParams }).then((url) => res.json({ url }), next);
  });
}

beforeAll(async () => {
  app = await startApp(mount);
  passportApp = await startApp(mountPassport);
  provider = await startProvider({
    clients: [
      testClient(TEST_CLIENT_ID, [`${app.url}/callback`, `${passportApp.url}/auth/callback`], [`${app.url}/`, `${app.url}/goodbye`, `${passportApp.url}/goodbye`]),
      testClient(ADMIN_CLIENT_ID, [`${app.url}/admin/callback`]),
    ],
    configure(config) {
      // oidc-provider drops parameters it does not know: the per-request ones must be declared.
      config.extraParams = [...config.extraParams, 'screen_hint', 'invitation'];
      config.claims = { ...config.claims, profile: ['name', 'role', 'roles', 'groups'] };
      config.findAccount = async (_ctx: unknown, sub: string) => ({
        accountId: sub,
        async claims() {
          return { sub, name: `User ${sub}`, email: `${sub}@example.com`, email_verified: true, role: sub === 'root' ? 'admin' : 'member', roles: ['reader', 'editor'], groups: 'staff ops' };
        },
      });
    },
  });
});
afterAll(async () => {
  await app.close();
  await passportApp.close();
  await provider.close();
});

async function login(browser: TestBrowser, name = 'alice') {
  const start = await browser.get(`${app.url}/login?returnTo=%2Fwhoami`);
  expect(start.status).toBe(302);
  const callback = await browser.get(await completeProviderLogin(browser, start.location!, { login: name }));
  expect(callback.status).toBe(302);
}

async function json(browser: TestBrowser, path: string) {
  const res = await browser.get(`${app.url}${path}`);
  return { status: res.status, location: res.location, body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {} };
}

/** Follows redirects from `url` until one leaves the provider; returns that URL, not requested. */
async function backFromProvider(browser: TestBrowser, url: string): Promise<string> {
  let back: string | undefined;
  const chain = await browser.follow(url, {
    stopAt: (u) => {
      if (u.origin === provider.issuer) return false;
      back = u.href;
      return true;
    },
  });
  if (!back) throw new Error(`the provider did not send the browser back: ${chain.at(-1)?.status} ${chain.at(-1)?.body.slice(0, 300)}`);
  return back;
}

describe('res.oidc.login()', () => {
  it('pushes per-request parameters merged over the configured ones, and returns to returnTo', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/signup`);
    expect(start.status).toBe(302);
    expect([...new URL(start.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ screen_hint: 'signup', organization: 'org_configured', scope: 'openid profile email', redirect_uri: `${app.url}/callback` });
    const callback = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/welcome`);
    expect((await json(browser, '/whoami')).body).toEqual({ authenticated: true, sub: 'alice' });
  });

  it('lets a per-request parameter replace the configured one (an organization invitation)', async () => {
    const start = await new TestBrowser().get(`${app.url}/invite`);
    expect(start.status).toBe(302);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ organization: 'org_invited', invitation: 'inv_123' });
  });

  it.each(PROTOCOL_PARAMS)('refuses to override the protocol parameter %s with a TypeError naming it, pushing nothing', async (param) => {
    const pushed = provider.pushedRequests.length;
    const browser = new TestBrowser();
    const res = await json(browser, `/override?param=${param}`);
    expect(res.status).toBe(500);
    expect(res.body.name).toBe('TypeError');
    expect(res.body.message).toContain(`"authorizationParams.${param}"`);
    expect(provider.pushedRequests.length).toBe(pushed);
    expect((await json(browser, '/pending')).body).toEqual([]);
  });

  it('keeps a per-request max_age for the auth_time check (OpenID Connect Core §3.1.3.7)', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/max-age`);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ max_age: '0' });
    expect((await json(browser, '/pending')).body).toEqual([{ maxAge: 0, silent: false, returnTo: '/whoami' }]);
    const callback = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(callback.location).toBe(`${app.url}/whoami`);
    expect((await json(browser, '/whoami')).body.authenticated).toBe(true);
  });

  it('refuses silent: true together with another prompt, and an unknown option', async () => {
    const silent = await json(new TestBrowser(), '/silent-prompt-login');
    expect(silent.body).toMatchObject({ name: 'TypeError', message: expect.stringContaining('"authorizationParams.prompt"') });
    const typo = await json(new TestBrowser(), '/typo');
    expect(typo.body).toMatchObject({ name: 'TypeError', message: expect.stringContaining('"returnto" is not a login option') });
  });
});

describe('GET /login', () => {
  it('takes no authorization parameter from the query, only returnTo', async () => {
    const browser = new TestBrowser();
    const evil = encodeURIComponent('https://evil.example/cb');
    const res = await browser.get(`${app.url}/login?prompt=none&scope=x&redirect_uri=${evil}&screen_hint=signup&organization=org_evil&returnTo=%2Fwhoami`);
    expect(res.status).toBe(302);
    const pushed = provider.pushedRequests.at(-1)!;
    expect(pushed.prompt).toBeUndefined();
    expect(pushed.screen_hint).toBeUndefined();
    expect(pushed).toMatchObject({ scope: 'openid profile email', redirect_uri: `${app.url}/callback`, organization: 'org_configured' });
    expect((await json(browser, '/pending')).body).toEqual([{ maxAge: null, silent: false, returnTo: '/whoami' }]);
  });
});

describe('res.oidc.logout()', () => {
  it('sends returnTo as post_logout_redirect_uri with the extra logoutParams, and the server honours it', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const out = await browser.get(`${app.url}/bye`);
    expect(out.status).toBe(302);
    const location = new URL(out.location!);
    expect(location.origin).toBe(provider.issuer);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      client_id: TEST_CLIENT_ID,
      post_logout_redirect_uri: `${app.url}/goodbye`,
      ui_locales: 'fr-FR',
      logout_hint: 'alice',
      state: 'xyz',
    });
    expect(location.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    expect((await json(browser, '/whoami')).body.authenticated).toBe(false);

    // The provider accepts the registered post_logout_redirect_uri and sends the browser there.
    const chain = await browser.follow(out.location!);
    const page = chain.at(-1)!;
    expect(page.status).toBe(200);
    const form = parseForms(page.body, page.url).find((f) => f.id === 'op.logoutForm');
    expect(form).toBeDefined();
    const confirmed = await browser.post(form!.action, { ...form!.fields, logout: 'yes' });
    expect(confirmed.status).toBeGreaterThanOrEqual(300);
    expect(confirmed.status).toBeLessThan(400);
    const landing = new URL(confirmed.location!);
    expect(`${landing.origin}${landing.pathname}`).toBe(`${app.url}/goodbye`);
    expect(landing.searchParams.get('state')).toBe('xyz');
  });

  it('turns a returnTo that is not a same-origin path into routes.postLogoutRedirect', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const out = await browser.get(`${app.url}/bye-elsewhere`);
    expect(new URL(out.location!).searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/`);
  });

  it('redirects an anonymous browser straight to returnTo when there is no login to end', async () => {
    const out = await new TestBrowser().get(`${app.url}/bye`);
    expect(out.status).toBe(302);
    expect(out.location).toBe(`${app.url}/goodbye`);
  });

  it.each(['id_token_hint', 'client_id', 'post_logout_redirect_uri'])('refuses logoutParams.%s with a TypeError and keeps the login', async (param) => {
    const browser = new TestBrowser();
    await login(browser);
    const res = await json(browser, `/bye-override?param=${param}`);
    expect(res.body).toMatchObject({ name: 'TypeError', message: expect.stringContaining(`"logoutParams.${param}"`) });
    expect((await json(browser, '/whoami')).body.authenticated).toBe(true);
  });
});

describe('attemptSilentLogin()', () => {
  it('without a provider session: prompt=none, back to the page anonymous, and not again', async () => {
    const browser = new TestBrowser();
    const first = await browser.get(`${app.url}/page?tab=1`);
    expect(first.status).toBe(302);
    expect(new URL(first.location!).origin).toBe(provider.issuer);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ prompt: 'none', client_id: TEST_CLIENT_ID });
    const callbackUrl = await backFromProvider(browser, first.location!);
    expect(new URL(callbackUrl).searchParams.get('error')).toBe('login_required');
    const callback = await browser.get(callbackUrl);
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/page?tab=1`);
    const pushed = provider.pushedRequests.length;
    expect(await json(browser, '/page?tab=1')).toMatchObject({ status: 200, body: { page: true, authenticated: false } });
    expect(await json(browser, '/page')).toMatchObject({ status: 200, body: { authenticated: false } });
    expect(provider.pushedRequests.length).toBe(pushed);
    expect(app.errors.filter((e) => e.code === 'login_required')).toEqual([]);
  });

  it('with a provider session: signs the user in without showing anything', async () => {
    const browser = new TestBrowser();
    // Sign in at the provider only: the app's callback is never called, so the app stays anonymous.
    const start = await browser.get(`${app.url}/login`);
    await completeProviderLogin(browser, start.location!, { login: 'carol' });
    expect((await json(browser, '/whoami')).body.authenticated).toBe(false);

    const first = await browser.get(`${app.url}/page`);
    expect(first.status).toBe(302);
    const callbackUrl = await backFromProvider(browser, first.location!);
    expect(new URL(callbackUrl).searchParams.get('code')).toBeTruthy();
    const callback = await browser.get(callbackUrl);
    expect(callback.location).toBe(`${app.url}/page`);
    expect((await json(browser, '/page')).body).toEqual({ page: true, authenticated: true, sub: 'carol' });
  });

  it('does not run again after a logout (no silent login straight back in)', async () => {
    const browser = new TestBrowser();
    const first = await browser.get(`${app.url}/page`);
    await browser.get(await backFromProvider(browser, first.location!));
    await login(browser);
    await browser.get(`${app.url}/logout`);
    expect(await json(browser, '/page')).toMatchObject({ status: 200, body: { authenticated: false } });
  });

  it.each(['/logout', '/bye'])('does not sign the user straight back in after %s, although the provider kept its session', async (path) => {
    const browser = new TestBrowser();
    await login(browser); // signed in through /login: no silent attempt was ever made in this session
    const out = await browser.get(`${app.url}${path}`);
    expect(new URL(out.location!).origin).toBe(provider.issuer); // end_session_endpoint, not followed: the provider session stays
    const pushed = provider.pushedRequests.length;
    expect(await json(browser, '/page')).toMatchObject({ status: 200, body: { page: true, authenticated: false } });
    expect(provider.pushedRequests.length).toBe(pushed);
  });

  it('lets HEAD, scripts, prefetches and signed-in users through, changing nothing', async () => {
    const pushed = provider.pushedRequests.length;
    const head = await fetch(`${app.url}/page`, { method: 'HEAD', headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('set-cookie')).toBeNull();
    for (const headers of [{ accept: 'application/json' }, { accept: 'text/html', 'sec-fetch-dest': 'empty' }, { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' }, { accept: 'text/html', 'sec-purpose': 'prefetch' }] as Array<Record<string, string>>) {
      const res = await fetch(`${app.url}/page`, { headers, redirect: 'manual' });
      expect({ headers, status: res.status }).toEqual({ headers, status: 200 });
    }
    expect(provider.pushedRequests.length).toBe(pushed);
    const browser = new TestBrowser();
    await login(browser);
    expect(await json(browser, '/page')).toMatchObject({ status: 200, body: { authenticated: true } });
    expect(provider.pushedRequests.length).toBe(pushed + 1);
  });

  it('keeps a separate once-per-session mark for a second mount', async () => {
    const browser = new TestBrowser();
    const root = await browser.get(`${app.url}/page`);
    expect(root.status).toBe(302);
    await browser.get(await backFromProvider(browser, root.location!));

    const admin = await browser.get(`${app.url}/admin/page`);
    expect(admin.status).toBe(302);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ prompt: 'none', client_id: ADMIN_CLIENT_ID, redirect_uri: `${app.url}/admin/callback` });
    const callbackUrl = await backFromProvider(browser, admin.location!);
    expect(callbackUrl.startsWith(`${app.url}/admin/callback?`)).toBe(true);
    const callback = await browser.get(callbackUrl);
    expect(callback.location).toBe(`${app.url}/admin/page`);
    expect(await json(browser, '/admin/page')).toMatchObject({ status: 200, body: { adminPage: true, authenticated: false } });
    expect(await json(browser, '/page')).toMatchObject({ status: 200, body: { authenticated: false } });
  });

  /** Starts a silent login and answers its callback with `error` (as a server would), state and iss right. */
  async function silentCallbackWith(error: string) {
    const browser = new TestBrowser();
    const first = await browser.get(`${app.url}/page?from=${error}`);
    expect(first.status).toBe(302);
    const { state } = provider.pushedRequests.at(-1)!;
    const query = new URLSearchParams({ error, state: String(state), iss: provider.issuer });
    return { browser, res: await browser.get(`${app.url}/callback?${query}`) };
  }

  it.each(['consent_required', 'interaction_required', 'account_selection_required'])('brings the user back anonymous on %s', async (error) => {
    const { browser, res } = await silentCallbackWith(error);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${app.url}/page?from=${error}`);
    expect((await json(browser, `/page?from=${error}`)).body.authenticated).toBe(false);
  });

  it.each([
    ['server_error', 400, 'authorization_error'],
    ['access_denied', 403, 'access_denied'],
  ])('passes any other error (%s) to next(err)', async (error, status, code) => {
    const { res } = await silentCallbackWith(error);
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body).code).toBe(code);
  });

  it('still reports login_required for a login that was not silent', async () => {
    const browser = new TestBrowser();
    await browser.get(`${app.url}/login`);
    const { state } = provider.pushedRequests.at(-1)!;
    const res = await browser.get(`${app.url}/callback?${new URLSearchParams({ error: 'login_required', state: String(state), iss: provider.issuer })}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).code).toBe('login_required');
  });
});

describe('claim checks', () => {
  it('behave like requiresAuth() when logged out: a browser goes to the login, an API call gets 401', async () => {
    const res = await new TestBrowser().get(`${app.url}/claims/admin`);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${app.url}/login?returnTo=${encodeURIComponent('/claims/admin')}`);
    const api = await fetch(`${app.url}/claims/editor`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(401);
    expect(((await api.json()) as { code: string }).code).toBe('login_required');
  });

  it('let a user whose claims pass through, and answer 403 insufficient_claims otherwise, never the login', async () => {
    const browser = new TestBrowser();
    await login(browser, 'alice');
    for (const path of ['/claims/verified', '/claims/editor', '/claims/staff', '/claims/self?sub=alice']) {
      expect({ path, ...(await json(browser, path)) }).toMatchObject({ path, status: 200, body: { passed: true } });
    }
    for (const path of ['/claims/admin', '/claims/owner', '/claims/finance', '/claims/self?sub=bob']) {
      const res = await json(browser, path);
      expect({ path, status: res.status, code: res.body.code, location: res.location }).toEqual({ path, status: 403, code: 'insufficient_claims', location: undefined });
    }
    const root = new TestBrowser();
    await login(root, 'root');
    expect(await json(root, '/claims/admin')).toMatchObject({ status: 200, body: { passed: true } });
  });

  it('pass an exception thrown by claimCheck to next(err)', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const res = await json(browser, '/claims/throws');
    expect(res.status).toBe(500);
    expect(res.body.message).toBe('directory unavailable');
  });

  it('throw a TypeError at set-up for bad arguments', () => {
    expect(() => claimEquals('', 'x')).toThrow(TypeError);
    expect(() => claimEquals('role', {} as unknown as string)).toThrow(/strings, numbers, booleans or null/);
    expect(() => claimIncludes('roles')).toThrow(/at least one/);
    expect(() => claimCheck('admin' as unknown as () => boolean)).toThrow(TypeError);
  });
});

describe('Passport: passport.authenticate(\'par\', { authorizationParams, returnTo })', () => {
  it('pushes the per-request parameters and returns to returnTo', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${passportApp.url}/auth/signup`);
    expect(start.status).toBe(302);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ screen_hint: 'signup', organization: 'org_invited', scope: 'openid profile email', redirect_uri: `${passportApp.url}/auth/callback` });
    const callback = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(callback.status).toBe(200);
    expect(JSON.parse(callback.body)).toMatchObject({ user: { id: 'alice' }, returnTo: '/welcome' });

    const logout = JSON.parse((await browser.get(`${passportApp.url}/auth/logout-url`)).body) as { url: string };
    expect(Object.fromEntries(new URL(logout.url).searchParams)).toMatchObject({ post_logout_redirect_uri: `${passportApp.url}/goodbye`, ui_locales: 'de', client_id: TEST_CLIENT_ID });
  });

  it.each(['state', 'redirect_uri', 'code_challenge', 'client_id', 'request_uri'])('gives a protocol parameter (%s) to error() as a TypeError, pushing nothing', async (param) => {
    const pushed = provider.pushedRequests.length;
    const res = await new TestBrowser().get(`${passportApp.url}/auth/override?param=${param}`);
    expect(res.status).toBe(500);
    expect(passportApp.errors.at(-1)!.message).toContain(`"authorizationParams.${param}"`);
    expect(provider.pushedRequests.length).toBe(pushed);
  });

  it('refuses a protocol parameter in logoutUrl()\'s logoutParams with a TypeError', async () => {
    const res = await new TestBrowser().get(`${passportApp.url}/auth/logout-url?param=id_token_hint`);
    expect(res.status).toBe(500);
    expect(passportApp.errors.at(-1)!.message).toContain('"logoutParams.id_token_hint"');
  });
});
