/**
 * The key set (lib/protocol/jwks.ts) against the faulty authorization server's /jwks over real HTTP, with a frozen
 * clock: a new key is accepted on its first use, refetches on unknown keys are bounded per rolling minute,
 * concurrent misses share one fetch, and the answers are KeyObjects node:crypto can verify with.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import { errors as joseErrors } from 'jose';
import { createKeySet, JWKS_MAX_AGE_MS, JWKS_REFETCHES_PER_MINUTE } from '../lib/protocol/jwks.js';
import type { KeySet } from '../lib/core/model.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';

let server: FaultyServer;
let clock: number;
const now = () => clock;

beforeAll(async () => {
  server = await startFaultyServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  clock = Date.UTC(2026, 0, 1);
});

const fetches = () => server.requestsTo('/jwks').length;
const keySet = (opts: { timeout?: number } = {}) => createKeySet({ uri: server.url('/jwks'), transport: { timeout: opts.timeout ?? 2000 }, now });
const rsa = (kid: string) => ({ alg: 'RS256', kid });
const modulus = (key: KeyObject) => key.export({ format: 'jwk' }).n;

describe('a key the server starts signing with', () => {
  it('is accepted on its first use, although the set was fetched a moment ago', async () => {
    const keys = keySet();
    await keys.getKey(rsa(server.keys.signing.kid));
    expect(fetches()).toBe(1);
    const rotated = await server.rotateSigningKey();
    // Same frozen instant: no cooldown after the last fetch stands in the way.
    const key = await keys.getKey(rsa(rotated.kid));
    expect(modulus(key)).toBe(rotated.publicJwk.n);
    expect(fetches()).toBe(2);
  });

  it('costs no refetch when it was published before the set was fetched', async () => {
    const next = await server.addSigningKey();
    const keys = keySet();
    await keys.getKey(rsa(server.keys.signing.kid));
    await server.rotateSigningKey({ to: next, keepOld: true });
    expect(modulus(await keys.getKey(rsa(next.kid)))).toBe(next.publicJwk.n);
    expect(fetches()).toBe(1);
  });

  it('is fetched once for many concurrent lookups', async () => {
    const keys = keySet();
    await keys.getKey(rsa(server.keys.signing.kid));
    const rotated = await server.rotateSigningKey();
    const found = await Promise.all(Array.from({ length: 50 }, () => keys.getKey(rsa(rotated.kid))));
    expect(new Set(found).size).toBe(1);
    expect(fetches()).toBe(2);
  });

  it('verifies a signature with node:crypto (a KeyObject for a verifier of our own)', async () => {
    const token = await server.signIdToken({ sub: 'someone' });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const key = await keySet().getKey(JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg: string; kid: string });
    expect(verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))).toBe(true);
  });
});

describe('tokens with unknown kids', () => {
  const unknown = (keys: KeySet, i: number) => keys.getKey(rsa(`made-up-${i}`));

  it(`cost at most ${JWKS_REFETCHES_PER_MINUTE} refetches per rolling minute, however many arrive`, async () => {
    const keys = keySet();
    await keys.getKey(rsa(server.keys.signing.kid));
    for (let i = 0; i < 40; i++) {
      await expect(unknown(keys, i)).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
      clock += 1000; // 40 lookups over 40 seconds
    }
    expect(fetches()).toBe(1 + JWKS_REFETCHES_PER_MINUTE);
    // The window rolls: the first refetches (at 0..4 s) are more than a minute old at 61 s.
    clock = Date.UTC(2026, 0, 1) + 61_000;
    await expect(unknown(keys, 99)).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
    expect(fetches()).toBe(2 + JWKS_REFETCHES_PER_MINUTE);
  });

  it('share one in-flight refetch when they arrive together', async () => {
    const keys = keySet();
    await keys.getKey(rsa(server.keys.signing.kid));
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => unknown(keys, i)));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof joseErrors.JWKSNoMatchingKey)).toBe(true);
    expect(fetches()).toBe(2);
  });

  it('spend the budget for a real new key too, which is accepted once the minute rolls on', async () => {
    const keys = keySet();
    await keys.getKey(rsa(server.keys.signing.kid));
    for (let i = 0; i < JWKS_REFETCHES_PER_MINUTE + 3; i++) await expect(unknown(keys, i)).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
    const rotated = await server.rotateSigningKey();
    await expect(keys.getKey(rsa(rotated.kid))).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
    clock += 60_001;
    expect(modulus(await keys.getKey(rsa(rotated.kid)))).toBe(rotated.publicJwk.n);
  });
});

describe('the cache', () => {
  it('fetches once for concurrent first lookups and serves known keys from memory', async () => {
    const keys = keySet();
    await Promise.all(Array.from({ length: 20 }, () => keys.getKey(rsa(server.keys.signing.kid))));
    await keys.getKey({ alg: 'ES256', kid: server.keys.signingEc.kid });
    expect(fetches()).toBe(1);
  });

  it(`fetches the set again once it is older than ${JWKS_MAX_AGE_MS / 60_000} minutes`, async () => {
    const keys = keySet();
    await keys.getKey(rsa(server.keys.signing.kid));
    clock += JWKS_MAX_AGE_MS - 1;
    await keys.getKey(rsa(server.keys.signing.kid));
    expect(fetches()).toBe(1);
    clock += 1;
    await keys.getKey(rsa(server.keys.signing.kid));
    expect(fetches()).toBe(2);
  });

  it('does not keep a failed fetch: the next lookup tries again', async () => {
    const keys = keySet();
    server.fault.jwks = { status: 503, body: '', times: 1 };
    await expect(keys.getKey(rsa(server.keys.signing.kid))).rejects.toMatchObject({ code: 'jwks_failed', status: 502, upstreamStatus: 503 });
    await expect(keys.getKey(rsa(server.keys.signing.kid))).resolves.toBeDefined();
    expect(fetches()).toBe(2);
  });

  it('works as jose\'s key function: the callable form', async () => {
    const keys = keySet();
    const key = await keys({ alg: 'RS256', kid: server.keys.signing.kid });
    expect(key).toBe(await keys.getKey(rsa(server.keys.signing.kid)));
    expect(keys.uri).toBe(server.url('/jwks'));
  });
});

describe('key selection', () => {
  it('matches the key type and curve of alg when the header has no kid', async () => {
    const key = await keySet().getKey({ alg: 'ES256' });
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('refuses to guess between several keys that fit a header without kid', async () => {
    await server.addSigningKey();
    await expect(keySet().getKey({ alg: 'RS256' })).rejects.toBeInstanceOf(joseErrors.JWKSMultipleMatchingKeys);
  });

  it.each([
    ['an HMAC algorithm', { alg: 'HS256' }],
    ['alg none', { alg: 'none' }],
    ['no alg', {}],
    ['an inherited property name as alg', { alg: 'constructor' }],
  ])('does not look up keys for %s', async (_name, header) => {
    await expect(keySet().getKey(header)).rejects.toBeInstanceOf(joseErrors.JOSENotSupported);
    expect(fetches()).toBe(0);
  });

  it.each([
    ['an encryption key (use enc)', { use: 'enc' }],
    ['a key whose key_ops lack verify', { key_ops: ['encrypt'] }],
    ['a key for another algorithm', { alg: 'PS256' }],
  ])('skips %s', async (_name, extra) => {
    server.fault.jwks = { body: { keys: [{ ...server.keys.signing.publicJwk, ...extra }] } };
    await expect(keySet().getKey(rsa(server.keys.signing.kid))).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
  });

  it('never hands out an Ed448 key for EdDSA (FAPI 2.0 §5.4.1: EdDSA with Ed25519 only; jose verifies no Ed448)', async () => {
    const okp = (type: 'ed25519' | 'ed448', kid?: string) => {
      const jwk = createPublicKey(generateKeyPairSync(type).privateKey).export({ format: 'jwk' });
      return { ...jwk, ...(kid ? { kid } : {}), use: 'sig' };
    };
    const ed25519 = okp('ed25519');
    server.fault.jwks = { body: { keys: [okp('ed448', 'ed448-key'), ed25519, okp('ed448')] } };
    const keys = keySet();
    await expect(keys.getKey({ alg: 'EdDSA', kid: 'ed448-key' })).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
    // Without kid, the Ed25519 key is the one match: the Ed448 keys beside it make no ambiguity.
    const key = await keys.getKey({ alg: 'EdDSA' });
    expect(key.export({ format: 'jwk' })).toMatchObject({ crv: 'Ed25519', x: ed25519.x });
  });

  it('does not match a non-string kid', async () => {
    await expect(keySet().getKey({ alg: 'RS256', kid: 42 })).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
  });
});

describe('a misbehaving JWKS endpoint', () => {
  it.each([
    ['publishes a private key', () => ({ body: { keys: [{ ...server.keys.signing.privateJwk, kid: server.keys.signing.kid }] } }), 'jwks_failed'],
    ['publishes a key that cannot be imported', () => ({ body: { keys: [{ kty: 'RSA', kid: server.keys.signing.kid, n: 'AQAB', e: 12 }] } }), 'jwks_failed'],
    ['answers keys that are not objects', () => ({ body: { keys: ['a', 1] } }), 'jwks_failed'],
    ['answers HTML', () => ({ body: '<html>keys</html>' }), 'jwks_failed'],
    ['answers 256 KiB and more', () => ({ huge: { bytes: 300 * 1024 } }), 'upstream_response_too_large'],
    ['does not answer', () => ({ hang: true }), 'upstream_timeout'],
  ] as Array<[string, () => NonNullable<FaultyServer['fault']['jwks']>, string]>)('fails with a clear error when it %s', async (_name, fault, code) => {
    server.fault.jwks = fault();
    const err = await keySet({ timeout: 300 }).getKey(rsa(server.keys.signing.kid)).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code });
    expect(String((err as Error).message)).not.toMatch(/[<>"'`&]/);
  });
});
