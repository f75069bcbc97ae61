/**
 * JAR (RFC 9101) pushed per RFC 9126 §3, and the FAPI 2.0 preset (`profile: 'fapi2'`), against
 * oidc-provider configured to require them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import type { Express } from 'express';
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { parAuth, requiresAuth, type ParAuthConfig } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { serveClientJwks, startProvider, TEST_CLIENT_SECRET, type ClientJwksServer, type TestProvider } from './helpers/provider.js';

const jarKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const fapiAuthKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const fapiJarKey = generateKeyPairSync('ed25519').privateKey;
const pub = (key: KeyObject, kid: string): JWK => ({ ...(createPublicKey(key).export({ format: 'jwk' }) as JWK), kid });

let jarProvider: TestProvider;
let fapiProvider: TestProvider;
let jwksServer: ClientJwksServer;
const apps: Record<'jar' | 'noJar' | 'fapi' | 'fapiJar', TestApp> = {} as never;

function mount(issuer: () => string, options: Omit<ParAuthConfig, 'issuerBaseURL' | 'baseURL'>) {
  return (a: Express, baseURL: string) => {
    a.use(parAuth({ issuerBaseURL: issuer(), baseURL, ...options }));
    a.get('/me', requiresAuth(), (req, res) => {
      res.json({ sub: req.oidc.user?.sub, tokenType: req.oidc.tokenType });
    });
  };
}

beforeAll(async () => {
  apps.jar = await startApp(mount(() => jarProvider.issuer, {
    clientID: 'jar-client',
    clientSecret: TEST_CLIENT_SECRET,
    requestObjectSigningKey: jarKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    requestObjectSigningAlg: 'PS256',
    authorizationParams: { scope: 'openid profile', max_age: 3600, audience: 'https://api.example.com' },
  }));
  apps.noJar = await startApp(mount(() => jarProvider.issuer, { clientID: 'jar-client', clientSecret: TEST_CLIENT_SECRET }));
  apps.fapi = await startApp(mount(() => fapiProvider.issuer, { clientID: 'fapi-client', profile: 'fapi2', clientAssertionSigningKey: fapiAuthKey }));
  apps.fapiJar = await startApp(mount(() => fapiProvider.issuer, {
    clientID: 'fapi-jar-client',
    profile: 'fapi2',
    clientAssertionSigningKey: fapiAuthKey,
    requestObjectSigningKey: { ...(fapiJarKey.export({ format: 'jwk' }) as JWK), kid: 'jar-ed25519' },
  }));
  jwksServer = await serveClientJwks({
    jar: { keys: [pub(jarKey, 'jar-rsa')] },
    fapi: { keys: [pub(fapiAuthKey, 'auth-ec')] },
    fapiJar: { keys: [pub(fapiAuthKey, 'auth-ec'), pub(fapiJarKey, 'jar-ed25519')] },
  });
  const common = { grant_types: ['authorization_code'], response_types: ['code'] };

  jarProvider = await startProvider({
    clients: [{
      ...common,
      client_id: 'jar-client',
      client_secret: TEST_CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [apps.jar, apps.noJar].map((a) => `${a.url}/callback`),
      id_token_signed_response_alg: 'RS256',
      jwks_uri: `${jwksServer.url}/jar`,
      request_object_signing_alg: 'PS256',
      require_signed_request_object: true,
    }],
    configure: (config) => {
      config.features.requestObjects = { enabled: true };
    },
  });

  const fapiClient = {
    ...common,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    id_token_signed_response_alg: 'ES256',
    dpop_bound_access_tokens: true,
  };
  fapiProvider = await startProvider({
    clients: [
      { ...fapiClient, client_id: 'fapi-client', redirect_uris: [`${apps.fapi.url}/callback`], jwks_uri: `${jwksServer.url}/fapi` },
      {
        ...fapiClient,
        client_id: 'fapi-jar-client',
        redirect_uris: [`${apps.fapiJar.url}/callback`],
        jwks_uri: `${jwksServer.url}/fapiJar`,
        request_object_signing_alg: 'EdDSA',
        require_signed_request_object: true,
      },
    ],
    configure: (config) => {
      config.features.fapi = { enabled: true, profile: '2.0' };
      config.features.dPoP = { enabled: true };
      config.features.requestObjects = { enabled: true };
      config.enabledJWA = { ...(config.enabledJWA ?? {}), idTokenSigningAlgValues: ['PS256', 'ES256', 'EdDSA'] };
    },
  });
});

afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.close()));
  await Promise.all([jarProvider.close(), fapiProvider.close()]);
  await jwksServer.close();
});

async function login(app: TestApp, provider: TestProvider) {
  const browser = new TestBrowser();
  const start = await browser.get(`${app.url}/login?returnTo=/me`);
  expect({ status: start.status, body: start.status === 302 ? '' : start.body }).toEqual({ status: 302, body: '' });
  const pushed = provider.pushedRequests.at(-1)!;
  const callback = await browser.get(await completeProviderLogin(browser, start.location!));
  expect({ status: callback.status, body: callback.status === 302 ? '' : callback.body }).toEqual({ status: 302, body: '' });
  const me = await browser.get(`${app.url}/me`);
  expect(me.status).toBe(200);
  return { start, pushed, token: provider.tokenRequests.at(-1)!, me: JSON.parse(me.body) as { sub: string; tokenType: string } };
}

describe('JAR: signed request objects pushed to the PAR endpoint', () => {
  it('pushes only client_id and a signed request object that carries every parameter', async () => {
    const { pushed, me } = await login(apps.jar, jarProvider);
    expect(me.sub).toBe('alice');
    const outside = Object.keys(pushed).filter((k) => k !== 'client_id' && k !== 'request');
    expect(outside).toEqual([]);
    const request = pushed.request as string;
    expect(decodeProtectedHeader(request)).toMatchObject({ alg: 'PS256', typ: 'oauth-authz-req+jwt' });
    const { payload } = await jwtVerify(request, createPublicKey(jarKey), { issuer: 'jar-client', audience: jarProvider.issuer, algorithms: ['PS256'] });
    expect(payload).toMatchObject({
      client_id: 'jar-client',
      response_type: 'code',
      redirect_uri: `${apps.jar.url}/callback`,
      code_challenge_method: 'S256',
      scope: 'openid profile',
      audience: 'https://api.example.com',
      max_age: 3600, // a number in the JWT, as OIDC Core §6.1 shows
    });
    for (const claim of ['state', 'nonce', 'code_challenge', 'jti']) expect(typeof payload[claim]).toBe('string');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
  });

  it('is what the server demands: without a request object the PAR is refused', async () => {
    const res = await new TestBrowser().get(`${apps.noJar.url}/login`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'par_failed' });
    expect(JSON.parse(res.body).message).toMatch(/invalid_request: Request Object must be used by this client/);
  });
});

describe("profile 'fapi2' against oidc-provider's FAPI 2.0 profile", () => {
  it('logs in with private_key_jwt (aud = issuer), PAR, PKCE, iss and DPoP-bound tokens', async () => {
    const { pushed, token, me } = await login(apps.fapi, fapiProvider);
    expect(me).toEqual({ sub: 'alice', tokenType: 'DPoP' });
    for (const params of [pushed, token]) {
      expect(decodeProtectedHeader(params.client_assertion as string).alg).toBe('ES256');
      expect(decodeJwt(params.client_assertion as string).aud).toBe(fapiProvider.issuer);
    }
    expect(typeof pushed.dpop_jkt).toBe('string');
    expect(pushed.code_challenge_method).toBe('S256');
  });

  it('logs in with an EdDSA request object that has nbf and exp, as FAPI 2.0 servers require', async () => {
    const { pushed, me } = await login(apps.fapiJar, fapiProvider);
    expect(me.tokenType).toBe('DPoP');
    const request = pushed.request as string;
    expect(decodeProtectedHeader(request)).toMatchObject({ alg: 'EdDSA', kid: 'jar-ed25519' });
    const claims = decodeJwt(request);
    expect(claims.exp! - claims.nbf!).toBeGreaterThan(0);
    expect(claims.exp! - claims.nbf!).toBeLessThanOrEqual(3600);
  });

  it('passes the start-up self-check against a FAPI 2.0 server', async () => {
    const { checkProvider } = await import('../lib/index.js');
    const report = await checkProvider({ issuerBaseURL: fapiProvider.issuer, baseURL: apps.fapi.url, clientID: 'fapi-client', profile: 'fapi2', clientAssertionSigningKey: fapiAuthKey });
    expect(report.problems).toEqual([]);
  });
});
