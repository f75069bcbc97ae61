/**
 * Client authentication at the PAR and token endpoints against oidc-provider configured to require
 * each method: client_secret_post, client_secret_jwt, private_key_jwt (RS256/PS256/ES256/EdDSA keys
 * given as JWK, PEM and KeyObject) and none; plus the Auth0-specific parameters.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import type { Express } from 'express';
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { parAuth, requiresAuth, type ParAuthConfig } from '../lib/index.js';
import { CLIENT_ASSERTION_TYPE } from '../lib/protocol/client-auth.js';
import { resolveConfig } from '../lib/config/resolve.js';
import type { ServerMetadata } from '../lib/core/model.js';
import { assessProvider } from '../lib/protocol/provider-report.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { serveClientJwks, startProvider, TEST_CLIENT_SECRET, type ClientJwksServer, type TestProvider } from './helpers/provider.js';

type Params = Record<string, string | string[]>;
type Format = 'JWK' | 'PEM' | 'KeyObject';

const ALGS = {
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  PS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  EdDSA: () => generateKeyPairSync('ed25519').privateKey,
} as const;
type Alg = keyof typeof ALGS;
const keys = Object.fromEntries(Object.entries(ALGS).map(([alg, gen]) => [alg, gen()])) as Record<Alg, KeyObject>;
const kidOf = (alg: Alg) => `kid-${alg}`;

/** The key in the requested format; the JWK carries a kid (and for PS256 its alg, which then needs no option). */
function keyInput(alg: Alg, format: Format): Pick<ParAuthConfig, 'clientAssertionSigningKey' | 'clientAssertionSigningAlg'> {
  const key = keys[alg];
  if (format === 'JWK') return { clientAssertionSigningKey: { ...(key.export({ format: 'jwk' }) as JWK), kid: kidOf(alg), ...(alg === 'PS256' ? { alg } : {}) } };
  const input = format === 'PEM' ? (key.export({ format: 'pem', type: 'pkcs8' }) as string) : key;
  return { clientAssertionSigningKey: input, ...(alg === 'PS256' ? { clientAssertionSigningAlg: 'PS256' } : {}) };
}

const publicJwk = (alg: Alg): JWK => ({ ...(createPublicKey(keys[alg]).export({ format: 'jwk' }) as JWK), kid: kidOf(alg) });

interface Case {
  name: string;
  clientID: string;
  options: Partial<ParAuthConfig>;
  app?: TestApp;
}

const FORMATS: Format[] = ['JWK', 'PEM', 'KeyObject'];
const keyCases: Array<Case & { alg: Alg; format: Format }> = (Object.keys(ALGS) as Alg[]).flatMap((alg) =>
  FORMATS.map((format) => ({ name: `${alg} ${format}`, alg, format, clientID: `pkjwt-${alg}`, options: { clientAuthMethod: 'private_key_jwt' as const, ...keyInput(alg, format) } })),
);
const cases = {
  post: { name: 'post', clientID: 'secret-post', options: { clientSecret: TEST_CLIENT_SECRET, clientAuthMethod: 'client_secret_post' } } as Case,
  jwt: { name: 'jwt', clientID: 'secret-jwt', options: { clientSecret: TEST_CLIENT_SECRET, clientAuthMethod: 'client_secret_jwt' } } as Case,
  none: { name: 'none', clientID: 'public', options: {} } as Case,
  wrongKey: { name: 'wrong key', clientID: 'pkjwt-ES256', options: { clientAssertionSigningKey: ALGS.ES256() } } as Case,
  auth0: {
    name: 'auth0',
    clientID: 'pkjwt-RS256',
    options: { ...keyInput('RS256', 'PEM'), authorizationParams: { scope: 'openid profile', audience: 'https://api.example.com/', organization: 'org_abc123' } },
  } as Case,
};
const allCases: Case[] = [...keyCases, ...Object.values(cases)];

let provider: TestProvider;
let jwksServer: ClientJwksServer;

function mount(c: Case) {
  return (a: Express, baseURL: string) => {
    a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: c.clientID, ...c.options } as ParAuthConfig));
    a.get('/me', requiresAuth(), (req, res) => {
      res.json({ sub: req.oidc.user?.sub, tokenType: req.oidc.tokenType });
    });
  };
}

beforeAll(async () => {
  for (const c of allCases) c.app = await startApp(mount(c));
  const redirect_uris = allCases.map((c) => `${c.app!.url}/callback`);
  jwksServer = await serveClientJwks(Object.fromEntries((Object.keys(ALGS) as Alg[]).map((alg) => [`pkjwt-${alg}`, { keys: [publicJwk(alg)] }])));
  const common = { redirect_uris, grant_types: ['authorization_code'], response_types: ['code'], id_token_signed_response_alg: 'RS256' };
  provider = await startProvider({
    clients: [
      { ...common, client_id: 'secret-post', client_secret: TEST_CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_post' },
      { ...common, client_id: 'secret-jwt', client_secret: TEST_CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS256' },
      { ...common, client_id: 'public', token_endpoint_auth_method: 'none' },
      ...(Object.keys(ALGS) as Alg[]).map((alg) => ({
        ...common,
        client_id: `pkjwt-${alg}`,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: alg,
        jwks_uri: `${jwksServer.url}/pkjwt-${alg}`,
      })),
    ],
  });
});

afterAll(async () => {
  await Promise.all(allCases.map((c) => c.app?.close()));
  await provider.close();
  await jwksServer.close();
});

/** Logs in through the app; returns what the provider saw at the PAR and token endpoints. */
async function login(c: Case): Promise<{ pushed: Params; token: Params; me: { sub: string; tokenType: string } }> {
  const browser = new TestBrowser();
  const pushedBefore = provider.pushedRequests.length;
  const tokenBefore = provider.tokenRequests.length;
  const start = await browser.get(`${c.app!.url}/login?returnTo=/me`);
  expect({ status: start.status, body: start.status === 302 ? '' : start.body }).toEqual({ status: 302, body: '' });
  const callback = await browser.get(await completeProviderLogin(browser, start.location!));
  expect(callback.status).toBe(302);
  expect(callback.location).toBe(`${c.app!.url}/me`);
  const me = await browser.get(`${c.app!.url}/me`);
  expect(me.status).toBe(200);
  expect(provider.pushedRequests).toHaveLength(pushedBefore + 1);
  expect(provider.tokenRequests).toHaveLength(tokenBefore + 1);
  return { pushed: provider.pushedRequests.at(-1)!, token: provider.tokenRequests.at(-1)!, me: JSON.parse(me.body) };
}

/** RFC 7523 §3 / RFC 9126 §2: iss = sub = client_id, aud = issuer identifier, jti, short exp. */
async function checkAssertion(params: Params, clientID: string, alg: string, verifyWith: KeyObject | Uint8Array): Promise<string> {
  expect(params.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  expect(params.client_secret).toBeUndefined();
  const assertion = params.client_assertion as string;
  expect(decodeProtectedHeader(assertion).alg).toBe(alg);
  const { payload } = await jwtVerify(assertion, verifyWith, { algorithms: [alg], issuer: clientID, subject: clientID, audience: provider.issuer });
  expect(payload.aud).toBe(provider.issuer);
  expect(typeof payload.jti).toBe('string');
  expect(payload.jti!.length).toBeGreaterThanOrEqual(16);
  expect(payload.jti!.length).toBeLessThanOrEqual(64); // Auth0 caps jti at 64 characters
  expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
  return payload.jti!;
}

describe('private_key_jwt', () => {
  it.each(keyCases.map((c) => [c.name, c] as const))('logs in with a %s key, signing both assertions with that alg', async (_name, c) => {
    const { pushed, token, me } = await login(c);
    expect(me.sub).toBe('alice');
    const verifyWith = createPublicKey(keys[c.alg]);
    const parJti = await checkAssertion(pushed, c.clientID, c.alg, verifyWith);
    const tokenJti = await checkAssertion(token, c.clientID, c.alg, verifyWith);
    expect(parJti).not.toBe(tokenJti);
    expect(decodeProtectedHeader(pushed.client_assertion as string).kid).toBe(c.format === 'JWK' ? kidOf(c.alg) : undefined);
  });

  it('fails the PAR with 502 par_failed carrying invalid_client when the key is not registered', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(`${cases.wrongKey.app!.url}/login`);
    expect(res.status).toBe(502);
    const body = JSON.parse(res.body);
    expect(body.code).toBe('par_failed');
    expect(body.message).toMatch(/HTTP 401 \(invalid_client[:)]/);
    expect(body.message).toContain('private_key_jwt');
    const err = cases.wrongKey.app!.errors.at(-1)!;
    expect(err).toMatchObject({ status: 502, code: 'par_failed' });
    const { d } = (cases.wrongKey.options.clientAssertionSigningKey as KeyObject).export({ format: 'jwk' });
    expect(err.message).not.toContain(d!);
    expect(err.message).not.toMatch(/BEGIN|eyJ/); // no PEM, no JWT (the assertion)
  });

  it('refuses an algorithm that does not fit the key at parAuth(), naming clientAssertionSigningAlg', () => {
    const options = { issuerBaseURL: 'https://op.example.com', baseURL: 'https://app.example.com', clientID: 'c' };
    expect(() => parAuth({ ...options, clientAssertionSigningKey: keys.ES256, clientAssertionSigningAlg: 'RS256' })).toThrow(TypeError);
    expect(() => parAuth({ ...options, clientAssertionSigningKey: keys.ES256, clientAssertionSigningAlg: 'RS256' })).toThrow(/"clientAssertionSigningAlg" "RS256" does not fit the ec key/);
    expect(() => parAuth({ ...options, clientAssertionSigningKey: keys.RS256, clientAssertionSigningAlg: 'EdDSA' })).toThrow(/clientAssertionSigningAlg/);
    expect(() => parAuth({ ...options, clientAssertionSigningKey: keys.RS256, clientAssertionSigningAlg: 'HS256' })).toThrow(/"clientAssertionSigningAlg" must be an asymmetric algorithm/);
    expect(() => parAuth({ ...options, clientAssertionSigningKey: keys.EdDSA, clientAssertionSigningAlg: 'ES256' })).toThrow(/clientAssertionSigningAlg/);
  });
});

describe('shared-secret and public clients', () => {
  it('client_secret_post sends client_id and client_secret in the body of both requests', async () => {
    const { pushed, token, me } = await login(cases.post);
    expect(me.sub).toBe('alice');
    for (const params of [pushed, token]) {
      expect(params.client_id).toBe('secret-post');
      expect(params.client_secret).toBe(TEST_CLIENT_SECRET);
      expect(params.client_assertion).toBeUndefined();
    }
  });

  it('client_secret_jwt signs HS256 assertions with the secret, a fresh jti each time', async () => {
    const { pushed, token, me } = await login(cases.jwt);
    expect(me.sub).toBe('alice');
    const secret = new TextEncoder().encode(TEST_CLIENT_SECRET);
    const parJti = await checkAssertion(pushed, 'secret-jwt', 'HS256', secret);
    const tokenJti = await checkAssertion(token, 'secret-jwt', 'HS256', secret);
    expect(parJti).not.toBe(tokenJti);
  });

  it('none sends only client_id, and PKCE protects the code', async () => {
    const { pushed, token, me } = await login(cases.none);
    expect(me.sub).toBe('alice');
    for (const params of [pushed, token]) {
      expect(params.client_id).toBe('public');
      expect(params.client_secret).toBeUndefined();
      expect(params.client_assertion).toBeUndefined();
    }
    expect(pushed.code_challenge_method).toBe('S256');
    expect(token.code_verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
  });
});

describe('Auth0 specifics', () => {
  it('pushes audience and organization from authorizationParams with the jwt-bearer assertion type', async () => {
    expect(CLIENT_ASSERTION_TYPE).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const { pushed, me } = await login(cases.auth0);
    expect(me.sub).toBe('alice');
    expect(pushed.audience).toBe('https://api.example.com/');
    expect(pushed.organization).toBe('org_abc123');
    expect(pushed.scope).toBe('openid profile');
    expect(pushed.client_assertion_type).toBe(CLIENT_ASSERTION_TYPE);
  });

  it('pushes again for every login instead of reusing a request_uri (RFC 9126 §7.3)', async () => {
    const browser = new TestBrowser();
    const before = provider.pushedRequests.length;
    const first = await browser.get(`${cases.auth0.app!.url}/login`);
    const second = await browser.get(`${cases.auth0.app!.url}/login`);
    const uris = [first, second].map((r) => new URL(r.location!).searchParams.get('request_uri'));
    expect(uris[0]).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(uris[1]).not.toBe(uris[0]);
    const pushed = provider.pushedRequests.slice(before);
    expect(pushed).toHaveLength(2);
    expect(pushed[1]!.state).not.toBe(pushed[0]!.state);
    expect(decodeJwt(pushed[1]!.client_assertion as string).jti).not.toBe(decodeJwt(pushed[0]!.client_assertion as string).jti);
  });
});

describe('the start-up self-check of client authentication', () => {
  const metadata = {
    issuer: 'https://op.example.com',
    authorization_endpoint: 'https://op.example.com/authorize',
    token_endpoint: 'https://op.example.com/token',
    pushed_authorization_request_endpoint: 'https://op.example.com/par',
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256'],
  } as unknown as ServerMetadata;
  const options = { issuerBaseURL: 'https://op.example.com', baseURL: 'https://app.example.com', clientID: 'c' };

  it('names a method or an assertion algorithm the server does not advertise', () => {
    expect(assessProvider(resolveConfig({ ...options, clientAssertionSigningKey: keys.RS256 }), metadata).problems).toEqual([]);
    expect(assessProvider(resolveConfig({ ...options, clientAssertionSigningKey: keys.ES256 }), metadata).problems).toEqual([
      'its token_endpoint_auth_signing_alg_values_supported lacks "ES256" (clientAssertionSigningAlg)',
    ]);
    expect(assessProvider(resolveConfig({ ...options, clientSecret: TEST_CLIENT_SECRET, clientAuthMethod: 'client_secret_post' }), metadata).problems).toEqual([
      'its token_endpoint_auth_methods_supported lacks "client_secret_post" (clientAuthMethod)',
    ]);
  });
});
