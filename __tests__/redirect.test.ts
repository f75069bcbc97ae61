/**
 * Every redirect the middleware sends (lib/express/redirect.ts): 302, the Location as Express would
 * write it, `Content-Length: 0` and no body, the session cookie kept, over real logins against
 * oidc-provider.
 */
import http from 'node:http';
import { Socket } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type Response } from 'express';
import { parAuth, requiresAuth } from '../lib/index.js';
import { redirect } from '../lib/express/redirect.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

// Express 5's encoder for res.location() (a dependency of express, not of ours), for the expectations
// written out below.
const encodeUrl = createRequire(import.meta.url)('encodeurl') as (url: string) => string;

/** A real Express response (this test run's Express major), not attached to a socket. */
const bare = express();
function expressResponse(): Response {
  const req = new http.IncomingMessage(new Socket());
  const res = new http.ServerResponse(req);
  Object.setPrototypeOf(req, bare.request);
  Object.setPrototypeOf(res, bare.response);
  (res as unknown as { req: unknown }).req = req;
  return res as unknown as Response;
}

/** The Location redirect() writes, next to the one Express's res.redirect() would have written. */
function locations(url: string): [string, string] {
  const ours = expressResponse();
  redirect(ours, url);
  const theirs = expressResponse();
  theirs.location(url);
  return [String(ours.getHeader('location')), String(theirs.getHeader('location'))];
}

let provider: TestProvider;
let app: TestApp;

beforeAll(async () => {
  app = await startApp((a, baseURL) => {
    a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET }));
    a.get('/page', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user?.sub }));
    a.get('/signup', (_req, res, next) => {
      res.oidc.login({ returnTo: '/page', authorizationParams: { screen_hint: 'signup' } }).catch(next);
    });
  });
  provider = await startProvider({ redirectUris: [`${app.url}/callback`], postLogoutRedirectUris: [`${app.url}/`] });
});
afterAll(async () => {
  await app.close();
  await provider.close();
});

/** A 302 the way the middleware sends it; returns the raw Location header. */
function expectBareRedirect(res: { status: number; headers: Headers; body: string }): string {
  expect(res.status).toBe(302);
  expect(res.headers.get('content-length')).toBe('0');
  expect(res.body).toBe('');
  expect(res.headers.get('content-type')).toBeNull();
  const location = res.headers.get('location');
  expect(location).toEqual(expect.any(String));
  return location!;
}

describe('redirect()', () => {
  it('writes the Location as Express\'s res.location() does, with 302, Content-Length 0 and no body', () => {
    const samples = [
      '/',
      'https://as.example/authorize?client_id=c&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc',
      '/page?q="<script>alert(1)</script>"',
      '/caf\u00e9 menu?x=\u00fc&y=\u{1F600}#frag ment',
      '/100%?a=%zz&b=%4&c=%41%4a',
      '/lone\uD800surrogate\uDC00here\uDBFF',
      '/tab\there/newline\nthere',
      "/quote'back`tick{brace}|pipe^caret[bracket]",
      `/ ${'\u{1F600}'.repeat(600)}`, // a run of over 1,024 unsafe code units from an odd offset
    ];
    for (const sample of samples) {
      const [ours, theirs] = locations(sample);
      expect([sample, ours]).toEqual([sample, theirs]);
      expect(ours).not.toMatch(/[\s"<>`\u0000-\u001f\u007f-\uffff]/u); // no quote, angle bracket, backtick, space, control or raw non-ASCII
    }
    const res = expressResponse();
    redirect(res, '/next');
    expect([res.statusCode, res.getHeader('content-length'), res.getHeader('content-type'), res.getHeader('vary')]).toEqual([302, '0', undefined, undefined]);
  });

  it('agrees with res.location() on 3,000 random strings of URL characters, escapes, surrogates and controls', () => {
    const pool = ['a', 'Z', '0', '/', '?', '#', '&', '=', '%', '%4', '%41', '%zz', ' ', '"', '<', '>', '\\', '`', '{', '}', '|', '^', '~', "'", '\u00e9', '\u20ac', '\uD83D\uDE00', '\uD800', '\uDC00', '\u0000', '\n', '\u007f'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 3000; i++) {
      let sample = '/';
      for (let j = Math.floor(next() * 12); j > 0; j--) sample += pool[Math.floor(next() * pool.length)];
      const [ours, theirs] = locations(sample);
      expect([sample, ours]).toEqual([sample, theirs]);
    }
  });
});

describe('the middleware\'s redirects', () => {
  it('login, callback and logout: 302 with only a Location (and the session cookie), which the browser follows', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/login?returnTo=${encodeURIComponent('/page?q=caf\u00e9 "x"')}`);
    const toServer = expectBareRedirect(start);
    expect(start.headers.get('set-cookie')).toMatch(/^app\.sid=/);
    expect(new URL(toServer).origin).toBe(provider.issuer);
    expect([...new URL(toServer).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);

    const back = await browser.get(await completeProviderLogin(browser, start.location!));
    const toPage = expectBareRedirect(back);
    expect(toPage).toBe('/page?q=caf%C3%A9%20%22x%22');
    expect(back.headers.get('set-cookie')).toMatch(/^app\.sid=/); // the new session id (fixation)
    const page = await browser.get(back.location!);
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body)).toEqual({ sub: 'alice' });

    const out = await browser.get(`${app.url}/logout`);
    const toEndSession = expectBareRedirect(out);
    expect(new URL(toEndSession).origin).toBe(provider.issuer);
    expect((await browser.get(`${app.url}/page`)).status).toBe(302);
  });

  it('requiresAuth(): the login route with returnTo, as Express would encode it', async () => {
    const res = await fetch(`${app.url}/page?q="<b>"&x=caf\u00e9`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    const location = expectBareRedirect({ status: res.status, headers: res.headers, body: await res.text() });
    const originalUrl = '/page?q=%22%3Cb%3E%22&x=caf%C3%A9'; // as fetch sends it
    expect(location).toBe(encodeUrl(`/login?returnTo=${encodeURIComponent(originalUrl)}`));
  });

  it('requiresAuth(): a HEAD is no page load (issue #25): 401, no redirect', async () => {
    const res = await fetch(`${app.url}/page`, { method: 'HEAD', headers: { accept: 'text/html' }, redirect: 'manual' });
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 401, location: null });
  });

  it('res.oidc.login() from a custom route', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/signup`);
    const toServer = expectBareRedirect(start);
    expect(new URL(toServer).origin).toBe(provider.issuer);
    expect(provider.pushedRequests.at(-1)).toMatchObject({ screen_hint: 'signup' });
    const back = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(expectBareRedirect(back)).toBe('/page');
  });
});
