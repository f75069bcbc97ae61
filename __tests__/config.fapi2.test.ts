import { beforeAll, describe, expect, it } from '@jest/globals';
import { type KeyObject } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import { resolveConfig } from '../lib/config/resolve.js';
import type { ParAuthConfig } from '../lib/core/types.js';
import { makeTestCertificates, type TestCertificates } from './helpers/certs.js';

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
const ed25519 = generateKeyPairSync('ed25519').privateKey;
const ed448 = generateKeyPairSync('ed448').privateKey;
const jwk = (key: KeyObject) => key.export({ format: 'jwk' });

let certs: TestCertificates;
beforeAll(() => {
  certs = makeTestCertificates();
});
/** The client certificate option, read when a test runs (the certificates are made in beforeAll). */
const tls = () => ({ cert: certs.client.cert, key: certs.client.key });

const base: ParAuthConfig = {
  issuerBaseURL: 'https://op.example.com',
  baseURL: 'https://app.example.com',
  clientID: 'client',
  profile: 'fapi2',
  clientAssertionSigningKey: p256,
};

describe('profile "fapi2" accepts what FAPI 2.0 allows', () => {
  it.each<[string, Partial<ParAuthConfig>, { alg: string; dpopAlg?: string }]>([
    ['an EC P-256 key (ES256)', {}, { alg: 'ES256' }],
    ['an RSA 2048 key, defaulting to PS256', { clientAssertionSigningKey: rsa2048 }, { alg: 'PS256' }],
    ['an RSA JWK, defaulting to PS256', { clientAssertionSigningKey: jwk(rsa2048) }, { alg: 'PS256' }],
    ['an RSA key with PS256 set explicitly', { clientAssertionSigningKey: rsa2048, clientAssertionSigningAlg: 'PS256' }, { alg: 'PS256' }],
    ['an Ed25519 key (EdDSA)', { clientAssertionSigningKey: ed25519 }, { alg: 'EdDSA' }],
    ['a configured DPoP key (RSA → PS256)', { dpop: rsa2048 }, { alg: 'ES256', dpopAlg: 'PS256' }],
    ['a configured DPoP key (Ed25519 JWK)', { dpop: jwk(ed25519) }, { alg: 'ES256', dpopAlg: 'EdDSA' }],
    ['private_key_jwt named explicitly', { clientAuthMethod: 'private_key_jwt' }, { alg: 'ES256' }],
  ])('with %s', (_name, extra, expected) => {
    const config = resolveConfig({ ...base, ...extra });
    expect(config.profile).toBe('fapi2');
    expect(config.clientAuthMethod).toBe('private_key_jwt');
    expect(config.clientAssertionAlg).toBe(expected.alg);
    expect(config.dpopAlg).toBe(expected.dpopAlg ?? 'ES256');
  });

  it.each<[string, () => Partial<ParAuthConfig>, { method: string; dpop: false | 'per-session' }]>([
    ['tls_client_auth, with the certificate as the sender constraint', () => ({ clientAssertionSigningKey: undefined, clientAuthMethod: 'tls_client_auth', tls: tls() }), { method: 'tls_client_auth', dpop: false }],
    ['self_signed_tls_client_auth', () => ({ clientAssertionSigningKey: undefined, clientAuthMethod: 'self_signed_tls_client_auth', tls: tls() }), { method: 'self_signed_tls_client_auth', dpop: false }],
    ['private_key_jwt with certificate-bound tokens', () => ({ tls: tls() }), { method: 'private_key_jwt', dpop: false }],
    ['private_key_jwt with a certificate and dpop: false said outright', () => ({ tls: tls(), dpop: false }), { method: 'private_key_jwt', dpop: false }],
    ['tls_client_auth with DPoP as the sender constraint', () => ({ clientAssertionSigningKey: undefined, clientAuthMethod: 'tls_client_auth', tls: tls(), dpop: true }), { method: 'tls_client_auth', dpop: 'per-session' }],
  ])('accepts mutual TLS (RFC 8705): %s', (_name, extra, expected) => {
    const options = { ...base, ...extra() } as ParAuthConfig;
    if (options.clientAssertionSigningKey === undefined) delete options.clientAssertionSigningKey;
    const config = resolveConfig(options);
    expect(config.clientAuthMethod).toBe(expected.method);
    expect(config.dpop).toBe(expected.dpop);
    expect(config.tls).toBeDefined();
  });

  it('turns DPoP on with a fresh key per session when dpop is not set', () => {
    const config = resolveConfig(base);
    expect(config.dpop).toBe('per-session');
    expect(config.dpopAlg).toBe('ES256');
  });

  it('accepts only PS256, ES256 and EdDSA ID tokens unless told otherwise', () => {
    expect(resolveConfig(base).idTokenSigningAlgs).toEqual(['PS256', 'ES256', 'EdDSA', 'Ed25519']);
    expect(resolveConfig({ ...base, idTokenSigningAlgs: ['PS256'] }).idTokenSigningAlgs).toEqual(['PS256']);
  });

  it('signs request objects with an allowed algorithm', () => {
    const config = resolveConfig({ ...base, requestObjectSigningKey: rsa2048 });
    expect(config.requestObjectAlg).toBe('PS256');
  });

  it('leaves the defaults alone without the profile', () => {
    const { profile: _profile, ...plain } = base;
    const config = resolveConfig({ ...plain, clientAssertionSigningKey: rsa2048 });
    expect(config.profile).toBeUndefined();
    expect(config.clientAssertionAlg).toBe('RS256');
    expect(config.dpop).toBe(false);
    expect(config.idTokenSigningAlgs).toBeUndefined();
  });
});

describe('profile "fapi2" refuses what FAPI 2.0 forbids', () => {
  it.each<[string, Partial<ParAuthConfig>, RegExp]>([
    ['a shared secret (client_secret_basic)', { clientAssertionSigningKey: undefined, clientSecret: 'x'.repeat(40) }, /"clientAuthMethod" must be "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth" under profile "fapi2"/],
    ['client_secret_post', { clientAssertionSigningKey: undefined, clientSecret: 'x'.repeat(40), clientAuthMethod: 'client_secret_post' }, /"clientAuthMethod" must be "private_key_jwt", "tls_client_auth"/],
    ['client_secret_jwt', { clientAssertionSigningKey: undefined, clientSecret: 'x'.repeat(40), clientAuthMethod: 'client_secret_jwt' }, /"clientAuthMethod" must be "private_key_jwt", "tls_client_auth"/],
    ['a public client (none)', { clientAssertionSigningKey: undefined, clientAuthMethod: 'none' }, /"clientAuthMethod" must be "private_key_jwt", "tls_client_auth"/],
    ['tls_client_auth without a certificate', { clientAssertionSigningKey: undefined, clientAuthMethod: 'tls_client_auth' }, /"tls" \(a client certificate and key\) is required for clientAuthMethod "tls_client_auth"/],
    ['self_signed_tls_client_auth without a certificate', { clientAssertionSigningKey: undefined, clientAuthMethod: 'self_signed_tls_client_auth' }, /"tls" \(a client certificate and key\) is required/],
    ['private_key_jwt without a key', { clientAssertionSigningKey: undefined, clientAuthMethod: 'private_key_jwt' }, /"clientAssertionSigningKey" is required/],
    ['RS256 client assertions', { clientAssertionSigningKey: rsa2048, clientAssertionSigningAlg: 'RS256' }, /"clientAssertionSigningAlg" must be PS256, ES256 or EdDSA under profile "fapi2" \(got "RS256"\)/],
    ['an RSA JWK whose alg is RS256', { clientAssertionSigningKey: { ...jwk(rsa2048), alg: 'RS256' } }, /"clientAssertionSigningAlg" must be PS256, ES256 or EdDSA/],
    ['an EC P-384 key (ES384)', { clientAssertionSigningKey: p384 }, /"clientAssertionSigningAlg" must be PS256, ES256 or EdDSA under profile "fapi2" \(got "ES384"\)/],
    ['an RSA key under 2048 bits', { clientAssertionSigningKey: rsa1024 }, /"clientAssertionSigningAlg": the key is too weak for profile "fapi2"/],
    ['an RSASSA-PSS key under 2048 bits', { clientAssertionSigningKey: generateKeyPairSync('rsa-pss', { modulusLength: 1024 }).privateKey }, /"clientAssertionSigningAlg": the key is too weak for profile "fapi2"/],
    ['DPoP turned off without a client certificate', { dpop: false }, /"dpop" cannot be false under profile "fapi2" without "tls": .+ \(DPoP, or mTLS with a client certificate\)$/],
    ['an RS256 DPoP key', { dpop: { ...jwk(rsa2048), alg: 'RS256' } }, /"dpop" must be PS256, ES256 or EdDSA under profile "fapi2"/],
    ['a weak DPoP key', { dpop: rsa1024 }, /"dpop": the key is too weak/],
    ['RS256 ID tokens', { idTokenSigningAlgs: ['RS256'] }, /"idTokenSigningAlgs" may only hold PS256, ES256 or EdDSA under profile "fapi2"/],
    ['HMAC ID tokens', { idTokenSigningAlgs: ['HS256'], clientSecret: 'x'.repeat(40) }, /"idTokenSigningAlgs" may only hold PS256, ES256 or EdDSA/],
    ['RS256 request objects', { requestObjectSigningKey: rsa2048, requestObjectSigningAlg: 'RS256' }, /"requestObjectSigningAlg" must be PS256, ES256 or EdDSA under profile "fapi2"/],
    ['an Ed448 client assertion key', { clientAssertionSigningKey: ed448 }, /"clientAssertionSigningKey" must not be an Ed448 key under profile "fapi2"/],
    ['an Ed448 JWK with alg EdDSA', { clientAssertionSigningKey: { ...jwk(ed448), alg: 'EdDSA' } }, /"clientAssertionSigningKey" must not be an Ed448 key/],
    ['an Ed448 DPoP key', { dpop: ed448 }, /"dpop" must not be an Ed448 key under profile "fapi2"/],
    ['an Ed448 request object key', { requestObjectSigningKey: ed448 }, /"requestObjectSigningKey" must not be an Ed448 key under profile "fapi2"/],
    ['an unknown profile name', { profile: 'fapi1' as 'fapi2' }, /"profile" must be "fapi2"/],
  ])('rejects %s with a TypeError naming the option', (_name, extra, message) => {
    const options = { ...base, ...extra } as ParAuthConfig;
    for (const key of Object.keys(extra) as Array<keyof ParAuthConfig>) if (extra[key] === undefined) delete options[key];
    expect(() => resolveConfig(options)).toThrow(TypeError);
    expect(() => resolveConfig(options)).toThrow(message);
  });
});
