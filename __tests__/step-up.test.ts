/**
 * Step-up authentication (RFC 9470, issue #27 part 3) against oidc-provider: `requiresAuth({ acrValues })` sends a
 * page load through a pushed login with `acr_values` and back, `requiresAuth({ maxAge })` makes the provider
 * authenticate the user again, other requests get the 401 challenge, another user at the step-up is refused,
 * `requiresAuth(fn)` takes express-openid-connect's requiresLoginCheck, and Passport steps up with
 * `authorizationParams`.
 *
 * The provider: its dev login gives `acr` ACR_PASSWORD unless the request asks for ACR_MFA (then it gives that),
 * and its login prompt comes back whenever the session's acr is not among the asked `acr_values`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Express, Request, Response } from 'express';
import { Passport } from 'passport';
import { parAuth, requiresAuth } from '../lib/index.js';
import { ParStrategy } from '../lib/passport.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { loadProviderClass, startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, testClient, type TestProvider } from './helpers/provider.js';

const ACR_PASSWORD = 'urn:example:acr:password';
const ACR_MFA = 'urn:example:acr:mfa';
const CHALLENGE = 'Bearer error="insufficient_user_authentication", ' +
  `error_description="A different authentication level is required", acr_values="${ACR_MFA}"`;

let provider: TestProvider;
let app: TestApp;
let passportApp: TestApp;

const me = (req: Request, res: Response) => {
  const user = req.oidc.user;
  res.json({ authenticated: req.oidc.isAuthenticated(), sub: user?.sub, acr: user?.acr, authTime: user?.auth_time });
};

function mount(a: Express, baseURL: string) {
  a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET }));
  a.get('/me', me);
  a.get('/pay', requiresAuth({ acrValues: [ACR_MFA] }), me);
  a.post('/pay', requiresAuth({ acrValues: [ACR_MFA] }), me);
  a.get('/recent', requiresAuth({ maxAge: 60 }), me);
  a.get('/eoc', requiresAuth((req) => req.query.need === '1'), me);
  a.get('/eoc-throws', requiresAuth(() => {
    throw new Error('directory unavailable');
  }), me);
  a.get('/eoc-async', requiresAuth((async () => true) as unknown as () => boolean), me);
}

function mountPassport(a: Express, baseURL: string) {
  const passport = new Passport();
  const options = { issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET };
  passport.use(new ParStrategy({ ...options, callbackPath: '/auth/callback' },
    (_tokens, claims, done) => done(null, { id: claims.sub, acr: claims.acr })));
  passport.serializeUser((user, done) => done(null, JSON.stringify(user)));
  passport.deserializeUser((raw: string, done) => done(null, JSON.parse(raw)));
  a.use(passport.initialize());
  a.use(passport.session());
  a.get('/auth/login', passport.authenticate('par'));
  const stepUp = { authorizationParams: { acr_values: ACR_MFA, max_age: 600 }, returnTo: '/auth/me' };
  a.get('/auth/step-up', passport.authenticate('par', stepUp));
  a.get('/auth/callback', passport.authenticate('par', { failureRedirect: '/failed' }), (req, res) => res.json({ user: req.user }));
}


/**
 * The login prompt comes back whenever the session's acr is not among the asked acr_values (oidc-provider asks
 * again only for essential acrs by default).
 */
async function acrPolicy(): Promise<unknown> {
  await loadProviderClass(); // first: it quiets oidc-provider's start-up notices
  const specifier: string = 'oidc-provider';
  const { interactionPolicy } = (await import(specifier)) as { interactionPolicy: any };
  const { Check } = interactionPolicy;
  const policy = interactionPolicy.base();
  policy.get('login').checks.add(new Check('acr_not_met', 'the requested acr is not met', (ctx: any) => {
    const asked: string[] | undefined = ctx.oidc.params.acr_values?.split(' ');
    return asked && !asked.includes(ctx.oidc.session.acr) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
  }));
  return policy;
}

/** The dev login's acr: ACR_MFA when the request asks for it, else ACR_PASSWORD. */
function giveAskedAcr(instance: any): void {
  const finished = instance.interactionFinished.bind(instance);
  instance.interactionFinished = async (req: unknown, res: unknown, result: any, options: unknown) => {
    if (result?.login) {
      const { params } = await instance.interactionDetails(req, res);
      result.login.acr = String(params.acr_values ?? '').split(' ').includes(ACR_MFA) ? ACR_MFA : ACR_PASSWORD;
    }
    return finished(req, res, result, options);
  };
}

beforeAll(async () => {
  [app, passportApp] = await Promise.all([startApp(mount), startApp(mountPassport)]);
  const policy = await acrPolicy();
  provider = await startProvider({
    clients: [testClient(TEST_CLIENT_ID, [`${app.url}/callback`, `${passportApp.url}/auth/callback`])],
    configure(config) {
      config.acrValues = [ACR_PASSWORD, ACR_MFA];
      // acr and auth_time in every ID token, asked for or not (oidc-provider sends them only when asked by default).
      config.claims = { ...config.claims, openid: ['sub', 'acr', 'auth_time'] };
      config.interactions = { ...(config.interactions ?? {}), policy };
    },
  });
  giveAskedAcr(provider.provider);
});
afterEach(() => {
  jest.restoreAllMocks();
});
afterAll(async () => {
  await Promise.all([app.close(), passportApp.close()]);
  await provider.close();
});

async function json(browser: TestBrowser, url: string) {
  const res = await browser.get(url);
  return { status: res.status, location: res.location, body: JSON.parse(res.body || '{}') as Record<string, unknown> };
}

/** Signs `name` in through the login route: the provider's dev login, acr ACR_PASSWORD. */
async function login(browser: TestBrowser, name = 'alice') {
  const start = await browser.get(`${app.url}/login?returnTo=%2Fme`);
  expect(start.status).toBe(302);
  const callback = await browser.get(await completeProviderLogin(browser, start.location!, { login: name }));
  expect(callback.location).toBe(`${app.url}/me`);
  const signedIn = (await json(browser, `${app.url}/me`)).body;
  expect(signedIn).toMatchObject({ authenticated: true, sub: name, acr: ACR_PASSWORD });
  return signedIn;
}

/** A request with the browser's session cookie but not as a page load. */
function asScript(browser: TestBrowser, path: string, init: RequestInit = {}) {
  const cookie = `app.sid=${browser.cookies('127.0.0.1')['app.sid']}`;
  return fetch(`${app.url}${path}`, { ...init, headers: { accept: 'application/json', cookie, ...init.headers } });
}

describe('requiresAuth({ acrValues }) against oidc-provider', () => {
  it('sends a page load through a pushed login with acr_values and back to the page, now with that acr', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const start = await browser.get(`${app.url}/pay?item=42`);
    expect(start.status).toBe(302);
    expect(start.location!.startsWith(provider.issuer)).toBe(true);
    expect([...new URL(start.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ acr_values: ACR_MFA });
    const callback = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(callback.location).toBe(`${app.url}/pay?item=42`);
    expect((await json(browser, `${app.url}/pay?item=42`)).body).toMatchObject({ authenticated: true, sub: 'alice', acr: ACR_MFA });
  });

  it('lets a login that already has the acr through without a round', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const start = await browser.get(`${app.url}/pay`);
    await browser.get(await completeProviderLogin(browser, start.location!));
    const pushed = provider.pushedRequests.length;
    expect((await json(browser, `${app.url}/pay`)).status).toBe(200);
    expect(provider.pushedRequests.length).toBe(pushed);
  });

  it('answers HEAD, POST and a script\'s GET with the RFC 9470 challenge (401 step_up_required), pushing nothing', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const pushed = provider.pushedRequests.length;
    for (const init of [{ method: 'HEAD' }, { method: 'POST' }, { method: 'GET' }, { method: 'GET', headers: { accept: '*/*' } }]) {
      const res = await asScript(browser, '/pay', init);
      expect({ method: init.method, status: res.status, challenge: res.headers.get('www-authenticate') })
        .toEqual({ method: init.method, status: 401, challenge: CHALLENGE });
      if (init.method !== 'HEAD') expect(await res.json()).toMatchObject({ code: 'step_up_required', status: 401 });
    }
    expect(provider.pushedRequests.length).toBe(pushed);
    expect(app.errors.at(-1)).toMatchObject({ code: 'step_up_required', status: 401 });
  });

  it('treats a logged-out user as requiresAuth() does: the login route for a page, 401 login_required otherwise', async () => {
    const browser = new TestBrowser();
    const page = await browser.get(`${app.url}/pay`);
    expect(page.location).toBe(`${app.url}/login?returnTo=%2Fpay`);
    const script = await asScript(browser, '/pay');
    expect(script.status).toBe(401);
    expect(script.headers.get('www-authenticate')).toBeNull();
    expect(await script.json()).toMatchObject({ code: 'login_required' });
  });

  it('refuses a step-up that another user completes (403 step_up_user_mismatch) and ends the login', async () => {
    const browser = new TestBrowser();
    await login(browser, 'alice');
    const start = await browser.get(`${app.url}/pay`);
    const callback = await browser.get(await completeProviderLogin(browser, start.location!, { login: 'mallory' }));
    expect(callback.status).toBe(403);
    expect(JSON.parse(callback.body)).toMatchObject({ code: 'step_up_user_mismatch', status: 403 });
    expect((await json(browser, `${app.url}/me`)).body).toEqual({ authenticated: false });
  });
});

describe('requiresAuth({ maxAge }) against oidc-provider', () => {
  it('makes the provider authenticate the user again when the login is older than maxAge', async () => {
    const browser = new TestBrowser();
    const first = await login(browser);
    expect((await json(browser, `${app.url}/recent`)).status).toBe(200);
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 200_000); // 200 s later: older than 60 + 30 s
    const start = await browser.get(`${app.url}/recent`);
    expect(start.location!.startsWith(provider.issuer)).toBe(true);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ max_age: '60' });
    const callback = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(callback.location).toBe(`${app.url}/recent`);
    const after = await json(browser, `${app.url}/recent`);
    expect(after.status).toBe(200);
    expect(after.body.sub).toBe('alice');
    expect(after.body.authTime as number).toBeGreaterThanOrEqual((first.authTime as number) + 200);
  });
});

describe('requiresAuth(requiresLoginCheck), as in express-openid-connect', () => {
  it('lets anyone through when the check says no login is needed, and sends a logged-out page to the login route', async () => {
    const browser = new TestBrowser();
    expect((await json(browser, `${app.url}/eoc`)).body).toEqual({ authenticated: false });
    expect((await browser.get(`${app.url}/eoc?need=1`)).location).toBe(`${app.url}/login?returnTo=%2Feoc%3Fneed%3D1`);
  });

  it('passes a check that throws to next(err), and refuses one that returns a Promise', async () => {
    const browser = new TestBrowser();
    expect(await json(browser, `${app.url}/eoc-throws`)).toMatchObject({ status: 500, body: { message: 'directory unavailable' } });
    const async = await json(browser, `${app.url}/eoc-async`);
    expect(async.status).toBe(500);
    expect(async.body.message).toContain('must return a boolean, not a Promise');
  });

  it('sends a signed-in page that the check refuses through one login, then answers 403 instead of looping', async () => {
    const browser = new TestBrowser();
    await login(browser);
    const start = await browser.get(`${app.url}/eoc?need=1`);
    expect(start.location!.startsWith(provider.issuer)).toBe(true);
    // The provider's session signs alice straight back in; the check still refuses.
    const callback = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(callback.location).toBe(`${app.url}/eoc?need=1`);
    const again = await json(browser, `${app.url}/eoc?need=1`);
    expect(again.status).toBe(403);
    expect(again.body).toMatchObject({ code: 'insufficient_user_authentication' });
    expect((await json(browser, `${app.url}/me`)).body).toMatchObject({ authenticated: true, sub: 'alice' });
    const script = await asScript(browser, '/eoc?need=1');
    expect(await script.json()).toMatchObject({ code: 'login_required', status: 401 });
  });
});

describe('Passport: passport.authenticate(\'par\', { authorizationParams: { acr_values, max_age } })', () => {
  it('steps the user up: pushes both, and the user that comes back has the acr asked for', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${passportApp.url}/auth/login`);
    const first = await json(browser, await completeProviderLogin(browser, start.location!));
    expect(first.body).toEqual({ user: { id: 'alice', acr: ACR_PASSWORD } });
    const stepUp = await browser.get(`${passportApp.url}/auth/step-up`);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ acr_values: ACR_MFA, max_age: '600' });
    const back = await json(browser, await completeProviderLogin(browser, stepUp.location!));
    expect(back.body).toEqual({ user: { id: 'alice', acr: ACR_MFA } });
  });
});
