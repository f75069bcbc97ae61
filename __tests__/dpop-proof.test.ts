/**
 * lib/protocol/dpop.ts keys and proofs (RFC 9449 §4.2), signed with node:crypto: what a server checks in a proof,
 * for per-session and configured keys; the Authorization header and the one nonce retry every request shares. End-to-end DPoP against oidc-provider is in dpop.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import {
  accessTokenHeaders, createProof, dpopKeyFromJwk, dpopKeyFromKeyObject, DpopNonces, ecdhKeyPair, generateDpopKey, retryOnNonceChallenge, scalar32,
  sec1P256, thumbprint,
} from '../lib/protocol/dpop.js';

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

  it('never puts userinfo (user:password@) into htu (RFC 9110 §4.2.4: a sender must not generate it)', async () => {
    const { key } = await generateDpopKey();
    const proof = await createProof(key, 'GET', 'https://user:secret@rs.example:8443/api/v1?x=1#frag');
    const { payload } = await checkProof(proof, 'ES256');
    expect(payload.htu).toBe('https://rs.example:8443/api/v1');
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

/** A private JWK made outside generateDpopKey(): as another instance would have stored it (not in this process's cache). */
function foreignJwk(curve: 'P-256' | 'P-384' | 'P-521' = 'P-256', alg?: string): JWK {
  const jwk = generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({ format: 'jwk' }) as JWK;
  return alg ? { ...jwk, alg } : jwk;
}

describe('session keys stored by another instance (imported from the JWK)', () => {
  it('imports a P-256 JWK without alg as ES256 once, then reuses the import', async () => {
    const jwk = foreignJwk();
    const key = await dpopKeyFromJwk(jwk);
    expect(key.alg).toBe('ES256');
    expect(key.publicJwk).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
    const { jwk: embedded } = await checkProof(await createProof(key, 'POST', 'https://op.example/token'), 'ES256');
    expect(embedded).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
    expect(await dpopKeyFromJwk({ ...jwk })).toBe(key);
  });

  it.each([['P-384', 'ES384'], ['P-521', 'ES512']] as const)('imports a %s JWK with alg %s and signs with it', async (curve, alg) => {
    const key = await dpopKeyFromJwk(foreignJwk(curve, alg));
    expect(key.alg).toBe(alg);
    await checkProof(await createProof(key, 'POST', 'https://op.example/token'), alg);
  });

  it('imports an RSA JWK with its alg (no EC point to check)', async () => {
    const jwk = { ...(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK), alg: 'PS256' };
    const key = await dpopKeyFromJwk(jwk);
    expect(key.publicJwk).toEqual({ kty: 'RSA', n: jwk.n, e: jwk.e });
    await checkProof(await createProof(key, 'POST', 'https://op.example/token'), 'PS256');
    // the same private part with another modulus is not the cached key
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK;
    const imported = await dpopKeyFromJwk({ ...jwk, n: other.n }).then((k) => k, () => undefined);
    expect(imported).not.toBe(key);
  });

  it('refuses an EC JWK whose x or y does not belong to its d, even after the genuine one was cached', async () => {
    const jwk = foreignJwk();
    const other = foreignJwk();
    // another key's whole public point is a valid point, just not this d's: our check
    await expect(dpopKeyFromJwk({ ...jwk, x: other.x, y: other.y })).rejects.toThrow(/public part does not belong/);
    // one coordinate swapped is off the curve: node refuses it
    await expect(dpopKeyFromJwk({ ...jwk, x: other.x })).rejects.toThrow();
    await expect(dpopKeyFromJwk({ ...jwk, y: other.y })).rejects.toThrow();
    const genuine = await dpopKeyFromJwk(jwk);
    // the cache answers only for the same public part
    await expect(dpopKeyFromJwk({ ...jwk, x: other.x, y: other.y })).rejects.toThrow(/public part does not belong/);
    await expect(dpopKeyFromJwk({ ...jwk, x: other.x })).rejects.toThrow();
    await expect(dpopKeyFromJwk({ ...jwk, y: other.y })).rejects.toThrow();
    expect(await dpopKeyFromJwk(jwk)).toBe(genuine);
  });

  it('refuses an EC JWK whose x is right and whose y is the other root (the point of -d)', async () => {
    const jwk = foreignJwk();
    const p = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n; // P-256's field prime
    const y = BigInt(`0x${Buffer.from(jwk.y!, 'base64url').toString('hex')}`);
    const negated = Buffer.from((p - y).toString(16).padStart(64, '0'), 'hex').toString('base64url');
    await expect(dpopKeyFromJwk({ ...jwk, y: negated })).rejects.toThrow(/public part does not belong/);
  });

  it('refuses an EC JWK whose y is right and whose x is the other point on the curve with that y', async () => {
    // x and x' share y when both solve X³ - 3X + b = y²: x' = (-x ± √(12 - 3x²)) / 2 mod p (p ≡ 3 mod 4).
    const p = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
    const mod = (a: bigint) => ((a % p) + p) % p;
    const pow = (base: bigint, exp: bigint) => {
      let result = 1n;
      for (let b = mod(base), e = exp; e > 0n; e >>= 1n, b = mod(b * b)) if (e & 1n) result = mod(result * b);
      return result;
    };
    const toB64 = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').toString('base64url');
    for (let attempt = 0; ; attempt++) {
      const jwk = foreignJwk();
      const x = BigInt(`0x${Buffer.from(jwk.x!, 'base64url').toString('hex')}`);
      const disc = mod(12n - 3n * x * x);
      const root = pow(disc, (p + 1n) / 4n);
      if (mod(root * root) !== disc) continue; // no other point with this y: try another key (half of them have one)
      const otherX = mod((root - x) * pow(2n, p - 2n));
      expect(otherX).not.toBe(x);
      await expect(dpopKeyFromJwk({ ...jwk, x: toB64(otherX) })).rejects.toThrow(/public part does not belong/);
      await expect(dpopKeyFromJwk(jwk)).resolves.toBeDefined();
      expect(attempt).toBeLessThan(64);
      break;
    }
  });

  it('refuses an EC key on a curve DPoP proofs do not use (secp256k1)', async () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ format: 'jwk' }) as JWK;
    await expect(dpopKeyFromJwk({ ...jwk, alg: 'ES256K' })).rejects.toThrow();
  });

  it('does not hand out the cached key for the same d under another alg', async () => {
    const jwk = foreignJwk('P-256', 'ES256');
    const cached = await dpopKeyFromJwk(jwk);
    const relabelled = await dpopKeyFromJwk({ ...jwk, alg: 'ES384' });
    expect(relabelled).not.toBe(cached);
    expect(relabelled.alg).toBe('ES384');
  });

  it('keeps at most 1,000 imported keys: the oldest import is dropped first', async () => {
    const oldest = foreignJwk();
    const oldestKey = await dpopKeyFromJwk(oldest);
    const batch = Array.from({ length: 1000 }, () => foreignJwk());
    const keys = [];
    for (const jwk of batch) keys.push(await dpopKeyFromJwk(jwk));
    // the 1,000 most recent are cached (checked before anything re-imports), the one before them is not
    expect(await dpopKeyFromJwk(batch[0]!)).toBe(keys[0]);
    expect(await dpopKeyFromJwk(batch[999]!)).toBe(keys[999]);
    expect(await dpopKeyFromJwk(oldest)).not.toBe(oldestKey);
  });
});

describe('DPoP-Nonce values remembered per origin (RFC 9449 §8: NQCHAR, 1*)', () => {
  it('keeps the latest valid nonce of each origin', () => {
    const nonces = new DpopNonces();
    nonces.remember('https://op.example/par', { 'dpop-nonce': 'first' });
    nonces.remember('https://op.example/token?x', { 'dpop-nonce': 'second' });
    nonces.remember('https://rs.example/api', { 'dpop-nonce': 'rs-nonce' });
    expect(nonces.get('https://op.example/anything')).toBe('second');
    expect(nonces.get('https://rs.example/')).toBe('rs-nonce');
    expect(nonces.get('https://other.example/')).toBeUndefined();
  });

  it.each([
    ['a space inside', 'abc def'],
    ['a quote at the end', 'abc"'],
    ['a backslash at the start', '\\abc'],
    ['a control character at the end', 'abc\n'],
    ['empty', ''],
    ['longer than 512 characters', 'a'.repeat(513)],
  ])('ignores a nonce with %s, keeping the one before', (_name, value) => {
    const nonces = new DpopNonces();
    nonces.remember('https://op.example/', { 'dpop-nonce': 'good' });
    nonces.remember('https://op.example/', { 'dpop-nonce': value });
    expect(nonces.get('https://op.example/')).toBe('good');
  });

  it('takes a 512-character nonce and every visible ASCII character but " and \\', () => {
    const nonces = new DpopNonces();
    const visible = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => c !== '"' && c !== '\\').join('');
    nonces.remember('https://op.example/', { 'dpop-nonce': visible });
    expect(nonces.get('https://op.example/')).toBe(visible);
    nonces.remember('https://op.example/', { 'dpop-nonce': 'b'.repeat(512) });
    expect(nonces.get('https://op.example/')).toBe('b'.repeat(512));
  });
});

describe('per-session key material (generateDpopKey and its fallback)', () => {
  // A re-imported copy is safe to export as JWK (see helpers/keys.ts): the reference for what the DER holds.
  const referenceJwk = (der: Buffer) => createPrivateKey({ key: der, format: 'der', type: 'sec1' }).export({ format: 'jwk' });

  it('sec1P256 reads d, x and y out of a P-256 SEC1 key exactly as a JWK export gives them', () => {
    for (let i = 0; i < 20; i++) {
      const der = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'sec1' });
      expect(sec1P256(der)).toEqual({ ...referenceJwk(der), alg: 'ES256' });
    }
  });

  it('sec1P256 refuses anything but that exact layout: another curve, a key without its public part, a changed byte', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'sec1' });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ format: 'der', type: 'sec1' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'der', type: 'sec1' });
    expect(k1.length).toBe(118); // secp256k1's OID is shorter
    expect(sec1P256(k1)).toBeUndefined();
    expect(sec1P256(p384)).toBeUndefined();
    // Without the public key ([1] dropped, outer length fixed): 51 bytes, no x or y to read.
    const noPublic = Buffer.concat([Buffer.from('3031', 'hex'), p256.subarray(2, 51)]);
    expect(sec1P256(noPublic)).toBeUndefined();
    expect(sec1P256(Buffer.concat([p256, Buffer.from([0])]))).toBeUndefined();
    for (const at of [0, 6, 39, 56]) {
      const changed = Buffer.from(p256);
      changed[at] ^= 0x01;
      expect(sec1P256(changed)).toBeUndefined();
    }
    expect(sec1P256(p256)).toBeDefined();
  });

  it('the ECDH fallback makes a full P-256 key whose KeyObject signs proofs for its own JWK', async () => {
    const { jwk, privateKey } = ecdhKeyPair();
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'd', 'kty', 'x', 'y']);
    expect([jwk.kty, jwk.crv, jwk.alg, jwk.x!.length, jwk.y!.length, jwk.d!.length]).toEqual(['EC', 'P-256', 'ES256', 43, 43, 43]);
    expect(createPublicKey(privateKey).export({ format: 'jwk' })).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
    const key = await dpopKeyFromJwk(jwk); // its public part belongs to its private part
    const proof = await createProof(key, 'POST', 'https://as.example/token');
    await expect(jwtVerify(proof, createPublicKey(privateKey), { typ: 'dpop+jwt' })).resolves.toBeDefined();
  });

  it('scalar32 pads a private scalar with leading zero bytes to 32 bytes (RFC 7518 §6.2.2.1), and keeps a full one', () => {
    const short = Buffer.alloc(31, 7);
    expect(Buffer.from(scalar32(short), 'base64url')).toEqual(Buffer.concat([Buffer.from([0]), short]));
    expect(Buffer.from(scalar32(Buffer.alloc(30, 9)), 'base64url')).toEqual(Buffer.concat([Buffer.alloc(2), Buffer.alloc(30, 9)]));
    const full = Buffer.alloc(32, 5);
    expect(scalar32(full)).toBe(full.toString('base64url'));
  });
});

describe('accessTokenHeaders: how every request presents the access token', () => {
  it('is a Bearer header without a DPoP key (RFC 6750 §2.1)', async () => {
    expect(await accessTokenHeaders('at-1', 'get', 'https://rs.example/api', undefined)).toEqual({ authorization: 'Bearer at-1' });
  });

  it('is DPoP with a proof for the method (upper-cased), the URL, the token and the origin\'s nonce (RFC 9449 §7.1)', async () => {
    const { key } = await generateDpopKey();
    const nonces = new DpopNonces();
    nonces.remember('https://rs.example/other', { 'dpop-nonce': 'n-7' });
    const headers = await accessTokenHeaders('at-2', 'post', 'https://rs.example/api?x=1', { key, nonces });
    expect(Object.keys(headers)).toEqual(['authorization', 'dpop']);
    expect(headers.authorization).toBe('DPoP at-2');
    const { payload } = await checkProof((headers as { dpop: string }).dpop, 'ES256');
    expect(payload).toMatchObject({ htm: 'POST', htu: 'https://rs.example/api', nonce: 'n-7', ath: createHash('sha256').update('at-2').digest('base64url') });
  });

  it('leaves the nonce out for an origin that has given none', async () => {
    const { key } = await generateDpopKey();
    const headers = await accessTokenHeaders('at-3', 'GET', 'https://rs.example/', { key, nonces: new DpopNonces() });
    const { payload } = await checkProof((headers as { dpop: string }).dpop, 'ES256');
    expect(payload).not.toHaveProperty('nonce');
  });
});

describe('retryOnNonceChallenge: one more attempt after a nonce challenge, never two (RFC 9449 §8, §9)', () => {
  const run = async (answers: string[], withRelease = true) => {
    const sent: string[] = [];
    const released: string[] = [];
    let next = 0;
    const attempt = async () => {
      const answer = answers[next++]!;
      sent.push(answer);
      return answer;
    };
    const release = async (res: string) => {
      released.push(res);
    };
    const res = await retryOnNonceChallenge(attempt, (r) => r === 'challenge', withRelease ? release : undefined);
    return { res, sent, released };
  };

  it('returns the first answer when it is no challenge, and releases nothing', async () => {
    expect(await run(['ok', 'unused'])).toEqual({ res: 'ok', sent: ['ok'], released: [] });
  });

  it('releases the challenge and returns the second answer, whatever it is', async () => {
    expect(await run(['challenge', 'ok'])).toEqual({ res: 'ok', sent: ['challenge', 'ok'], released: ['challenge'] });
    expect(await run(['challenge', 'challenge', 'never'])).toEqual({ res: 'challenge', sent: ['challenge', 'challenge'], released: ['challenge'] });
  });

  it('retries without a release function too', async () => {
    expect(await run(['challenge', 'ok'], false)).toEqual({ res: 'ok', sent: ['challenge', 'ok'], released: [] });
  });

  it('passes a failing attempt\'s error on', async () => {
    await expect(retryOnNonceChallenge(() => Promise.reject(new Error('down')), () => true)).rejects.toThrow('down');
  });
});
