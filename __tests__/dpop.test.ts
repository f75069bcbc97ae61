/**
 * DPoP (RFC 9449) against oidc-provider with `features.dPoP` and a client registered with
 * `dpop_bound_access_tokens: true`: per-session and configured keys, proofs at PAR and token endpoint,
 * server nonces (§8), token_type checks (§5) and resource requests with `ath` (§7).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import type { Express } from 'express';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { parAuth, requiresAuth, type ParAuthConfig } from '../lib/index.js';
import { processTokenResponse } from '../lib/protocol/token.js';
import { postToEndpoint } from '../lib/protocol/endpoint.js';
import { resolveConfig } from '../lib/config/resolve.js';
import { DpopNonces, dpopKeyFromJwk, generateDpopKey } from '../lib/protocol/dpop.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import { startProvider, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

const CLIENT_ID = 'dpop-client';
const configuredKey = { ...(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK), kid: 'app-dpop' };

function mount(issuer: () => string, options: Partial<ParAuthConfig>, clientID = CLIENT_ID, clientSecret = TEST_CLIENT_SECRET) {
  return (a: Express, baseURL: string) => {
    a.use(parAuth({ issuerBaseURL: issuer(), baseURL, clientID, clientSecret, ...options }));
    a.get('/me', requiresAuth(), (req, res) => {
      const jwk = Object.values(req.session.par ?? {})[0]?.login?.dpopJwk as JWK | undefined;
      res.json({ sub: req.oidc.user?.sub, tokenType: req.oidc.tokenType, accessToken: req.oidc.accessToken, dpopJwk: jwk && { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, hasD: typeof jwk.d === 'string' } });
    });
    // What an app does with the token: call a resource (here the userinfo endpoint) with its headers.
    a.get('/userinfo', requiresAuth(), async (req, res, next) => {
      try {
        const url = `${issuer()}/me`;
        const headers = await req.oidc.authorizationHeaders('GET', `${url}?ignored=1#frag`);
        const answer = await fetch(url, { headers });
        res.json({ headers, status: answer.status, body: await answer.json() });
      } catch (err) {
        next(err);
      }
    });
  };
}

function dpopClient(redirectUris: string[]) {
  return {
    client_id: CLIENT_ID,
    client_secret: TEST_CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: redirectUris,
    id_token_signed_response_alg: 'RS256',
    dpop_bound_access_tokens: true,
  };
}

let plain: TestProvider;
let nonced: TestProvider;
let faulty: FaultyServer;
const apps: Record<'perSession' | 'configured' | 'nonce' | 'faultyDpop' | 'faultyBearer', TestApp> = {} as never;
const nonceChallenges = { par: 0, token: 0 };

beforeAll(async () => {
  faulty = await startFaultyServer();
  apps.perSession = await startApp(mount(() => plain.issuer, { dpop: true }));
  apps.configured = await startApp(mount(() => plain.issuer, { dpop: configuredKey }));
  apps.nonce = await startApp(mount(() => nonced.issuer, { dpop: true }));
  apps.faultyDpop = await startApp(mount(() => faulty.issuer, { dpop: true }, faulty.clientId, faulty.clientSecret));
  apps.faultyBearer = await startApp(mount(() => faulty.issuer, {}, faulty.clientId, faulty.clientSecret));
  plain = await startProvider({
    clients: [dpopClient([apps.perSession.url, apps.configured.url].map((u) => `${u}/callback`))],
    configure: (config) => {
      config.features.dPoP = { enabled: true };
    },
  });
  nonced = await startProvider({
    clients: [dpopClient([`${apps.nonce.url}/callback`])],
    configure: (config) => {
      // RFC 9449 §8: every proof must carry a server-provided nonce.
      config.features.dPoP = { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true };
    },
  });
  nonced.provider.on('pushed_authorization_request.error', (_ctx: unknown, err: { error?: string }) => {
    if (err.error === 'use_dpop_nonce') nonceChallenges.par += 1;
  });
  nonced.provider.on('grant.error', (_ctx: unknown, err: { error?: string }) => {
    if (err.error === 'use_dpop_nonce') nonceChallenges.token += 1;
  });
});

afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.close()));
  await Promise.all([plain.close(), nonced.close(), faulty.close()]);
});

async function loginAndFetchMe(app: TestApp, provider: TestProvider, browser = new TestBrowser()) {
  const start = await browser.get(`${app.url}/login?returnTo=/me`);
  expect({ status: start.status, body: start.status === 302 ? '' : start.body }).toEqual({ status: 302, body: '' });
  const pushed = provider.pushedRequests.at(-1);
  const callback = await browser.get(await completeProviderLogin(browser, start.location!));
  expect({ status: callback.status, body: callback.status === 302 ? '' : callback.body }).toEqual({ status: 302, body: '' });
  expect(callback.status).toBe(302);
  const me = await browser.get(`${app.url}/me`);
  expect(me.status).toBe(200);
  return { browser, pushed: pushed!, me: JSON.parse(me.body) as { sub: string; tokenType: string; accessToken: string; dpopJwk?: JWK & { hasD: boolean } } };
}

describe('dpop: true (a fresh key per session)', () => {
  it('binds the code with dpop_jkt and gets a DPoP-bound access token for the key stored in the session', async () => {
    const { pushed, me } = await loginAndFetchMe(apps.perSession, plain);
    expect(me.sub).toBe('alice');
    expect(me.tokenType).toBe('DPoP');
    // The session holds the private key as a JWK (ES256, P-256).
    expect(me.dpopJwk).toMatchObject({ kty: 'EC', crv: 'P-256', hasD: true });
    const jkt = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: me.dpopJwk!.x!, y: me.dpopJwk!.y! });
    expect(pushed.dpop_jkt).toBe(jkt);
    // oidc-provider bound the token to the key that signed the token request's proof.
    const token = await plain.provider.AccessToken.find(me.accessToken);
    expect(token['x5t#S256']).toBeUndefined();
    expect(token.jkt).toBe(jkt);
  });

  it('uses a different key for each session', async () => {
    const first = await loginAndFetchMe(apps.perSession, plain);
    const second = await loginAndFetchMe(apps.perSession, plain);
    expect(first.pushed.dpop_jkt).not.toBe(second.pushed.dpop_jkt);
    expect(first.me.dpopJwk!.x).not.toBe(second.me.dpopJwk!.x);
  });

  it('uses a fresh key for every login, also a second one in the same session (whoever signs in next gets tokens bound to a key of their own)', async () => {
    const browser = new TestBrowser();
    const first = await loginAndFetchMe(apps.perSession, plain, browser);
    const second = await loginAndFetchMe(apps.perSession, plain, browser);
    expect(second.pushed.dpop_jkt).not.toBe(first.pushed.dpop_jkt);
    expect(second.me.dpopJwk!.x).not.toBe(first.me.dpopJwk!.x);
    expect((await plain.provider.AccessToken.find(second.me.accessToken)).jkt).toBe(second.pushed.dpop_jkt);
  });

  it('gives authorizationHeaders a DPoP proof with ath, htm and htu that the userinfo endpoint accepts', async () => {
    const { browser, me } = await loginAndFetchMe(apps.perSession, plain);
    const res = await browser.get(`${apps.perSession.url}/userinfo`);
    expect(res.status).toBe(200);
    const { headers, status, body } = JSON.parse(res.body);
    expect(status).toBe(200);
    expect(body.sub).toBe('alice');
    expect(headers.authorization).toBe(`DPoP ${me.accessToken}`);
    const proof = await jwtVerify(headers.dpop, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    expect(proof.payload).toMatchObject({
      htm: 'GET',
      htu: `${plain.issuer}/me`, // RFC 9449 §4.2: no query, no fragment
      ath: createHash('sha256').update(me.accessToken).digest('base64url'),
    });
    expect(typeof proof.payload.jti).toBe('string');
    expect(proof.protectedHeader.jwk).not.toHaveProperty('d');
    expect(await calculateJwkThumbprint(proof.protectedHeader.jwk!)).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: me.dpopJwk!.x!, y: me.dpopJwk!.y! }));
  });
});

describe('dpop: <private JWK> (one configured key)', () => {
  it('binds every login to the configured key', async () => {
    const { browser, pushed, me } = await loginAndFetchMe(apps.configured, plain);
    const jkt = await calculateJwkThumbprint(configuredKey);
    expect(pushed.dpop_jkt).toBe(jkt);
    expect(me.tokenType).toBe('DPoP');
    expect(me.dpopJwk).toBeUndefined(); // nothing per session to store
    expect((await plain.provider.AccessToken.find(me.accessToken)).jkt).toBe(jkt);
    const res = JSON.parse((await browser.get(`${apps.configured.url}/userinfo`)).body);
    expect(res.status).toBe(200);
    expect(decodeProtectedHeader(res.headers.dpop).jwk).toMatchObject({ kty: 'EC', x: configuredKey.x, y: configuredKey.y });
  });
});

describe('server-provided nonces (RFC 9449 §8)', () => {
  it('retries the PAR endpoint\'s use_dpop_nonce challenge once, then carries the nonce to the token and userinfo requests', async () => {
    const before = { ...nonceChallenges };
    const { browser, me } = await loginAndFetchMe(apps.nonce, nonced);
    expect(me.tokenType).toBe('DPoP');
    // The first proof at PAR has no nonce and is challenged; the retry succeeds. The token request
    // already carries the nonce the PAR endpoint handed out.
    expect(nonceChallenges.par - before.par).toBe(1);
    expect(nonceChallenges.token - before.token).toBe(0);
    const res = JSON.parse((await browser.get(`${apps.nonce.url}/userinfo`)).body);
    expect(res.status).toBe(200);
    expect(typeof decodeProtectedHeaderPayload(res.headers.dpop).nonce).toBe('string');
  });
});

function decodeProtectedHeaderPayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
}

describe('token_type must match how the token was requested (RFC 9449 §5)', () => {
  it('rejects a Bearer token when DPoP was used, with 502 token_response_invalid', async () => {
    faulty.reset();
    // the faulty server binds tokens to a DPoP-proving client (token_type DPoP) unless told otherwise
    faulty.fault.token = { merge: { token_type: 'Bearer' } };
    const res = await faultyLogin(apps.faultyDpop);
    expect(faulty.requestsTo('/par').at(-1)?.headers.dpop).toBeDefined(); // the proof went to the PAR endpoint
    expect(faulty.requestsTo('/token').at(-1)?.headers.dpop).toBeDefined();
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body).code).toBe('token_response_invalid');
    expect(JSON.parse(res.body).message).toMatch(/token_type “Bearer” where DPoP was expected/);
  });

  it('rejects a DPoP token when DPoP was not used, with 502 token_response_invalid', async () => {
    faulty.reset();
    faulty.fault.token = { merge: { token_type: 'DPoP' } };
    const res = await faultyLogin(apps.faultyBearer);
    expect(faulty.requestsTo('/token').at(-1)?.headers.dpop).toBeUndefined();
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body).code).toBe('token_response_invalid');
    expect(JSON.parse(res.body).message).toMatch(/token_type “DPoP” where Bearer was expected/);
  });

  it.each([
    ['DPoP', true, 'DPoP'],
    ['dpop', true, 'DPoP'],
    ['Bearer', false, 'Bearer'],
    ['bearer', false, 'Bearer'],
  ])('accepts token_type %s case-insensitively when dpop is %s', (tokenType, dpop, normalized) => {
    const body = JSON.stringify({ access_token: 'at', token_type: tokenType, id_token: 'x.y.z' });
    const tokens = processTokenResponse({ status: 200, headers: {}, body }, { endpoint: 'https://op/token', dpop, requireIdToken: true });
    expect(tokens.token_type).toBe(normalized);
  });
});

describe('the use_dpop_nonce retry at an endpoint', () => {
  /** A token endpoint that challenges the first `challenges` requests with a fresh nonce each time. */
  async function challengingServer(challenges: number) {
    const proofs: Array<Record<string, unknown>> = [];
    let n = 0;
    const server = http.createServer((req, res) => {
      const proof = String(req.headers.dpop ?? '');
      proofs.push(JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}'));
      n += 1;
      if (n <= challenges) {
        res.writeHead(400, { 'content-type': 'application/json', 'dpop-nonce': `nonce-${n}` }).end(JSON.stringify({ error: 'use_dpop_nonce', error_description: 'use a nonce' }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    return { url, proofs, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) };
  }

  async function call(url: string) {
    const config = resolveConfig({ issuerBaseURL: 'http://127.0.0.1', baseURL: 'http://127.0.0.1:1', clientID: 'c', clientSecret: TEST_CLIENT_SECRET, dpop: true });
    const key = await dpopKeyFromJwk((await generateDpopKey()).jwk);
    return postToEndpoint({ config, transport: { timeout: config.httpTimeout }, issuer: 'http://127.0.0.1', url, step: 'token endpoint', params: new URLSearchParams({ grant_type: 'x' }), dpop: { key, nonces: new DpopNonces() } });
  }

  it('sends the same request again with the nonce from the DPoP-Nonce header, and a fresh jti', async () => {
    const server = await challengingServer(1);
    try {
      const res = await call(server.url);
      expect(res.status).toBe(200);
      expect(server.proofs).toHaveLength(2);
      expect(server.proofs[0]!.nonce).toBeUndefined();
      expect(server.proofs[1]!.nonce).toBe('nonce-1');
      expect(server.proofs[1]!.jti).not.toBe(server.proofs[0]!.jti);
    } finally {
      await server.close();
    }
  });

  it('retries only once, handing a second challenge back to the caller', async () => {
    const server = await challengingServer(5);
    try {
      const res = await call(server.url);
      expect(res.status).toBe(400);
      expect(server.proofs).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});

/** The faulty server's /authorize answers at once: login, authorize, callback. */
async function faultyLogin(app: TestApp) {
  const browser = new TestBrowser();
  const start = await browser.get(`${app.url}/login`);
  expect({ status: start.status, body: start.status === 302 ? '' : start.body }).toEqual({ status: 302, body: '' });
  const authorize = await browser.get(start.location!);
  expect(authorize.status).toBe(302);
  return browser.get(authorize.location!);
}
