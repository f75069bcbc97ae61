/**
 * lib/dpop.ts keys and proofs (RFC 9449 §4.2), signed with node:crypto: what a server checks in a proof,
 * for per-session and configured keys. End-to-end DPoP against oidc-provider is in dpop.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { createProof, dpopKeyFromJwk, dpopKeyFromKeyObject, generateDpopKey, thumbprint } from '../lib/protocol/dpop.js';

async function checkProof(proof: string, alg: string) {
  // What a server does (RFC 9449 §4.3): typ, alg, signature by the embedded public key.
  const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [alg] });
  expect(protectedHeader.jwk).not.toHaveProperty('d');
  return { payload, jwk: protectedHeader.jwk! };
}

describe('DPoP proofs', () => {
  it('signs an ES256 proof with a fresh per-session key: jti, htm, htu without query or fragment, iat, ath, nonce', async () => {
    const { jwk, key } = await generateDpopKey();
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(typeof jwk.d).toBe('string');
    const before = Math.floor(Date.now() / 1000);
    const proof = await createProof(key, 'GET', 'https://rs.example/api?x=1#frag', { accessToken: 'at-1', nonce: 'n-1' });
    const { payload, jwk: embedded } = await checkProof(proof, 'ES256');
    expect(payload).toMatchObject({ htm: 'GET', htu: 'https://rs.example/api', nonce: 'n-1', ath: createHash('sha256').update('at-1').digest('base64url') });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(embedded).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
    expect(await thumbprint(key)).toBe(await calculateJwkThumbprint(embedded));
  });

  it('gives every proof its own jti', async () => {
    const { key } = await generateDpopKey();
    const jtis = new Set<unknown>();
    for (let i = 0; i < 20; i++) jtis.add((await checkProof(await createProof(key, 'POST', 'https://op.example/token'), 'ES256')).payload.jti);
    expect(jtis.size).toBe(20);
  });

  it('imports a session key from its stored JWK once, and its proofs verify', async () => {
    const { jwk } = await generateDpopKey();
    const stored = JSON.parse(JSON.stringify(jwk)) as JWK; // as it comes back from a session store
    const first = await dpopKeyFromJwk(stored);
    expect(await dpopKeyFromJwk(JSON.parse(JSON.stringify(jwk)) as JWK)).toBe(first);
    const { jwk: embedded } = await checkProof(await createProof(first, 'POST', 'https://op.example/par'), 'ES256');
    expect(embedded.x).toBe(jwk.x);
  });

  it('does not reuse a cached key for a JWK whose public part differs', async () => {
    const { jwk } = await generateDpopKey();
    const other = await generateDpopKey();
    const first = await dpopKeyFromJwk(jwk);
    await expect(dpopKeyFromJwk({ ...other.jwk, d: jwk.d })).rejects.toThrow();
    expect(await dpopKeyFromJwk(jwk)).toBe(first);
  });

  it.each([
    ['an RSA key (PS256)', 'PS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ['an RSA key (RS256)', 'RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ['a P-384 key', 'ES384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey],
    ['an Ed25519 key', 'EdDSA', () => generateKeyPairSync('ed25519').privateKey],
  ])('signs proofs with a configured %s', async (_name, alg, make) => {
    const key = dpopKeyFromKeyObject(make(), alg);
    const proof = await createProof(key, 'POST', 'https://op.example/token');
    expect(decodeProtectedHeader(proof).alg).toBe(alg);
    const { jwk } = await checkProof(proof, alg);
    expect(await thumbprint(key)).toBe(await calculateJwkThumbprint(jwk));
  });
});
