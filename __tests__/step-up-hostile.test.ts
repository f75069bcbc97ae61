import './helpers/capture-logs.js'; // first: turns the debug log on before lib/ loads
/**
 * Step-up authentication (RFC 9470, issue #27 part 3) against servers that do not do what was asked: our faulty
 * authorization server, which ignores `acr_values` and `max_age` (its ID tokens carry whatever `acr` and
 * `auth_time` a test sets), and a tiny resource server that answers with the RFC 9470 §3 challenge. A login
 * that comes back short is a 403 and never another round; `req.oidc.fetch()` turns the challenge into 401
 * `step_up_required`, and the README's three lines send the user through it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Express, Request, Response } from 'express';
import { requiresAuth } from '../lib/index.js';
import { TestBrowser } from './helpers/browser.js';
import type { FaultyServer } from './helpers/faulty-server.js';
import {
  attemptLogin, expectNothingSecret, startHostileApp, useFaultyServer, whoami, type HostileApp,
} from './helpers/hostile.js';

const PASSWORD = 'urn:example:acr:password';
const MFA = 'urn:example:acr:mfa';
const HWK = 'urn:example:acr:hwk';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});
afterEach(() => {
  jest.restoreAllMocks();
});

const now = () => Math.floor(Date.now() / 1000);

/** The API: answers `challenge` (a WWW-Authenticate value) with 401 while it is set, else 200 with the request's Authorization. */
const api = { challenge: undefined as string | undefined, status: 401, url: '', close: async () => {} };
beforeAll(async () => {
  const rs = http.createServer((req, res) => {
    if (api.challenge !== undefined) {
      res.writeHead(api.status, { 'www-authenticate': api.challenge, 'content-type': 'text/plain' }).end('step up');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ orders: [], auth: req.headers.authorization }));
    }
  });
  await new Promise<void>((resolve) => rs.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(rs.address() as AddressInfo).port}/orders`;
  api.close = () => new Promise<void>((resolve) => {
    rs.closeAllConnections();
    rs.close(() => resolve());
  });
});
afterAll(() => api.close());

const me = (req: Request, res: Response) => {
  res.json({ page: req.path, sub: req.oidc.user?.sub, acr: req.oidc.user?.acr });
};

function routes(a: Express) {
  a.get('/pay', requiresAuth({ acrValues: [MFA, HWK] }), me);
  a.get('/recent', requiresAuth({ maxAge: 60 }), me);
  a.get('/both', requiresAuth({ acrValues: [MFA] }), requiresAuth({ maxAge: 60 }), me);
  // The README's three lines: the API's challenge sends the user through a login that asks for it.
  a.get('/orders', async (req, res, next) => {
    try {
      const answer = await req.oidc.fetch(api.url);
      res.json(await answer.json());
    } catch (err) {
      const e = err as { code?: string; acrValues: string[]; maxAge?: number };
      if (e.code === 'step_up_required') {
        return res.oidc.login({ returnTo: req.originalUrl, authorizationParams: { acr_values: e.acrValues.join(' '), max_age: e.maxAge } }).catch(next);
      }
      next(err);
    }
  });
  a.get('/orders.json', (req, res) => {
    req.oidc.fetch(api.url).then(
      (answer) => res.json({ status: answer.status }),
      (err: Error & { code?: string; status?: number; acrValues?: string[]; maxAge?: number }) => {
        res.status(err.status ?? 500).json({ name: err.name, code: err.code, message: err.message, acrValues: err.acrValues, maxAge: err.maxAge });
      },
    );
  });
}

/** A signed-in browser whose login has acr PASSWORD and an auth_time an hour ago. */
async function signedIn(): Promise<{ app: HostileApp; browser: TestBrowser }> {
  const app = await startHostileApp(server, {}, routes);
  const browser = new TestBrowser();
  server.idTokenClaims = { acr: PASSWORD, auth_time: now() - 3600 };
  const run = await attemptLogin(server, browser, app);
  expect(run.final.status).toBe(302);
  expect(await whoami(app, browser)).toMatchObject({ authenticated: true, sub: 'user-123' });
  return { app, browser };
}

/** A page load the app answers with a step-up: the pushed request, then the faulty server's redirect back, requested. */
async function stepUp(app: HostileApp, browser: TestBrowser, path: string) {
  const start = await browser.get(`${app.url}${path}`);
  expect({ status: start.status, toServer: start.location?.startsWith(server.issuer) }).toEqual({ status: 302, toServer: true });
  const pushed = server.requestsTo('/par').at(-1)!.body;
  const authorize = await browser.get(start.location!);
  expect(authorize.status).toBe(302);
  const callback = await browser.get(authorize.location!);
  return { pushed, callback, error: app.captured.at(-1) };
}

describe('a provider that ignores acr_values', () => {
  it('answers the login that comes back short with 403 insufficient_user_authentication, no loop, the login kept', async () => {
    const { app, browser } = await signedIn();
    const { pushed, callback, error } = await stepUp(app, browser, '/pay');
    expect(pushed).toMatchObject({ acr_values: `${MFA} ${HWK}` });
    expect(pushed.max_age).toBeUndefined();
    expect(callback.status).toBe(403);
    expect(callback.location).toBeUndefined();
    expect(JSON.parse(callback.body)).toMatchObject({ code: 'insufficient_user_authentication', status: 403 });
    expectNothingSecret(error!, server, { body: callback.body });
    expect(await whoami(app, browser)).toEqual({ authenticated: true, sub: 'user-123', pending: 0 });
  });

  it('lets the login through when the server does give one of the acr values', async () => {
    const { app, browser } = await signedIn();
    server.idTokenClaims.acr = HWK;
    const { callback } = await stepUp(app, browser, '/pay?x=1');
    expect(callback.location).toBe(`${app.url}/pay?x=1`);
    expect(JSON.parse((await browser.get(callback.location!)).body)).toEqual({ page: '/pay', sub: 'user-123', acr: HWK });
  });

  it('counts a login from the login route as no step-up: the page still sends the user through one', async () => {
    const { app, browser } = await signedIn();
    const again = await attemptLogin(server, browser, app);
    expect(again.final.status).toBe(302);
    expect((await browser.get(`${app.url}/pay`)).status).toBe(302);
  });
});

describe('a provider that ignores max_age', () => {
  it('answers an auth_time older than the step-up\'s maxAge with 403, not 502, and keeps the login', async () => {
    const { app, browser } = await signedIn();
    const { pushed, callback } = await stepUp(app, browser, '/recent');
    expect(pushed).toMatchObject({ max_age: '60' });
    expect(pushed.acr_values).toBeUndefined();
    expect(JSON.parse(callback.body)).toMatchObject({ code: 'insufficient_user_authentication', status: 403 });
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });

  it('refuses an ID token without auth_time for a step-up with maxAge as the server\'s error (502) and ends the login', async () => {
    const { app, browser } = await signedIn();
    server.idTokenClaims = { acr: PASSWORD };
    const { callback } = await stepUp(app, browser, '/recent');
    expect(JSON.parse(callback.body)).toMatchObject({ code: 'id_token_invalid', status: 502 });
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });

  it('lets a fresh login through', async () => {
    const { app, browser } = await signedIn();
    server.idTokenClaims.auth_time = now();
    const { callback } = await stepUp(app, browser, '/recent');
    expect(callback.location).toBe(`${app.url}/recent`);
    expect((await browser.get(callback.location!)).status).toBe(200);
  });
});

describe('the page a step-up returns to', () => {
  it('answers 403 rather than a second round when it still refuses the login just stepped up for it', async () => {
    const { app, browser } = await signedIn();
    server.idTokenClaims.acr = MFA; // the acr is given, the auth_time stays an hour old: /both's second check refuses
    const { callback } = await stepUp(app, browser, '/both');
    expect(callback.location).toBe(`${app.url}/both`);
    const pushed = server.requestsTo('/par').length;
    const page = await browser.get(callback.location!);
    expect(page.status).toBe(403);
    expect(JSON.parse(page.body)).toMatchObject({ code: 'insufficient_user_authentication' });
    expect(server.requestsTo('/par').length).toBe(pushed);
  });

  it('counts the step-up for its own page only, and for a few seconds only', async () => {
    const { app, browser } = await signedIn();
    server.idTokenClaims.acr = MFA;
    const { callback } = await stepUp(app, browser, '/both');
    // Another page (another tab) that the login does not do for still gets its own round.
    expect((await browser.get(`${app.url}/recent`)).status).toBe(302);
    expect((await browser.get(callback.location!)).status).toBe(403);
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 11_000);
    expect((await browser.get(callback.location!)).status).toBe(302);
  });

  it('brings each of two tabs back to its own page', async () => {
    const { app, browser } = await signedIn();
    server.idTokenClaims = { acr: MFA, auth_time: now() };
    const pay = await browser.get(`${app.url}/pay`);
    const recent = await browser.get(`${app.url}/recent`);
    const recentBack = await browser.get((await browser.get(recent.location!)).location!);
    const payBack = await browser.get((await browser.get(pay.location!)).location!);
    expect([recentBack.location, payBack.location]).toEqual([`${app.url}/recent`, `${app.url}/pay`]);
    expect((await browser.get(`${app.url}/pay`)).status).toBe(200);
    expect((await browser.get(`${app.url}/recent`)).status).toBe(200);
  });
});

describe('req.oidc.fetch() and an API\'s RFC 9470 challenge', () => {
  const challenge = `Bearer error="insufficient_user_authentication", error_description="step up", acr_values="${MFA} ${HWK}", max_age=300`;

  it('rejects with 401 step_up_required carrying acrValues and maxAge, and the README\'s three lines send the user through it', async () => {
    const { app, browser } = await signedIn();
    api.challenge = challenge;
    api.status = 401;
    const err = JSON.parse((await browser.get(`${app.url}/orders.json`)).body);
    expect(err).toMatchObject({ name: 'StepUpRequiredError', code: 'step_up_required', acrValues: [MFA, HWK], maxAge: 300 });
    // The login the app starts with them: pushed, then checked when it comes back (short: 403, no loop).
    const { pushed, callback } = await stepUp(app, browser, '/orders');
    expect(pushed).toMatchObject({ acr_values: `${MFA} ${HWK}`, max_age: '300' });
    expect(JSON.parse(callback.body)).toMatchObject({ code: 'insufficient_user_authentication', status: 403 });
    // The server does step the user up this time, and the API is satisfied.
    server.idTokenClaims = { acr: MFA, auth_time: now() };
    const { callback: back } = await stepUp(app, browser, '/orders');
    expect(back.location).toBe(`${app.url}/orders`);
    api.challenge = undefined;
    expect(JSON.parse((await browser.get(back.location!)).body)).toMatchObject({ orders: [] });
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });

  it('reads a DPoP challenge and max_age alone; leaves other answers to the app', async () => {
    const { app, browser } = await signedIn();
    const read = async () => JSON.parse((await browser.get(`${app.url}/orders.json`)).body) as Record<string, unknown>;
    api.status = 401;
    api.challenge = 'DPoP algs="ES256", error="insufficient_user_authentication", max_age="0"';
    expect(await read()).toMatchObject({ code: 'step_up_required', acrValues: [], maxAge: 0 });
    api.challenge = 'Bearer error="insufficient_scope", scope="orders"';
    expect(await read()).toEqual({ status: 401 });
    api.status = 403;
    api.challenge = challenge;
    expect(await read()).toEqual({ status: 403 });
    api.challenge = undefined;
  });

  it('keeps hostile values out of acrValues, maxAge and the message', async () => {
    const { app, browser } = await signedIn();
    api.status = 401;
    api.challenge = 'Bearer error="insufficient_user_authentication", ' +
      'acr_values="<script>alert(1)</script> urn:ok javascript:alert(1)&x \\"quoted\\" a\'b", max_age="12<b>"';
    const err = JSON.parse((await browser.get(`${app.url}/orders.json`)).body) as { message: string; acrValues: string[]; maxAge?: number };
    api.challenge = undefined;
    expect(err.acrValues).toEqual(['urn:ok']);
    expect(err.maxAge).toBeUndefined();
    expect(err.message).not.toMatch(/[<>"'&`]|urn:ok|alert/);
  });
});
