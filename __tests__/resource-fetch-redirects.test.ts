/**
 * Contract, "Claims, logout and redirects": `req.oidc.fetch()` sends neither the access token nor a DPoP
 * proof to an origin other than the one it was given, redirects included (issue #24, item 8). Two loopback
 * servers on different ports (two origins) record every request's headers: the API at `first` redirects,
 * `second` is where a cross-origin hop lands. Bearer and DPoP logins against oidc-provider.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { parAuth } from '../lib/index.js';
import { DpopNonces } from '../lib/protocol/dpop.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_SECRET, type TestProvider, testClient } from './helpers/provider.js';
import { mountTokenRoutes } from './helpers/token-routes.js';

interface Seen { origin: string; method: string; path: string; authorization?: string; dpop?: string }

let provider: TestProvider;
const apps: Record<'dpop' | 'bearer', TestApp> = {} as never;
const seen: Seen[] = [];
const servers: Record<'first' | 'second', { url: string; close(): Promise<void> }> = {} as never;

/** `/to?url=…&status=…` redirects there, `/loop` to itself; anything else answers 200 with what it saw. */
async function recorder(name: 'first' | 'second'): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', servers[name].url);
    const { authorization, dpop } = req.headers;
    const record: Seen = { origin: url.origin, method: req.method ?? '', path: url.pathname };
    if (authorization) record.authorization = authorization;
    if (typeof dpop === 'string') record.dpop = dpop;
    seen.push(record);
    req.resume();
    if (url.pathname === '/loop') {
      res.writeHead(302, { location: '/loop' }).end();
      return;
    }
    if (url.pathname === '/to') {
      res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('url')! }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ at: name }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

beforeAll(async () => {
  servers.first = await recorder('first');
  servers.second = await recorder('second');
  const mount = (clientID: string, dpop: boolean) => (a: import('express').Express, baseURL: string) => {
    const authorizationParams = { scope: 'openid profile' };
    a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID, clientSecret: TEST_CLIENT_SECRET, dpop, authorizationParams }));
    mountTokenRoutes(a);
  };
  apps.dpop = await startApp(mount('dpop-client', true));
  apps.bearer = await startApp(mount('bearer-client', false));
  provider = await startProvider({
    clients: [
      testClient('dpop-client', [`${apps.dpop.url}/callback`], [], { dpop_bound_access_tokens: true }),
      testClient('bearer-client', [`${apps.bearer.url}/callback`]),
    ],
    configure: (config) => {
      config.features.dPoP = { enabled: true };
    },
  });
});
afterAll(async () => {
  await Promise.all([apps.dpop.close(), apps.bearer.close(), servers.first.close(), servers.second.close()]);
  await provider.close();
});
beforeEach(() => {
  seen.length = 0;
});

async function loggedIn(app: TestApp) {
  const browser = new TestBrowser();
  const start = await browser.get(`${app.url}/login`);
  await browser.get(await completeProviderLogin(browser, start.location!));
  return browser;
}

/** req.oidc.fetch(url, { redirect, method }) from a route of `app`; what the app got back. */
async function callApi(browser: TestBrowser, app: TestApp, url: string, init: { redirect?: string; method?: string } = {}) {
  const query = new URLSearchParams({ url, ...init });
  const res = await browser.get(`${app.url}/api?${query}`);
  const body = JSON.parse(res.body) as { status?: number; location?: string; body?: string; code?: string };
  return { status: res.status, api: body.status, location: body.location, body: body.body ? JSON.parse(body.body) : undefined };
}

const via = (target: string, status = 302) => `${servers.first.url}/to?${new URLSearchParams({ url: target, status: String(status) })}`;
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

describe.each(['bearer', 'dpop'] as const)('req.oidc.fetch() with a %s token and redirect: "follow"', (kind) => {
  it.each([301, 302, 303, 307, 308])('a %d to another origin: the hop there carries neither Authorization nor DPoP', async (status) => {
    const browser = await loggedIn(apps[kind]);
    const res = await callApi(browser, apps[kind], via(`${servers.second.url}/landing`, status), { redirect: 'follow' });
    expect(res).toMatchObject({ status: 200, api: 200, body: { at: 'second' } });
    const [first, second] = seen;
    expect(first).toMatchObject({ origin: servers.first.url, authorization: expect.stringMatching(kind === 'dpop' ? /^DPoP / : /^Bearer /) });
    expect(kind === 'dpop' ? first!.dpop : undefined).toEqual(kind === 'dpop' ? expect.any(String) : undefined);
    expect(second).toEqual({ origin: servers.second.url, method: 'GET', path: '/landing' });
    expect(seen).toHaveLength(2);
  });

  it('a redirect to the same origin: the next hop carries the token (and a fresh proof for its URL)', async () => {
    const browser = await loggedIn(apps[kind]);
    const res = await callApi(browser, apps[kind], via(`${servers.first.url}/final?x=1`), { redirect: 'follow' });
    expect(res).toMatchObject({ status: 200, api: 200, body: { at: 'first' } });
    expect(seen.map((s) => s.path)).toEqual(['/to', '/final']);
    const [hop, final] = seen as [Seen, Seen];
    expect(final.authorization).toBe(hop.authorization);
    if (kind === 'dpop') {
      const token = final.authorization!.replace(/^DPoP /, '');
      const [one, two] = [decodeJwt(hop.dpop!), decodeJwt(final.dpop!)];
      expect(two).toMatchObject({ htm: 'GET', htu: `${servers.first.url}/final`, ath: ath(token) });
      expect(one.htu).toBe(`${servers.first.url}/to`);
      expect(two.jti).not.toBe(one.jti);
      expect(decodeProtectedHeader(final.dpop!).jwk).toEqual(decodeProtectedHeader(hop.dpop!).jwk);
    }
  });

  it('once a hop left the origin, a redirect back to it carries no token either', async () => {
    const browser = await loggedIn(apps[kind]);
    const back = `${servers.second.url}/to?${new URLSearchParams({ url: `${servers.first.url}/final` })}`;
    // second's /to is served by the recorder too: it redirects back to first
    const res = await callApi(browser, apps[kind], via(back), { redirect: 'follow' });
    expect(res).toMatchObject({ status: 200, api: 200, body: { at: 'first' } });
    expect(seen.map((s) => [s.origin, s.path, s.authorization !== undefined, s.dpop !== undefined])).toEqual([
      [servers.first.url, '/to', true, kind === 'dpop'],
      [servers.second.url, '/to', false, false],
      [servers.first.url, '/final', false, false],
    ]);
  });
});

describe('req.oidc.fetch() redirect modes and bounds', () => {
  it('follows nothing by default: the app gets the 302 and its Location', async () => {
    const browser = await loggedIn(apps.bearer);
    const target = `${servers.second.url}/landing`;
    expect(await callApi(browser, apps.bearer, via(target))).toMatchObject({ status: 200, api: 302, location: target });
    expect(seen).toHaveLength(1);
  });

  it('redirect: "error" rejects on a redirect', async () => {
    const browser = await loggedIn(apps.bearer);
    expect((await callApi(browser, apps.bearer, via(`${servers.second.url}/landing`), { redirect: 'error' })).status).toBe(500);
    expect(seen).toHaveLength(1);
  });

  it('a 303 after a POST goes on as a GET; a 307 keeps the method', async () => {
    const browser = await loggedIn(apps.bearer);
    await callApi(browser, apps.bearer, via(`${servers.first.url}/final`, 303), { redirect: 'follow', method: 'POST' });
    await callApi(browser, apps.bearer, via(`${servers.first.url}/final`, 307), { redirect: 'follow', method: 'POST' });
    expect(seen.map((s) => [s.method, s.path])).toEqual([['POST', '/to'], ['GET', '/final'], ['POST', '/to'], ['POST', '/final']]);
  });

  it('stops a redirect loop with an error after a bounded number of hops', async () => {
    const browser = await loggedIn(apps.bearer);
    const res = await callApi(browser, apps.bearer, `${servers.first.url}/loop`, { redirect: 'follow' });
    expect(res.status).toBe(500);
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.length).toBeLessThanOrEqual(21);
  });

  it('refuses an http: URL off loopback (the token would travel in the clear), sending nothing', async () => {
    const browser = await loggedIn(apps.bearer);
    const res = await callApi(browser, apps.bearer, 'http://api.example.com/data', { redirect: 'follow' });
    expect(res.status).toBe(500);
    expect(apps.bearer.errors.at(-1)!.message).toMatch(/https/);
  });
});

describe('DpopNonces', () => {
  it('keeps a bounded number of origins (the oldest-updated dropped first)', () => {
    const nonces = new DpopNonces();
    for (let i = 0; i < 2000; i++) nonces.remember(`https://rs-${i}.example/x`, { 'dpop-nonce': `n-${i}` });
    expect(nonces.get('https://rs-1999.example/')).toBe('n-1999');
    expect(nonces.get('https://rs-0.example/')).toBeUndefined();
    expect(nonces.size).toBeLessThanOrEqual(500);
  });
});
