import { describe, expect, it } from '@jest/globals';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import { algFitsKey, algForKey, jwkAlgOf, jwkKidOf, keyBits, toPrivateKey } from '../lib/crypto/keys.js';
import type { PrivateKeyInput } from '../lib/core/types.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const rsaPss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
const ed25519 = generateKeyPairSync('ed25519').privateKey;

const pem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }) as string;
const jwk = (key: KeyObject) => key.export({ format: 'jwk' }) as Record<string, string>;

describe('the algorithm a key implies', () => {
  it.each([
    ['an RSA key', rsa, 'RS256'],
    ['an RSA-PSS key', rsaPss, 'PS256'],
    ['an EC P-256 key', p256, 'ES256'],
    ['an EC P-384 key', p384, 'ES384'],
    ['an EC P-521 key', p521, 'ES512'],
    ['an Ed25519 key', ed25519, 'EdDSA'],
  ])('is derived from %s', (_name, key, alg) => {
    expect(algForKey(key)).toBe(alg);
  });

  it('is PS256 for an RSA key when PSS is preferred (FAPI 2.0)', () => {
    expect(algForKey(rsa, true)).toBe('PS256');
  });

  it("is the JWK's own alg when it has one", () => {
    expect(algForKey(rsa, false, 'RS512')).toBe('RS512');
    expect(jwkAlgOf({ ...jwk(rsa), alg: 'PS384' })).toBe('PS384');
    expect(jwkAlgOf(rsa)).toBeUndefined();
    expect(jwkAlgOf(pem(rsa))).toBeUndefined();
  });

  it('rejects an EC key on a curve without a JWS algorithm', () => {
    const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    expect(() => algForKey(k256)).toThrow(/unsupported EC curve/);
  });
});

describe('whether an algorithm fits a key', () => {
  it.each([
    ['RS256', rsa, true],
    ['PS256', rsa, true],
    ['PS512', rsa, true],
    ['ES256', rsa, false],
    ['RS256', rsaPss, false],
    ['PS256', rsaPss, true],
    ['ES256', p256, true],
    ['ES384', p256, false],
    ['ES384', p384, true],
    ['RS256', p256, false],
    ['EdDSA', ed25519, true],
    ['Ed25519', ed25519, true],
    ['ES256', ed25519, false],
    ['HS256', rsa, false],
  ] as const)('%s with a %s key is %s', (alg, key, fits) => {
    expect(algFitsKey(alg, key as KeyObject)).toBe(fits);
  });
});

describe('importing a private key', () => {
  const inputs: Array<[string, KeyObject]> = [['RSA', rsa], ['EC P-256', p256], ['EC P-384', p384], ['Ed25519', ed25519]];

  it.each(inputs)('accepts a %s key as a private JWK, a PEM string and a KeyObject alike', (_name, key) => {
    const expected = jwk(key);
    for (const input of [jwk(key), pem(key), key] as PrivateKeyInput[]) {
      const imported = toPrivateKey(input, 'clientAssertionSigningKey');
      expect(imported.type).toBe('private');
      expect(imported.export({ format: 'jwk' })).toEqual(expected);
    }
  });

  it('accepts a PKCS#1 RSA PEM and a SEC1 EC PEM', () => {
    const pkcs1 = rsa.export({ format: 'pem', type: 'pkcs1' }) as string;
    const sec1 = p256.export({ format: 'pem', type: 'sec1' }) as string;
    expect(toPrivateKey(pkcs1, 'dpop').asymmetricKeyType).toBe('rsa');
    expect(toPrivateKey(sec1, 'dpop').asymmetricKeyType).toBe('ec');
  });

  it('accepts a JWK with alg, kid and use members and reports its kid', () => {
    const input = { ...jwk(p256), alg: 'ES256', kid: 'key-1', use: 'sig' };
    expect(toPrivateKey(input, 'clientAssertionSigningKey').asymmetricKeyType).toBe('ec');
    expect(jwkKidOf(input)).toBe('key-1');
    expect(jwkKidOf(p256)).toBeUndefined();
  });

  it.each([
    ['a public KeyObject', createPublicKey(rsa)],
    ['a public JWK', createPublicKey(p256).export({ format: 'jwk' })],
    ['a public PEM', createPublicKey(ed25519).export({ format: 'pem', type: 'spki' })],
  ])('rejects %s, naming the option', (_name, input) => {
    expect(() => toPrivateKey(input as PrivateKeyInput, 'clientAssertionSigningKey')).toThrow(TypeError);
    expect(() => toPrivateKey(input as PrivateKeyInput, 'clientAssertionSigningKey')).toThrow(/"clientAssertionSigningKey" must be a private key, not a public key/);
  });

  it.each([
    ['a string that is not PEM', 'my-secret-key'],
    ['a number', 42],
    ['null', null],
    ['a corrupt PEM', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'],
    ['a symmetric JWK', { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA' }],
  ])('rejects %s without echoing it', (_name, input) => {
    let error: unknown;
    try {
      toPrivateKey(input as PrivateKeyInput, 'dpop');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^"dpop" must be a private key/);
    expect((error as Error).message).not.toContain('AAAA');
    expect((error as Error).message).not.toContain('my-secret-key');
  });

  it('rejects a symmetric KeyObject', async () => {
    const { createSecretKey } = await import('node:crypto');
    expect(() => toPrivateKey(createSecretKey(Buffer.alloc(32)), 'dpop')).toThrow(/"dpop" must be a private key, not a secret key/);
  });
});

describe('key strength as FAPI 2.0 counts it', () => {
  it('is the RSA modulus length or the curve size', () => {
    expect(keyBits(rsa)).toBe(2048);
    expect(keyBits(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)).toBe(1024);
    expect(keyBits(p256)).toBe(256);
    expect(keyBits(p384)).toBe(384);
    expect(keyBits(p521)).toBe(521);
    expect(keyBits(ed25519)).toBe(256);
  });
});
