/**
 * auth(), the drop-in for express-openid-connect apps (issue #26), over real HTTP against oidc-provider:
 * every route protected by default, a session of its own when the app mounts none, EOC's req.oidc and
 * res.oidc (accessToken object with isExpired() and refresh(), idTokenClaims, callback()), afterCallback's
 * session and decodedState, local logout by default, idpLogout, custom routes, attemptSilentLogin, an
 * app's own express-session kept, session.absoluteDuration; and parAuth()'s res.oidc.callback().
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import express, { type ErrorRequestHandler, type Express } from 'express';
import session from 'express-session';
import { auth, claimCheck, parAuth, requiresAuth, type ConfigParams, type Session } from '../lib/index.js';
import { listen } from './helpers/app.js';
import { completeProviderLogin, parseForms, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

interface App {
  url: string;
  close(): Promise<void>;
  errors: Array<{ status?: number; code?: string; message: string }>;
}

let provider: TestProvider;
const apps: Record<string, App> = {};
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const offline = { scope: 'openid profile email offline_access', prompt: 'consent' };

function options(baseURL: string, extra: ConfigParams = {}): ConfigParams {
  return {
    issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET,
    secret: 'a long random value for the session', ...extra,
  };
}

/** An app built by `mount` (after auth() or parAuth()), with a JSON error handler recording what reached it. */
async function start(name: string, mount: (app: Express, url: string) => void): Promise<void> {
  const errors: App['errors'] = [];
  const server = await listen((url) => {
    const app = express();
    mount(app, url);
    const onError: ErrorRequestHandler = (err, _req, res, _next) => {
      errors.push({ status: err.status, code: err.code, message: String(err.message) });
      res.status(typeof err.status === 'number' ? err.status : 500).json({ code: err.code });
    };
    app.use(onError);
    return app;
  });
  apps[name] = { ...server, errors };
}

// The afterCallback calls of the "options" app.
const afterCallbackCalls: Array<{ session: Session; state: Record<string, unknown>; userDuring: unknown }> = [];

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  await Promise.all([
    start('plain', (app, url) => {
      app.use(auth(options(url, { authorizationParams: { response_type: 'code', ...offline } })));
      app.get('/', (req, res) => void res.send(`hello ${req.oidc.user!.sub}`));
      app.get('/api', (_req, res) => void res.json({ ok: true }));
      app.get('/context', (req, res) => {
        const { access_token, token_type, expires_in, isExpired } = req.oidc.accessToken!;
        res.json({
          accessToken: { access_token, token_type, expires_in, isExpired: isExpired() },
          idTokenClaims: req.oidc.idTokenClaims, user: req.oidc.user, refreshToken: req.oidc.refreshToken,
          isAuthenticated: req.oidc.isAuthenticated(),
        });
      });
      app.get('/refresh', async (req, res) => {
        const { access_token: before, refresh } = req.oidc.accessToken!;
        const fresh = await refresh();
        res.json({ before, after: fresh.access_token, stored: req.oidc.accessToken!.access_token, refreshToken: req.oidc.refreshToken });
      });
    }),
    start('options', (app, url) => {
      app.use(auth(options(url, {
        authRequired: false,
        idpLogout: true,
        routes: { postLogoutRedirect: '/custom-logout' },
        logoutParams: { ui_locales: 'fr' },
        getLoginState: (_req, login) => ({ returnTo: login.returnTo, flow: 'signup' }),
        afterCallback: (req, _res, session, state) => {
          afterCallbackCalls.push({ session: { ...session }, state, userDuring: req.oidc.user?.sub });
          return { ...session, userProfile: { plan: 'gold' }, access_token: undefined } as unknown as Session;
        },
      })));
      app.get('/', (req, res) => void res.send(req.oidc.isAuthenticated() ? 'in' : 'out'));
      app.get('/profile', requiresAuth(), (req, res) => {
        res.json({ appSession: (req as unknown as { appSession: unknown }).appSession, accessToken: req.oidc.accessToken ?? null, sub: req.oidc.user!.sub });
      });
      app.get('/issuer-only', claimCheck((_req, claims) => claims.iss === provider.issuer), (_req, res) => void res.send('ok'));
      // EOC apps pass absolute URLs: the app's own origin is followed, another is not (RFC 9700 §4.11).
      app.get('/go', (req, res) => res.oidc.login({ returnTo: String(req.query.to) }));
      app.get('/leave', (req, res) => res.oidc.logout({ returnTo: String(req.query.to) }));
    }),
    start('custom', (app, url) => {
      app.use(auth(options(url, { authRequired: false, routes: { login: false, callback: false } })));
      // EOC's custom-routes example: no catch, no next (Express 4 would leave a rejection unhandled).
      app.get('/login', (_req, res) => res.oidc.login({ returnTo: '/profile', authorizationParams: { redirect_uri: `${url}/callback` } }));
      app.get('/callback', (_req, res) => res.oidc.callback({ redirectUri: `${url}/callback` }));
      app.get('/profile', requiresAuth(), (req, res) => void res.send(`hello ${req.oidc.user!.sub}`));
    }),
    start('silent', (app, url) => {
      app.use(auth(options(url, { authRequired: false, attemptSilentLogin: true })));
      app.get('/', (req, res) => void res.send(req.oidc.isAuthenticated() ? `hello ${req.oidc.user!.sub}` : 'anonymous'));
    }),
    start('own-session', (app, url) => {
      app.use(session({ name: 'own.sid', secret: 'the app\'s own secret', resave: false, saveUninitialized: false }));
      app.use(auth(options(url, { session: { name: 'ignored' } })));
      app.get('/', (req, res) => void res.send(`hello ${req.oidc.user!.sub}`));
    }),
    start('absolute', (app, url) => {
      app.use(auth(options(url, { authRequired: false, session: { rollingDuration: 30 * 86400, absoluteDuration: 3600 } })));
      app.get('/', (req, res) => void res.send(req.oidc.isAuthenticated() ? 'in' : 'out'));
    }),
    start('par', (app, url) => {
      app.use(session({ secret: 'the app\'s own secret', resave: false, saveUninitialized: false }));
      const { issuerBaseURL, clientID, clientSecret } = options(url) as Required<ConfigParams>;
      app.use(parAuth({ issuerBaseURL, baseURL: url, clientID, clientSecret, routes: { callback: false } }));
      app.get('/callback', (_req, res, next) => void res.oidc.callback().catch(next));
      app.get('/', (req, res) => void res.json({ type: typeof req.oidc.accessToken, in: req.oidc.isAuthenticated() }));
    }),
  ]);
  const urls = Object.values(apps).map((app) => app.url);
  provider = await startProvider({
    redirectUris: urls.map((url) => `${url}/callback`),
    postLogoutRedirectUris: urls.flatMap((url) => [url, `${url}/custom-logout`]),
    configure: (config) => {
      config.rotateRefreshToken = true;
    },
  });
});

afterEach(() => {
  jest.restoreAllMocks();
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await Promise.all(Object.values(apps).map((app) => app.close()));
  await provider?.close();
});

/** From a URL that sends the browser to the provider, through its login, to the page the app sends it to. */
async function loginFrom(browser: TestBrowser, start: string, login = 'alice') {
  const first = await browser.get(start);
  expect(first.status).toBe(302);
  expect(first.location!.startsWith(provider.issuer)).toBe(true);
  const callback = await completeProviderLogin(browser, first.location!, { login });
  return { first, callback, chain: await browser.follow(callback) };
}

describe('auth() with EOC\'s defaults', () => {
  it('protects every route after it: a page load starts the login there, an API call gets 401 (authRequired)', async () => {
    const pushed = provider.pushedRequests.length;
    const page = await new TestBrowser().get(`${apps.plain!.url}/api`);
    expect(page.status).toBe(302);
    expect([...new URL(page.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(provider.pushedRequests.length).toBe(pushed + 1);
    const api = await fetch(`${apps.plain!.url}/api`, { headers: { accept: 'application/json' }, redirect: 'manual' });
    expect(api.status).toBe(401);
    expect(await api.json()).toEqual({ code: 'login_required' });
  });

  it('mounts a session of its own (cookie appSession) and logs in back to the page asked for', async () => {
    const browser = new TestBrowser();
    const { chain } = await loginFrom(browser, `${apps.plain!.url}/`);
    expect(chain.at(-1)).toMatchObject({ status: 200, body: 'hello alice', url: `${apps.plain!.url}/` });
    expect(Object.keys(browser.cookies(apps.plain!.url))).toContain('appSession');
    expect(provider.pushedRequests.at(-1)).toMatchObject({ redirect_uri: `${apps.plain!.url}/callback`, response_type: 'code' });
  });

  it('gives req.oidc EOC\'s shapes: the accessToken object, idTokenClaims, user without the protocol claims', async () => {
    const browser = new TestBrowser();
    await loginFrom(browser, `${apps.plain!.url}/`);
    const context = JSON.parse((await browser.get(`${apps.plain!.url}/context`)).body);
    expect(context.accessToken).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number), isExpired: false });
    expect(context.accessToken.expires_in).toBeGreaterThan(3500);
    expect(context.idTokenClaims).toMatchObject({
      sub: 'alice', iss: provider.issuer, aud: TEST_CLIENT_ID, iat: expect.any(Number), nonce: expect.any(String),
    });
    expect(context.user).toEqual({ sub: 'alice', name: 'User alice', email: 'alice@example.com', email_verified: true });
    expect(context.refreshToken).toEqual(expect.any(String));
  });

  it('says the access token has expired once it has (isExpired(), expires_in 0)', async () => {
    const browser = new TestBrowser();
    await loginFrom(browser, `${apps.plain!.url}/`);
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 2 * 3600 * 1000);
    const context = JSON.parse((await browser.get(`${apps.plain!.url}/context`)).body);
    expect(context.accessToken).toMatchObject({ isExpired: true, expires_in: 0 });
  });

  it('refresh() resolves to the new access token and stores the rotation', async () => {
    const browser = new TestBrowser();
    await loginFrom(browser, `${apps.plain!.url}/`);
    const before = JSON.parse((await browser.get(`${apps.plain!.url}/context`)).body);
    const refreshed = JSON.parse((await browser.get(`${apps.plain!.url}/refresh`)).body);
    expect(refreshed.after).not.toBe(refreshed.before);
    expect(refreshed.stored).toBe(refreshed.after);
    expect(refreshed.refreshToken).not.toBe(before.refreshToken);
    const after = JSON.parse((await browser.get(`${apps.plain!.url}/context`)).body);
    expect([after.accessToken.access_token, after.refreshToken]).toEqual([refreshed.after, refreshed.refreshToken]);
  });

  it('logs out locally (idpLogout false): back to baseURL, the provider not asked, the next page a new login', async () => {
    const browser = new TestBrowser();
    await loginFrom(browser, `${apps.plain!.url}/`);
    const logout = await browser.get(`${apps.plain!.url}/logout`);
    expect(logout).toMatchObject({ status: 302, location: `${apps.plain!.url}/` });
    const next = await browser.get(`${apps.plain!.url}/`);
    expect(next.status).toBe(302);
    expect(next.location!.startsWith(`${provider.issuer}/auth?`)).toBe(true);
  });
});

describe('auth() with EOC\'s options', () => {
  it('runs afterCallback with EOC\'s session and the decoded state, req.oidc describing the incoming login', async () => {
    const browser = new TestBrowser();
    const { chain } = await loginFrom(browser, `${apps.options!.url}/profile`);
    const { session: given, state, userDuring } = afterCallbackCalls.at(-1)!;
    expect(Object.keys(given).sort()).toEqual(['access_token', 'expires_at', 'id_token', 'token_type']);
    expect(given).toMatchObject({ id_token: expect.stringMatching(/^eyJ/), token_type: 'Bearer', expires_at: expect.any(Number) });
    expect(state).toEqual({ returnTo: '/profile', flow: 'signup' });
    expect(userDuring).toBe('alice');
    // What it returned is stored: its own keys in req.appSession, the token it left out gone.
    expect(JSON.parse(chain.at(-1)!.body)).toEqual({ appSession: { userProfile: { plan: 'gold' } }, accessToken: null, sub: 'alice' });
  });

  it('lets claimCheck test the ID token\'s claims, those user leaves out too (iss)', async () => {
    const browser = new TestBrowser();
    await loginFrom(browser, `${apps.options!.url}/profile`);
    expect(await browser.get(`${apps.options!.url}/issuer-only`)).toMatchObject({ status: 200, body: 'ok' });
  });

  it('ends the provider session with idpLogout, returning to routes.postLogoutRedirect with the configured logoutParams', async () => {
    const browser = new TestBrowser();
    await loginFrom(browser, `${apps.options!.url}/profile`);
    const logout = await browser.get(`${apps.options!.url}/logout`);
    const endSession = new URL(logout.location!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${provider.issuer}/session/end`);
    expect(Object.fromEntries(endSession.searchParams)).toMatchObject({
      id_token_hint: expect.stringMatching(/^eyJ/), client_id: TEST_CLIENT_ID, post_logout_redirect_uri: `${apps.options!.url}/custom-logout`, ui_locales: 'fr',
    });
    const confirm = (await browser.follow(logout.location!)).at(-1)!;
    const form = parseForms(confirm.body, confirm.url).find((f) => f.id === 'op.logoutForm')!;
    const done = await browser.post(form.action, { ...form.fields, logout: 'yes' });
    expect(done.location).toBe(`${apps.options!.url}/custom-logout`);
    expect((await browser.get(`${apps.options!.url}/`)).body).toBe('out');
  });

  it('follows an absolute returnTo of the app\'s own origin, and no other (login and logout)', async () => {
    const { url } = apps.options!;
    const browser = new TestBrowser();
    const { chain } = await loginFrom(browser, `${url}/go?to=${encodeURIComponent(`${url}/profile?from=mail`)}`);
    expect(chain.at(-1)!.url).toBe(`${url}/profile?from=mail`);
    const evil = await loginFrom(new TestBrowser(), `${url}/go?to=${encodeURIComponent('https://evil.example/x')}`);
    expect(evil.chain.at(-1)!.url).toBe(`${url}/`);
    const postLogout = async (to: string) => {
      const user = new TestBrowser();
      await loginFrom(user, `${url}/profile`);
      const logout = await user.get(`${url}/leave?to=${encodeURIComponent(to)}`);
      return new URL(logout.location!).searchParams.get('post_logout_redirect_uri');
    };
    expect(await postLogout(`${url}/custom-logout`)).toBe(`${url}/custom-logout`);
    expect(await postLogout('https://evil.example/')).toBe(`${url}/custom-logout`);
  });
});

describe('auth() with routes of the app\'s own', () => {
  it('logs in through res.oidc.login({ authorizationParams: { redirect_uri } }) and res.oidc.callback({ redirectUri })', async () => {
    const { url } = apps.custom!;
    const browser = new TestBrowser();
    const { callback, chain } = await loginFrom(browser, `${url}/login`);
    expect(provider.pushedRequests.at(-1)!.redirect_uri).toBe(`${url}/callback`);
    expect(callback.startsWith(`${url}/callback?`)).toBe(true);
    expect(chain.at(-1)).toMatchObject({ url: `${url}/profile`, body: 'hello alice' });
  });

  it('starts the login where requiresAuth() needs one although routes.login is false (EOC sent redirect_uri=undefined)', async () => {
    const { url } = apps.custom!;
    const { chain } = await loginFrom(new TestBrowser(), `${url}/profile`);
    expect(chain.at(-1)).toMatchObject({ url: `${url}/profile`, body: 'hello alice' });
  });

  it('sends a failed callback to the error handler, not to an unhandled rejection', async () => {
    const res = await new TestBrowser().get(`${apps.custom!.url}/callback?state=${'x'.repeat(43)}&code=c`);
    expect(res.status).toBe(400);
    expect(apps.custom!.errors.at(-1)).toMatchObject({ status: 400, code: 'state_mismatch' });
    expect(unhandled).toEqual([]);
  });
});

describe('auth() and the session', () => {
  it('attemptSilentLogin: true tries prompt=none once, and an anonymous user comes back anonymous', async () => {
    const { url } = apps.silent!;
    const browser = new TestBrowser();
    const first = await browser.get(`${url}/`);
    expect(first.status).toBe(302);
    expect(provider.pushedRequests.at(-1)!.prompt).toBe('none');
    const back = await browser.follow(first.location!);
    expect(back.at(-1)).toMatchObject({ url: `${url}/`, status: 200, body: 'anonymous' });
    expect(await browser.get(`${url}/`)).toMatchObject({ status: 200, body: 'anonymous' });
  });

  it('keeps the app\'s own express-session, and says once that its session options are not used', async () => {
    const emit = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const browser = new TestBrowser();
    const { chain } = await loginFrom(browser, `${apps['own-session']!.url}/`);
    expect(chain.at(-1)!.body).toBe('hello alice');
    expect(Object.keys(browser.cookies(apps['own-session']!.url)).filter((name) => !name.startsWith('_'))).toEqual(['own.sid']);
    expect(emit.mock.calls.map(([text]) => String(text))).toEqual([
      'auth(): "session" options are ignored: the app mounts its own express-session before auth()',
    ]);
  });

  it('ends a login older than session.absoluteDuration, however active its session', async () => {
    const { url } = apps.absolute!;
    const browser = new TestBrowser();
    const first = await browser.get(`${url}/login`);
    await browser.follow(await completeProviderLogin(browser, first.location!));
    expect((await browser.get(`${url}/`)).body).toBe('in');
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 3601 * 1000);
    expect((await browser.get(`${url}/`)).body).toBe('out');
  });
});

describe('parAuth() is unchanged by auth()', () => {
  it('completes a login on an app\'s own callback route with res.oidc.callback(), accessToken a string', async () => {
    const { url } = apps.par!;
    const browser = new TestBrowser();
    const first = await browser.get(`${url}/login`);
    const chain = await browser.follow(await completeProviderLogin(browser, first.location!));
    expect(JSON.parse(chain.at(-1)!.body)).toEqual({ type: 'string', in: true });
  });
});
