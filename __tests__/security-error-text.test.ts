/**
 * Security review #15, items 1 and 2: no script and no secret in an error message.
 *
 * Anyone can send a browser to the callback with any `error`, `error_description`, `iss` or `state`, and
 * a hostile (or merely echoing) authorization server chooses every byte of its answers. None of it may
 * reach `err.message` with a markup character, and no secret the request sent may come back in it. The
 * app under test uses the README's error handler verbatim (extracted from README.md), and the tests look
 * at what the browser receives: the body and its content type.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ErrorRequestHandler, Express } from 'express';
import { Passport } from 'passport';
import { parAuth } from '../lib/index.js';
import { ParStrategy } from '../lib/passport.js';
import type { ParAuthConfig } from '../lib/core/types.js';
import { startApp, type TestApp } from './helpers/app.js';
import { TestBrowser, type BrowserResponse } from './helpers/browser.js';
import { type FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, HOSTILE_TIMEOUT_MS, useFaultyServer } from './helpers/hostile.js';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});
/** Apps of the running test, closed after it. */
const opened: TestApp[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((app) => app.close()));
});

/** The error handler exactly as README.md's "Errors" section shows it. */
function readmeErrorHandler(): ErrorRequestHandler {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```js\n(app\.use\(\(err, req, res, next\) => \{[\s\S]*?\n\}\);)\n```/.exec(readme);
  if (!block) throw new Error('README.md has no error handler block');
  let handler: ErrorRequestHandler | undefined;
  new Function('app', block[1]!)({ use: (fn: ErrorRequestHandler) => (handler = fn) });
  return handler!;
}

const PAYLOADS = [
  '<script>alert(document.domain)</script>',
  '"><img src=x onerror=alert(1)>',
  "'-alert(1)-'`${alert(1)}`&amp;",
  'line\r\nSet-Cookie: a=b\u0000\u001b[31m\u202e',
];
const MARKUP = /[<>"'&`\u0000-\u001f\u007f\u202e]/;

/** What the browser got: a JSON body whose message has no markup character. */
function expectSafeResponse(res: BrowserResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as { code: string; message: string };
  expect(body.code).toBe(code);
  expect(body.message).not.toMatch(MARKUP);
  expect(res.body).not.toMatch(/<script|<img|onerror=alert\(1\)>/i);
}

interface Captured {
  message: string;
  error?: string;
  error_description?: string;
}

async function middlewareApp(options: Partial<ParAuthConfig> = {}): Promise<TestApp & { captured: Captured[] }> {
  const captured: Captured[] = [];
  const app = await startApp((a: Express, baseURL) => {
    a.use(parAuth({ issuerBaseURL: server.issuer, baseURL, clientID: server.clientId, clientSecret: server.clientSecret, httpTimeout: HOSTILE_TIMEOUT_MS, ...options }));
    a.get('/refresh', (req, res, next) => {
      req.oidc.refresh().then(() => res.json({ refreshed: true }), next);
    });
    a.use(((err, _req, _res, next) => {
      captured.push(err as Captured);
      next(err);
    }) as ErrorRequestHandler);
    a.use(readmeErrorHandler());
  });
  opened.push(app);
  return { ...app, captured };
}

async function passportApp(): Promise<TestApp> {
  const app = await startApp((a: Express, baseURL) => {
    const passport = new Passport();
    passport.use(new ParStrategy({ issuerBaseURL: server.issuer, baseURL, clientID: server.clientId, clientSecret: server.clientSecret, httpTimeout: HOSTILE_TIMEOUT_MS }, (_t, claims, done) => done(null, { id: claims.sub })));
    passport.serializeUser((user, done) => done(null, JSON.stringify(user)));
    passport.deserializeUser((raw: string, done) => done(null, JSON.parse(raw)));
    a.use(passport.initialize());
    a.use(passport.session());
    a.get('/login', passport.authenticate('par'));
    a.get('/callback', passport.authenticate('par', { failureRedirect: '/failed', failureMessage: true }), (_req, res) => res.redirect('/'));
    a.get('/failed', (req, res) => {
      res.json({ messages: (req.session as unknown as { messages?: string[] }).messages ?? [] });
    });
    a.use(readmeErrorHandler());
  });
  opened.push(app);
  return app;
}

describe('the callback never reflects markup (middleware, README error handler)', () => {
  it.each(PAYLOADS)('without a state: error_description %j', async (payload) => {
    const app = await middlewareApp();
    const res = await new TestBrowser().get(`${app.url}/callback?error=access_denied&error_description=${encodeURIComponent(payload)}`);
    // access_denied is redirected by the README handler; another code shows the message
    expect(res.status).toBe(302);
    const other = await new TestBrowser().get(`${app.url}/callback?error=server_error&error_description=${encodeURIComponent(payload)}`);
    expectSafeResponse(other, 400, 'authorization_error');
    expect(app.captured.at(-1)!.error).toBe('server_error');
    expect(app.captured.at(-1)!.error_description ?? '').not.toMatch(MARKUP);
  });

  it.each(PAYLOADS)('without a state: error %j is not kept as an OAuth code', async (payload) => {
    const app = await middlewareApp();
    const res = await new TestBrowser().get(`${app.url}/callback?error=${encodeURIComponent(payload)}`);
    expectSafeResponse(res, 400, 'authorization_error');
    expect(app.captured.at(-1)!.error).toBeUndefined();
  });

  it.each(PAYLOADS)('with a valid state: the server redirects back with error_description %j', async (payload) => {
    const app = await middlewareApp();
    server.fault.authorize = { error: 'temporarily_unavailable', errorDescription: payload };
    const run = await attemptLogin(server, new TestBrowser(), { ...app, captured: [] });
    expect(run.stage).toBe('callback');
    expectSafeResponse(run.final, 400, 'authorization_error');
    expect(app.captured.at(-1)!.error_description).toBeDefined();
    expect(app.captured.at(-1)!.error_description).not.toMatch(MARKUP);
  });

  it.each(PAYLOADS)('with a pending state: iss %j (iss_mismatch quotes the received issuer)', async (payload) => {
    const app = await middlewareApp();
    server.fault.authorize = { iss: payload };
    const run = await attemptLogin(server, new TestBrowser(), { ...app, captured: [] });
    expectSafeResponse(run.final, 400, 'iss_mismatch');
  });

  it.each(PAYLOADS)('a state of %j', async (payload) => {
    const app = await middlewareApp();
    const res = await new TestBrowser().get(`${app.url}/callback?code=x&state=${encodeURIComponent(payload)}`);
    expectSafeResponse(res, 400, 'state_mismatch');
  });
});

describe('the authorization server\'s answers never bring markup into a message', () => {
  const payload = PAYLOADS[0]! + PAYLOADS[1]!;

  it('a PAR error with markup in error and error_description', async () => {
    const app = await middlewareApp();
    server.fault.par = { status: 400, body: { error: '<b>invalid_request</b>', error_description: payload } };
    expectSafeResponse(await new TestBrowser().get(`${app.url}/login`), 502, 'par_failed');
  });

  it('a token error with markup in error_description', async () => {
    const app = await middlewareApp();
    server.fault.token = { error: 'invalid_grant', errorDescription: payload };
    const run = await attemptLogin(server, new TestBrowser(), { ...app, captured: [] });
    expectSafeResponse(run.final, 502, 'token_exchange_failed');
    expect(app.captured.at(-1)!.error).toBe('invalid_grant');
  });

  it('an HTML body where JSON was expected', async () => {
    const app = await middlewareApp();
    server.fault.par = { status: 500, body: `<html><body>${payload}</body></html>` };
    expectSafeResponse(await new TestBrowser().get(`${app.url}/login`), 502, 'par_failed');
  });

  it('metadata naming an issuer full of markup', async () => {
    const app = await middlewareApp();
    server.fault.discovery = { issuer: `https://evil.example/${payload}` };
    expectSafeResponse(await new TestBrowser().get(`${app.url}/login`), 502, 'issuer_mismatch');
  });

  it('a token_type full of markup', async () => {
    const app = await middlewareApp();
    server.fault.token = { merge: { token_type: '<svg/onload=alert(1)>' } };
    const run = await attemptLogin(server, new TestBrowser(), { ...app, captured: [] });
    expectSafeResponse(run.final, 502, 'token_response_invalid');
  });

  it('an ID token whose alg header is markup', async () => {
    const app = await middlewareApp();
    server.fault.idToken = async (claims) => `${Buffer.from(JSON.stringify({ alg: '<script>', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
    const run = await attemptLogin(server, new TestBrowser(), { ...app, captured: [] });
    expectSafeResponse(run.final, 502, 'id_token_invalid');
  });
});

describe('the Passport strategy never reflects markup', () => {
  it.each(PAYLOADS)('a callback error_description %j becomes a safe failure message or error', async (payload) => {
    const app = await passportApp();
    const browser = new TestBrowser();
    const denied = await browser.get(`${app.url}/callback?error=access_denied&error_description=${encodeURIComponent(payload)}`);
    expect(denied.status).toBe(302);
    expect(denied.location).toBe(`${app.url}/failed`);
    const failed = await browser.get(`${app.url}/failed`);
    const { messages } = JSON.parse(failed.body) as { messages: string[] };
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('access_denied');
    expect(messages[0]).not.toMatch(MARKUP);
    // not a failure but an error: through next(err) to the README handler
    expectSafeResponse(await browser.get(`${app.url}/callback?error=server_error&error_description=${encodeURIComponent(payload)}`), 400, 'authorization_error');
  });

  it('an iss full of markup with a pending state', async () => {
    const app = await passportApp();
    const browser = new TestBrowser();
    server.fault.authorize = { iss: PAYLOADS[0]! };
    const run = await attemptLogin(server, browser, { ...app, captured: [] });
    expect(run.final.location).toBe(`${app.url}/failed`);
    const { messages } = JSON.parse((await browser.get(`${app.url}/failed`)).body) as { messages: string[] };
    expect(messages[0]).toContain('came from issuer');
    expect(messages[0]).not.toMatch(MARKUP);
  });
});

describe('a server that echoes the request never gets a secret into a message (item 2)', () => {
  function expectNoSecret(app: { captured: Captured[] }, res: BrowserResponse, secrets: string[]): void {
    const err = app.captured.at(-1)!;
    const exposed = [res.body, err.message, err.error_description ?? '', JSON.stringify(err)].join('\n');
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      expect(exposed).not.toContain(secret);
      expect(exposed).not.toContain(encodeURIComponent(secret));
    }
  }
  const basic = () => Buffer.from(`${server.clientId}:${server.clientSecret}`).toString('base64');

  it.each(['description', 'body'] as const)('the PAR endpoint echoes the request (%s): no client secret', async (echo) => {
    for (const clientAuthMethod of ['client_secret_basic', 'client_secret_post'] as const) {
      const app = await middlewareApp({ clientAuthMethod });
      server.fault.par = { echo };
      const res = await new TestBrowser().get(`${app.url}/login`);
      expectSafeResponse(res, 502, 'par_failed');
      expectNoSecret(app, res, [server.clientSecret, basic()]);
    }
  });

  it.each(['description', 'body'] as const)('the token endpoint echoes the code exchange (%s): no secret, code or verifier', async (echo) => {
    const app = await middlewareApp({ clientAuthMethod: 'client_secret_post' });
    server.fault.token = { echo };
    const run = await attemptLogin(server, new TestBrowser(), { ...app, captured: [] });
    expectSafeResponse(run.final, 502, 'token_exchange_failed');
    const sent = server.requestsTo('/token').at(-1)!.body;
    expectNoSecret(app, run.final, [server.clientSecret, String(sent.code), String(sent.code_verifier)]);
  });

  it.each([
    ['PAR', 'client_secret_post', 'client_secret'],
    ['PAR', 'client_secret_basic', 'authorization'],
    ['token', 'client_secret_post', 'client_secret'],
    ['token', 'client_secret_basic', 'authorization'],
    ['token', 'client_secret_basic', 'code'],
    ['token', 'client_secret_basic', 'code_verifier'],
  ] as const)('the %s endpoint (%s) quotes the %s it was sent: redacted', async (endpoint, clientAuthMethod, param) => {
    const app = await middlewareApp({ clientAuthMethod });
    server.fault[endpoint === 'PAR' ? 'par' : 'token'] = { echo: { param } };
    const run = await attemptLogin(server, new TestBrowser(), { ...app, captured: [] });
    expectSafeResponse(run.final, 502, endpoint === 'PAR' ? 'par_failed' : 'token_exchange_failed');
    const rec = server.requestsTo(endpoint === 'PAR' ? '/par' : '/token').at(-1)!;
    const value = param === 'authorization' ? String(rec.headers.authorization) : String(rec.body[param]);
    expectNoSecret(app, run.final, value.split(' ').filter((part) => part.length > 8));
    expect(app.captured.at(-1)!.error_description).toContain('[redacted]');
  });

  it('the token endpoint echoes a refresh: no refresh token and no client secret', async () => {
    const app = await middlewareApp();
    const browser = new TestBrowser();
    const ok = await attemptLogin(server, browser, { ...app, captured: [] });
    expect(ok.final.status).toBe(302);
    server.fault.token = { echo: 'description' };
    const res = await browser.get(`${app.url}/refresh`);
    expectSafeResponse(res, 502, 'token_exchange_failed');
    const sent = server.requestsTo('/token').at(-1)!.body;
    expect(sent.grant_type).toBe('refresh_token');
    expectNoSecret(app, res, [server.clientSecret, String(sent.refresh_token), basic()]);
    server.fault.token = { echo: { param: 'refresh_token' } };
    const quoted = await browser.get(`${app.url}/refresh`);
    expectSafeResponse(quoted, 502, 'token_exchange_failed');
    expectNoSecret(app, quoted, [String(server.requestsTo('/token').at(-1)!.body.refresh_token)]);
    expect(app.captured.at(-1)!.error_description).toContain('[redacted]');
  });
});
