/**
 * Tokens for several APIs (issue #27 part 1): `req.oidc.getAccessToken({ resource, scope })` and
 * `req.oidc.fetch(url, init, { resource })` against oidc-provider with resource indicators (RFC 8707:
 * the refresh grant with `resource` gives a JWT access token with that `aud`) and refresh-token rotation
 * (a refresh token redeemed twice is refused and its grant revoked): one refresh per API for parallel
 * calls, the rotated refresh token handed from one API's refresh to the next and to the login's own, the
 * login's token untouched, DPoP-bound API tokens, the cap on cached API tokens, and bad options.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { parAuth, type ParEvent } from '../lib/index.js';
import { MAX_API_TOKENS } from '../lib/state/api-tokens.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_SECRET, testClient, type TestProvider } from './helpers/provider.js';
import { createGate, mountTokenRoutes, type HeldGate } from './helpers/token-routes.js';

const API = (n: number) => `https://api-${n}.example.com/`;
const APIS = Array.from({ length: MAX_API_TOKENS + 1 }, (_, i) => API(i + 1));
const LARGE = 10 * 24 * 3600; // longer than any token lives: every call must refresh

let provider: TestProvider;
const apps = {} as Record<'bearer' | 'dpop' | 'noRefresh', TestApp>;
let api: { url: string; close(): Promise<void> };
const events: ParEvent[] = [];
let gate: HeldGate | undefined;

function mount(clientID: string, dpop: boolean, scope = 'openid offline_access read write') {
  return (a: Express, baseURL: string) => {
    a.use(parAuth({
      issuerBaseURL: provider.issuer, baseURL, clientID, clientSecret: TEST_CLIENT_SECRET, dpop,
      authorizationParams: { scope, prompt: 'consent', resource: APIS },
      onEvent: (event) => events.push(event),
    }));
    mountTokenRoutes(a, { gate: () => gate });
    a.get('/api-token', (req, res, next) => {
      req.oidc.getAccessToken(JSON.parse(String(req.query.opts))).then((accessToken) => res.json({ accessToken }), next);
    });
    a.get('/api-call', (req, res, next) => {
      const opts = req.query.opts === undefined ? undefined : JSON.parse(String(req.query.opts));
      req.oidc.fetch(String(req.query.url), {}, opts).then(async (answer) => res.json(await answer.json()), next);
    });
    a.get('/session', (req, res) => {
      const login = Object.values(req.session.par ?? {})[0]?.login as Record<string, unknown> | undefined;
      res.json({ bytes: JSON.stringify(req.session).length, apis: login?.apis ?? {} });
    });
  };
}

beforeAll(async () => {
  // A resource server that echoes what it was sent.
  const server = http.createServer((req, res) => {
    const [scheme = '', token = ''] = String(req.headers.authorization ?? '').split(' ');
    const proof = typeof req.headers.dpop === 'string' ? decodeProtectedHeader(req.headers.dpop).jwk : undefined;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ scheme, token, proofJwk: proof }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  [apps.bearer, apps.dpop, apps.noRefresh] = await Promise.all([
    startApp(mount('bearer-client', false)), startApp(mount('dpop-client', true)), startApp(mount('bearer-client', false, 'openid read')),
  ]);
  provider = await startProvider({
    clients: [
      testClient('bearer-client', [apps.bearer, apps.noRefresh].map((a) => `${a.url}/callback`)),
      testClient('dpop-client', [`${apps.dpop.url}/callback`], [], { dpop_bound_access_tokens: true }),
    ],
    configure: (config) => {
      config.rotateRefreshToken = true;
      config.features.dPoP = { enabled: true };
      config.features.resourceIndicators = {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string | string[]) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async () => ({ scope: 'read write', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      };
    },
  });
});
afterAll(async () => {
  await Promise.all([...Object.values(apps).map((a) => a.close()), api.close()]);
  await provider.close();
});
beforeEach(() => {
  events.length = 0;
});

async function loggedIn(app: TestApp) {
  const browser = new TestBrowser();
  const start = await browser.get(`${app.url}/login`);
  expect((await browser.get(await completeProviderLogin(browser, start.location!))).status).toBe(302);
  return browser;
}

async function apiToken(browser: TestBrowser, app: TestApp, opts: Record<string, unknown>) {
  const res = await browser.get(`${app.url}/api-token?opts=${encodeURIComponent(JSON.stringify(opts))}`);
  return { status: res.status, body: JSON.parse(res.body) as { accessToken?: string; code?: string; message?: string } };
}

async function stored(browser: TestBrowser, app: TestApp) {
  return JSON.parse((await browser.get(`${app.url}/tokens`)).body) as { authenticated: boolean; accessToken: string; refreshToken: string };
}

async function session(browser: TestBrowser, app: TestApp) {
  return JSON.parse((await browser.get(`${app.url}/session`)).body) as { bytes: number; apis: Record<string, { t: string; r: number }> };
}

const refreshRequests = () => provider.tokenRequests.filter((r) => r.grant_type === 'refresh_token');

describe('getAccessToken({ resource, scope }) against oidc-provider (RFC 8707, rotating refresh tokens)', () => {
  it('obtains a JWT for that API with the refresh token, keeps it per API, and leaves the login\'s own token alone', async () => {
    const browser = await loggedIn(apps.bearer);
    const before = await stored(browser, apps.bearer);
    const sent = refreshRequests().length;
    const a = await apiToken(browser, apps.bearer, { resource: API(1), scope: 'read' });
    expect(a.status).toBe(200);
    expect(decodeJwt(a.body.accessToken!)).toMatchObject({ aud: API(1), scope: 'read', sub: 'alice' });
    expect(refreshRequests().slice(sent)).toEqual([expect.objectContaining({ resource: API(1), scope: 'read', refresh_token: before.refreshToken })]);
    const after = await stored(browser, apps.bearer);
    expect(after.accessToken).toBe(before.accessToken); // the login's own token is untouched
    expect(after.refreshToken).not.toBe(before.refreshToken); // the rotated one is kept
    // Kept: asked again, no refresh grant; another scope or API is another token.
    expect(await apiToken(browser, apps.bearer, { resource: API(1), scope: 'read' })).toEqual(a);
    expect(refreshRequests().length - sent).toBe(1);
    const b = await apiToken(browser, apps.bearer, { resource: [API(2)], scope: 'read write' });
    expect(decodeJwt(b.body.accessToken!)).toMatchObject({ aud: API(2), scope: 'read write' });
    expect(refreshRequests().at(-1)).toMatchObject({ refresh_token: after.refreshToken }); // the rotated one
    expect(events.filter((e) => e.type === 'token.refreshed')).toEqual([
      expect.objectContaining({ api: API(1) }), expect.objectContaining({ api: API(2) }),
    ]);
    // The login's own refresh still works with the refresh token the API refreshes rotated.
    expect((await browser.post(`${apps.bearer.url}/refresh`, {})).status).toBe(200);
  });

  it('parallel calls for two APIs and the login\'s own token: one refresh grant each, none refused', async () => {
    const browser = await loggedIn(apps.bearer);
    const sent = refreshRequests().length;
    const calls = [
      ...Array.from({ length: 8 }, () => apiToken(browser, apps.bearer, { resource: API(1) })),
      ...Array.from({ length: 8 }, () => apiToken(browser, apps.bearer, { resource: API(2) })),
      ...Array.from({ length: 4 }, () => browser.get(`${apps.bearer.url}/token?minTtl=${LARGE}`).then((r) => ({ status: r.status, body: JSON.parse(r.body) }))),
    ];
    const answers = await Promise.all(calls);
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    const grants = refreshRequests().slice(sent);
    expect(grants).toHaveLength(3);
    // Each grant redeemed the refresh token the one before it rotated in: no reuse, nothing revoked.
    expect(new Set(grants.map((g) => g.refresh_token)).size).toBe(3);
    expect(new Set(answers.slice(0, 8).map((r) => r.body.accessToken)).size).toBe(1);
    expect(new Set(answers.slice(8, 16).map((r) => r.body.accessToken)).size).toBe(1);
    expect(decodeJwt(answers[0]!.body.accessToken).aud).toBe(API(1));
    expect(decodeJwt(answers[8]!.body.accessToken).aud).toBe(API(2));
    const now = await stored(browser, apps.bearer);
    expect(now.accessToken).toBe(answers[16]!.body.accessToken);
    // What the session holds is the live refresh token: one more refresh succeeds.
    expect((await browser.post(`${apps.bearer.url}/refresh`, {})).status).toBe(200);
    expect(Object.keys((await session(browser, apps.bearer)).apis)).toHaveLength(2);
  });

  it('a request that loaded the session before an API refresh does not write the rotated-away refresh token back', async () => {
    const browser = await loggedIn(apps.bearer);
    const first = await stored(browser, apps.bearer);
    gate = createGate();
    const held = browser.get(`${apps.bearer.url}/hold`);
    await gate.entered; // its session (the first refresh token, no API token) is loaded
    const a = await apiToken(browser, apps.bearer, { resource: API(1) });
    expect(a.status).toBe(200);
    gate.release();
    expect((await held).status).toBe(200);
    gate = undefined;
    const now = await stored(browser, apps.bearer);
    expect(now.refreshToken).not.toBe(first.refreshToken);
    expect(now.accessToken).toBe(first.accessToken);
    expect(Object.values((await session(browser, apps.bearer)).apis).map((e) => e.t)).toEqual([a.body.accessToken]);
    expect((await browser.post(`${apps.bearer.url}/refresh`, {})).status).toBe(200); // the stored refresh token is the live one
  });

  it('req.oidc.fetch(url, init, { resource }) sends that API\'s token; without the option, the login\'s', async () => {
    const browser = await loggedIn(apps.bearer);
    const call = async (opts?: Record<string, unknown>) => {
      const query = opts ? `&opts=${encodeURIComponent(JSON.stringify(opts))}` : '';
      const res = await browser.get(`${apps.bearer.url}/api-call?url=${encodeURIComponent(`${api.url}/x`)}${query}`);
      return JSON.parse(res.body) as { scheme: string; token: string };
    };
    const viaApi = await call({ resource: API(3), scope: 'write' });
    expect(viaApi.scheme).toBe('Bearer');
    expect(decodeJwt(viaApi.token)).toMatchObject({ aud: API(3), scope: 'write' });
    const own = await call();
    expect(own.token).toBe((await stored(browser, apps.bearer)).accessToken);
  });

  it('a DPoP login gets DPoP-bound API tokens, bound to the login\'s key, and fetch() proves it', async () => {
    const browser = await loggedIn(apps.dpop);
    const res = await browser.get(`${apps.dpop.url}/api-call?url=${encodeURIComponent(`${api.url}/x`)}&opts=${encodeURIComponent(JSON.stringify({ resource: API(1) }))}`);
    const seen = JSON.parse(res.body) as { scheme: string; token: string; proofJwk: JWK };
    expect(seen.scheme).toBe('DPoP');
    const claims = decodeJwt(seen.token) as { aud: string; cnf: { jkt: string } };
    expect(claims.aud).toBe(API(1));
    expect(claims.cnf.jkt).toBe(await calculateJwkThumbprint(seen.proofJwk));
    expect(refreshRequests().at(-1)).toMatchObject({ resource: API(1) });
  });

  it(`keeps at most ${MAX_API_TOKENS} APIs' tokens, the oldest first out, and says what each costs the session`, async () => {
    const browser = await loggedIn(apps.bearer);
    const empty = (await session(browser, apps.bearer)).bytes;
    const first = await apiToken(browser, apps.bearer, { resource: APIS[0] });
    const one = await session(browser, apps.bearer);
    for (const uri of APIS.slice(1)) expect((await apiToken(browser, apps.bearer, { resource: uri })).status).toBe(200);
    const full = await session(browser, apps.bearer);
    expect(Object.keys(full.apis)).toHaveLength(MAX_API_TOKENS);
    expect(Object.values(full.apis).map((e) => e.t)).not.toContain(first.body.accessToken); // the oldest went
    const sent = refreshRequests().length;
    expect((await apiToken(browser, apps.bearer, { resource: APIS[0] })).body.accessToken).not.toBe(first.body.accessToken);
    expect(refreshRequests().length - sent).toBe(1);
    const tokenBytes = Object.values(full.apis).reduce((sum, e) => sum + e.t.length, 0) / MAX_API_TOKENS;
    const perToken = (full.bytes - empty) / MAX_API_TOKENS;
    expect(perToken - tokenBytes).toBeLessThanOrEqual(80); // the bookkeeping around each token
    process.stdout.write(`session-budget: the first cached API token adds ${one.bytes - empty} bytes; ${MAX_API_TOKENS} of them ` +
      `${full.bytes - empty} bytes: ${Math.round(tokenBytes)} of JWT access token and ${Math.round(perToken - tokenBytes)} of bookkeeping each\n`);
  });

  it('a refused refresh token ends the login: 401 login_required', async () => {
    const browser = await loggedIn(apps.bearer);
    const { refreshToken } = await stored(browser, apps.bearer);
    await (await provider.provider.RefreshToken.find(refreshToken)).destroy();
    expect(await apiToken(browser, apps.bearer, { resource: API(1) })).toEqual({ status: 401, body: expect.objectContaining({ code: 'login_required' }) });
    expect((await stored(browser, apps.bearer)).authenticated).toBe(false);
  });

  it('without a login, or without a refresh token: 401 login_required', async () => {
    expect((await apiToken(new TestBrowser(), apps.bearer, { resource: API(1) })).body.code).toBe('login_required');
    const browser = await loggedIn(apps.noRefresh);
    expect(await apiToken(browser, apps.noRefresh, { resource: API(1) })).toEqual({ status: 401, body: expect.objectContaining({ code: 'login_required' }) });
    expect((await stored(browser, apps.noRefresh)).authenticated).toBe(true); // nothing to end: the login stays
  });

  it.each([
    [{ audience: '' }, '"audience" must be a non-empty string'],
    [{ audience: 42 }, '"audience" must be a non-empty string'],
    [{ resource: '/relative' }, '"resource" must be an absolute URI without a fragment'],
    [{ resource: 'https://api.example.com/#part' }, '"resource" must be an absolute URI without a fragment'],
    [{ resource: [] }, '"resource" must be an absolute URI without a fragment'],
    [{ resource: ['https://api.example.com/', 7] }, '"resource" must be an absolute URI without a fragment'],
    [{ audience: 'https://a.example', resource: 'https://b.example' }, 'give "audience" or "resource", not both'],
    [{ scope: 'read' }, '"scope" asks for an API\'s token: give "audience" or "resource" with it'],
    [{ resource: API(1), scope: 'read  write' }, '"scope" must be a space-separated string'],
    [{ resource: API(1), scope: 'read "quoted"' }, '"scope" must be a space-separated string'],
  ])('getAccessToken(%j) is a TypeError naming the option', async (opts, message) => {
    const browser = await loggedIn(apps.bearer);
    const sent = refreshRequests().length;
    const res = await apiToken(browser, apps.bearer, opts);
    expect(res.status).toBe(500);
    expect(apps.bearer.errors.at(-1)?.message).toContain(`getAccessToken(): ${message}`);
    expect(refreshRequests().length).toBe(sent);
  });

  it('req.oidc.fetch() refuses an unknown API option with a TypeError, sending nothing', async () => {
    const browser = await loggedIn(apps.bearer);
    const res = await browser.get(`${apps.bearer.url}/api-call?url=${encodeURIComponent(`${api.url}/x`)}&opts=${encodeURIComponent(JSON.stringify({ audiences: 'x' }))}`);
    expect(res.status).toBe(500);
    expect(apps.bearer.errors.at(-1)?.message).toContain('"audiences" is not an option');
  });
});
