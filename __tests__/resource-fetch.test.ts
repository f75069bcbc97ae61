/**
 * req.oidc.fetch(): calling the app's own API as the user. A small DPoP-protected resource server on
 * loopback checks each proof (RFC 9449 §4.3, §7.1: htm, htu, ath, its nonce, and the key's thumbprint
 * against the token's `cnf.jkt`, found by introspecting oidc-provider), demands a nonce (§9), and can
 * refuse a token once (RFC 6750 §3.1 `invalid_token`) to force a renewal.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import { parAuth } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_SECRET, type TestProvider, testClient } from './helpers/provider.js';
import { mountTokenRoutes } from './helpers/token-routes.js';

let provider: TestProvider;
const apps: Record<'dpop' | 'bearer', TestApp> = {} as never;
let api: { url: string; close(): Promise<void> };

/** What the resource server does and saw. */
const rs = {
  nonce: 'rs-nonce-1',
  alwaysChallenge: false,
  refuseOnce: false,
  requests: [] as Array<{ scheme: string; token: string; nonce?: unknown; answer: number }>,
};

async function resourceServer(req: http.IncomingMessage): Promise<{ status: number; headers?: Record<string, string>; body?: unknown }> {
  const [scheme = '', token = ''] = String(req.headers.authorization ?? '').split(' ');
  const record = (answer: number, nonce?: unknown) => rs.requests.push({ scheme, token, nonce, answer });
  const refuse = (error: string, extra: Record<string, string> = {}) => ({ status: 401, headers: { 'www-authenticate': `${scheme === 'Bearer' ? 'Bearer' : 'DPoP'} error="${error}"`, ...extra } });
  const stored = await provider.provider.AccessToken.find(token);
  if (scheme === 'Bearer') {
    if (!stored || stored.jkt) return (record(401), refuse('invalid_token'));
    if (rs.refuseOnce) return ((rs.refuseOnce = false), record(401), refuse('invalid_token'));
    record(200);
    return { status: 200, body: { sub: stored.accountId, scheme } };
  }
  if (scheme !== 'DPoP') return (record(401), refuse('invalid_request'));
  // RFC 9449 §4.3: a valid proof for this request
  const proof = await jwtVerify(String(req.headers.dpop), EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'], maxTokenAge: 60 });
  const url = new URL(req.url ?? '/', api.url);
  expect(proof.payload.htm).toBe(req.method);
  expect(proof.payload.htu).toBe(`${url.origin}${url.pathname}`);
  expect(proof.payload.ath).toBe(createHash('sha256').update(token).digest('base64url')); // §7.1
  if (rs.alwaysChallenge || proof.payload.nonce !== rs.nonce) {
    record(401, proof.payload.nonce);
    return refuse('use_dpop_nonce', { 'dpop-nonce': rs.nonce }); // §9
  }
  // §7.1: the proof's key is the one the token is bound to (cnf.jkt)
  if (!stored || stored.jkt !== (await calculateJwkThumbprint(proof.protectedHeader.jwk!))) return (record(401, proof.payload.nonce), refuse('invalid_token'));
  if (rs.refuseOnce) return ((rs.refuseOnce = false), record(401, proof.payload.nonce), refuse('invalid_token'));
  record(200, proof.payload.nonce);
  return { status: 200, body: { sub: stored.accountId, scheme, method: req.method } };
}

beforeAll(async () => {
  const server = http.createServer((req, res) => {
    resourceServer(req).then(
      (r) => res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers }).end(r.body === undefined ? '' : JSON.stringify(r.body)),
      (err: unknown) => res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const mount = (clientID: string, dpop: boolean) => (a: import('express').Express, baseURL: string) => {
    a.use(parAuth({
      issuerBaseURL: provider.issuer, baseURL, clientID, clientSecret: TEST_CLIENT_SECRET, dpop,
      authorizationParams: { scope: 'openid profile offline_access', prompt: 'consent' },
    }));
    mountTokenRoutes(a);
    a.get('/headers', (req, res, next) => {
      const nonce = typeof req.query.nonce === 'string' ? { dpopNonce: req.query.nonce } : undefined;
      req.oidc.authorizationHeaders('GET', String(req.query.url), nonce).then((headers) => res.json(headers), next);
    });
  };
  apps.dpop = await startApp(mount('dpop-client', true));
  apps.bearer = await startApp(mount('bearer-client', false));
  provider = await startProvider({
    clients: [testClient('dpop-client', [`${apps.dpop.url}/callback`], [], { dpop_bound_access_tokens: true }), testClient('bearer-client', [`${apps.bearer.url}/callback`])],
    configure: (config) => {
      config.features.dPoP = { enabled: true };
      config.rotateRefreshToken = true;
    },
  });
});
afterAll(async () => {
  await Promise.all([apps.dpop.close(), apps.bearer.close(), api.close()]);
  await provider.close();
});
beforeEach(() => {
  rs.alwaysChallenge = false;
  rs.refuseOnce = false;
  rs.requests.length = 0;
});

async function loggedIn(app: TestApp) {
  const browser = new TestBrowser();
  const start = await browser.get(`${app.url}/login`);
  await browser.get(await completeProviderLogin(browser, start.location!));
  return browser;
}

async function callApi(browser: TestBrowser, app: TestApp, path = '/data', method = 'GET') {
  const res = await browser.get(`${app.url}/api?url=${encodeURIComponent(`${api.url}${path}?q=1`)}&method=${method}`);
  const body = JSON.parse(res.body) as { status: number; body: string; code?: string };
  return { status: res.status, api: body.status, body: body.body ? JSON.parse(body.body) : undefined };
}

async function stored(browser: TestBrowser, app: TestApp) {
  return JSON.parse((await browser.get(`${app.url}/tokens`)).body) as { accessToken: string; refreshToken: string; tokenType: string };
}

const refreshGrants = () => provider.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length;

describe('req.oidc.fetch() with DPoP', () => {
  it('sends a proof the resource server accepts, after answering its use_dpop_nonce challenge once', async () => {
    const browser = await loggedIn(apps.dpop);
    expect((await stored(browser, apps.dpop)).tokenType).toBe('DPoP');
    const res = await callApi(browser, apps.dpop, '/data', 'POST');
    expect(res).toEqual({ status: 200, api: 200, body: { sub: 'alice', scheme: 'DPoP', method: 'POST' } });
    expect(rs.requests.map((r) => [r.answer, r.nonce])).toEqual([[401, undefined], [200, 'rs-nonce-1']]);
  });

  it('renews the token once when the API answers 401 invalid_token, and retries with the new one', async () => {
    const browser = await loggedIn(apps.dpop);
    const before = await stored(browser, apps.dpop);
    const grants = refreshGrants();
    rs.refuseOnce = true;
    const res = await callApi(browser, apps.dpop);
    expect(res).toEqual({ status: 200, api: 200, body: expect.objectContaining({ sub: 'alice' }) });
    expect(refreshGrants() - grants).toBe(1);
    const after = await stored(browser, apps.dpop);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    const [refused, accepted] = rs.requests.slice(-2);
    expect(refused).toMatchObject({ answer: 401, token: before.accessToken });
    expect(accepted).toMatchObject({ answer: 200, token: after.accessToken });
  });

  it('gives up after one nonce retry: the app sees the resource server\'s 401', async () => {
    const browser = await loggedIn(apps.dpop);
    rs.alwaysChallenge = true;
    const res = await callApi(browser, apps.dpop);
    expect(res).toMatchObject({ status: 200, api: 401 });
    expect(rs.requests).toHaveLength(2);
  });

  it('lets authorizationHeaders() use the nonce that fetch learnt, or one the app passes', async () => {
    const browser = await loggedIn(apps.dpop);
    expect((await callApi(browser, apps.dpop)).api).toBe(200); // learns rs-nonce-1
    const url = `${api.url}/data`;
    const headers = JSON.parse((await browser.get(`${apps.dpop.url}/headers?url=${encodeURIComponent(url)}`)).body) as Record<string, string>;
    expect((await fetch(url, { headers })).status).toBe(200);
    rs.nonce = 'rs-nonce-2'; // the resource server rotates its nonce
    try {
      const stale = JSON.parse((await browser.get(`${apps.dpop.url}/headers?url=${encodeURIComponent(url)}`)).body) as Record<string, string>;
      const challenge = await fetch(url, { headers: stale });
      expect(challenge.status).toBe(401);
      const fresh = JSON.parse((await browser.get(`${apps.dpop.url}/headers?url=${encodeURIComponent(url)}&nonce=${challenge.headers.get('dpop-nonce')}`)).body) as Record<string, string>;
      expect((await fetch(url, { headers: fresh })).status).toBe(200);
    } finally {
      rs.nonce = 'rs-nonce-1';
    }
  });
});

describe('req.oidc.fetch() with a Bearer token', () => {
  it('attaches the token and renews it once on 401 invalid_token', async () => {
    const browser = await loggedIn(apps.bearer);
    const before = await stored(browser, apps.bearer);
    expect(await callApi(browser, apps.bearer)).toEqual({ status: 200, api: 200, body: { sub: 'alice', scheme: 'Bearer' } });
    expect(rs.requests.at(-1)).toMatchObject({ scheme: 'Bearer', token: before.accessToken });
    rs.refuseOnce = true;
    expect((await callApi(browser, apps.bearer)).api).toBe(200);
    expect(rs.requests.at(-1)!.token).not.toBe(before.accessToken);
  });

  it('without a login: 401 login_required, and nothing is sent', async () => {
    const res = await callApi(new TestBrowser(), apps.bearer);
    expect(res.status).toBe(401);
    expect(rs.requests).toHaveLength(0);
  });
});
