import './helpers/capture-logs.js'; // first: turns the debug log on before lib/ loads
/**
 * The OpenID Foundation's FAPI 2.0 Security Profile (final) client modules
 * (fapi2-security-profile-final-client-test-plan: unsigned requests, plain responses, private_key_jwt,
 * DPoP; no JARM, no grant management), one test per module, named after it, against the faulty
 * authorization server acting as a FAPI 2.0 server: it advertises DPoP, ES256 ID tokens and RFC 9207
 * `iss`, binds tokens issued to a DPoP-proving client, and takes private_key_jwt assertions (without
 * checking their signature; client-auth.test.ts does that against oidc-provider).
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from './helpers/keys.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { ParAuthConfig } from '../lib/core/types.js';
import { type Faults, type FaultyServer } from './helpers/faulty-server.js';
import { expectFailure, hostileLogin, useFaultyServer, type HostileLoginOptions, type HostileRun } from './helpers/hostile.js';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});

const clientKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const fapi2: Partial<ParAuthConfig> = { profile: 'fapi2', clientAssertionSigningKey: clientKey, clientSecret: undefined };
const es256: Faults['idToken'] = (claims, sign) => sign(claims, { alg: 'ES256' });

beforeEach(() => {
  // After the per-test reset: the server as a FAPI 2.0 server, for the pre-login and the case alike.
  server.fault.discovery = { merge: { dpop_signing_alg_values_supported: ['ES256'], id_token_signing_alg_values_supported: ['ES256', 'PS256'] } };
  server.fault.idToken = es256;
});

function run(opts: HostileLoginOptions = {}): Promise<HostileRun> {
  return hostileLogin(server, { ...opts, options: { ...fapi2, ...opts.options } });
}

function expectAccepted(result: HostileRun): void {
  expect(result.error).toBeUndefined();
  expect(result.stage).toBe('callback');
  expect(result.final.status).toBe(302);
  expect(result.loggedIn).toBe(true);
}

/** The module expects the ID token to be refused; a browser logged in before loses that login too. */
async function expectIdTokenRefused(opts: HostileLoginOptions): Promise<HostileRun> {
  const result = await run({ preLogin: true, ...opts });
  expectFailure(result, server, 'callback', 502, 'id_token_invalid');
  return result;
}

const payload = (jwt: string | string[] | undefined) => decodeJwt(String(jwt));

describe('FAPI 2.0 Security Profile final, client test plan', () => {
  it('fapi2-security-profile-final-client-test-happy-path', async () => {
    // with a DPoP nonce challenge at the token endpoint (RFC 9449 §8), answered once
    const result = await run({ faults: { token: { times: 1, skipWork: true, error: 'use_dpop_nonce', headers: { 'dpop-nonce': 'server-nonce-1' } } } });
    expectAccepted(result);
    const [pushed] = server.requestsTo('/par');
    expect(pushed!.clientAuth).toBe('private_key_jwt');
    expect(pushed!.body).toMatchObject({ response_type: 'code', code_challenge_method: 'S256', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });
    expect(pushed!.body.dpop_jkt).toEqual(expect.any(String));
    expect(decodeProtectedHeader(String(pushed!.body.client_assertion)).alg).toBe('ES256');
    // the browser carried only client_id and request_uri
    const authorize = server.requestsTo('/authorize')[0]!;
    expect(Object.keys(authorize.query).sort()).toEqual(['client_id', 'request_uri']);
    const tokenCalls = server.requestsTo('/token');
    expect(tokenCalls).toHaveLength(2);
    expect(payload(tokenCalls[0]!.headers.dpop).nonce).toBeUndefined();
    expect(payload(tokenCalls[1]!.headers.dpop).nonce).toBe('server-nonce-1');
  });

  it('fapi2-security-profile-final-client-test-happy-path-no-dpop-nonce', async () => {
    const result = await run();
    expectAccepted(result);
    const tokenCalls = server.requestsTo('/token');
    expect(tokenCalls).toHaveLength(1);
    expect(decodeProtectedHeader(String(tokenCalls[0]!.headers.dpop)).typ).toBe('dpop+jwt');
  });

  it('fapi2-security-profile-final-client-test-discovery-issuer-mismatch', async () => {
    server.fault.discovery = { ...server.fault.discovery, issuer: 'https://issuer.invalid' };
    const result = await run();
    expectFailure(result, server, 'login', 502, 'issuer_mismatch');
  });

  it.each<[string, Record<string, unknown>]>([
    ['fapi2-security-profile-final-client-test-invalid-iss', { iss: 'https://issuer.invalid' }],
    ['fapi2-security-profile-final-client-test-invalid-aud', { aud: 'another-client' }],
    ['fapi2-security-profile-final-client-test-invalid-secondary-aud', { aud: ['faulty-client', 'an-untrusted-client'] }],
    ['fapi2-security-profile-final-client-test-invalid-expired-exp', { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }],
    ['fapi2-security-profile-final-client-test-invalid-missing-exp', { exp: undefined }],
    ['fapi2-security-profile-final-client-test-invalid-missing-aud', { aud: undefined }],
    ['fapi2-security-profile-final-client-test-invalid-missing-iss', { iss: undefined }],
    ['fapi2-security-profile-final-client-test-invalid-nonce', { nonce: 'a-nonce-this-client-never-sent' }],
    ['fapi2-security-profile-final-client-test-invalid-missing-nonce', { nonce: undefined }],
  ])('%s', async (_module, idTokenClaims) => {
    await expectIdTokenRefused({ idTokenClaims });
  });

  it('fapi2-security-profile-final-client-test-invalid-null-alg', async () => {
    await expectIdTokenRefused({ faults: { idToken: (c, sign) => sign(c, { key: 'none' }) } });
  });

  it('fapi2-security-profile-final-client-test-invalid-alternate-alg', async () => {
    // RS256 with the server's published key: a valid signature, but not PS256, ES256 or EdDSA
    const result = await expectIdTokenRefused({ faults: { idToken: (c, sign) => sign(c, { alg: 'RS256' }) } });
    expect(result.error!.message).toContain('“RS256”');
  });

  it('fapi2-security-profile-final-client-test-valid-aud-as-array', async () => {
    expectAccepted(await run({ idTokenClaims: { aud: ['faulty-client'] } }));
  });

  it('fapi2-security-profile-final-client-test-invalid-authorization-response-iss', async () => {
    const result = await run({ preLogin: true, faults: { authorize: { iss: 'https://issuer.invalid' } } });
    expectFailure(result, server, 'callback', 400, 'iss_mismatch');
  });

  it('fapi2-security-profile-final-client-test-remove-authorization-response-iss', async () => {
    const result = await run({ preLogin: true, faults: { authorize: { iss: null } } });
    expectFailure(result, server, 'callback', 400, 'iss_missing');
  });

  it('fapi2-security-profile-final-client-test-ensure-authorization-response-with-invalid-state-fails', async () => {
    const result = await run({ preLogin: true, faults: { authorize: { state: 'B'.repeat(43) } } });
    expectFailure(result, server, 'callback', 400, 'state_mismatch', { loggedIn: true }); // no pending login named: the earlier one stays
  });

  it('fapi2-security-profile-final-client-test-ensure-authorization-response-with-invalid-missing-state-fails', async () => {
    const result = await run({ preLogin: true, faults: { authorize: { state: null } } });
    expectFailure(result, server, 'callback', 400, 'state_missing', { loggedIn: true });
  });

  it('fapi2-security-profile-final-client-test-token-endpoint-response-without-expires-in', async () => {
    const result = await run({ faults: { token: { omit: ['expires_in'] } } });
    expectAccepted(result);
  });

  it('fapi2-security-profile-final-client-test-token-type-case-insensitivity', async () => {
    const result = await run({ faults: { token: { merge: { token_type: 'dpop' } } } });
    expectAccepted(result);
  });
});
