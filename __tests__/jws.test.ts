/**
 * lib/crypto/jws.ts: ID token signatures checked with node:crypto (a KeyObject per key of jose's remote key set)
 * and DPoP-style signing, held against jose itself: every token gets the outcome jose's jwtVerify gives.
 * The key set is served over real HTTP on 127.0.0.1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, createRemoteJWKSet, jwtVerify, SignJWT, type JWK, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { canSign, encodeHeader, jwkThumbprint, signCompact, verifyJwt } from '../lib/crypto/jws.js';

const ISSUER = 'https://op.example';
const CLIENT = 'client-1';

type Alg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';
interface TestKey { alg: string; kid: string; privateKey: KeyObject; publicJwk: JWK }

function makeKey(alg: Alg | 'RS256-1024', kid = `k-${alg}`): TestKey {
  const pair = alg.startsWith('RS') || alg.startsWith('PS')
    ? generateKeyPairSync('rsa', { modulusLength: alg === 'RS256-1024' ? 1024 : 2048 })
    : alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg as 'ES256'] });
  const jwsAlg = alg === 'RS256-1024' ? 'RS256' : alg;
  return { alg: jwsAlg, kid, privateKey: pair.privateKey, publicJwk: { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), kid, alg: jwsAlg, use: 'sig' } };
}

const ALGS: Alg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const keys = Object.fromEntries(ALGS.map((alg) => [alg, makeKey(alg)])) as Record<Alg, TestKey>;

/** A JWKS endpoint whose key list a test can change; counts its requests. */
let served: JWK[] = Object.values(keys).map((k) => k.publicJwk);
let jwksRequests = 0;
const server = http.createServer((_req, res) => {
  jwksRequests += 1;
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }));
});
let jwksUrl: URL;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  jest.restoreAllMocks();
  served = Object.values(keys).map((k) => k.publicJwk);
});

function remoteSet(): JWTVerifyGetKey {
  // cooldownDuration 0: an unknown kid refetches at once (express-par uses 30 s against kid flooding).
  return createRemoteJWKSet(jwksUrl, { cooldownDuration: 0 });
}

function claims(extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: ISSUER, aud: CLIENT, sub: 'alice', nonce: 'n-1', iat: now, exp: now + 300, ...extra };
}

function sign(key: TestKey, payload: Record<string, unknown> = claims(), header: Record<string, unknown> = {}) {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

function optionsFor(alg: string, extra: Partial<JWTVerifyOptions> = {}): JWTVerifyOptions {
  return { issuer: ISSUER, audience: CLIENT, algorithms: [alg], clockTolerance: 30, requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'], ...extra };
}

/** What a verification ends in: the claims, or the error's class, code, message, claim and reason. */
async function outcome(run: () => Promise<unknown>) {
  try {
    return { ok: await run() };
  } catch (err) {
    const e = err as Error & { code?: string; claim?: string; reason?: string };
    return { error: { name: e.constructor.name, code: e.code, message: e.message, claim: e.claim, reason: e.reason } };
  }
}

describe('verifyJwt: the ID token signature with node:crypto', () => {
  it.each(ALGS)('verifies a %s token with the key the remote key set selects, without WebCrypto', async (alg) => {
    const jwks = remoteSet();
    const token = await sign(keys[alg]);
    const subtleVerify = jest.spyOn(crypto.subtle, 'verify');
    const payload = await verifyJwt(token, jwks, optionsFor(alg));
    expect(payload).toMatchObject({ sub: 'alice', nonce: 'n-1' });
    expect(subtleVerify).not.toHaveBeenCalled();
  });

  it('refuses a token whose signature does not match its content, as jose does', async () => {
    const token = await sign(keys.RS256);
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify(claims({ sub: 'mallory' }))).toString('base64url')}.${s}`;
    const result = await outcome(() => verifyJwt(forged, remoteSet(), optionsFor('RS256')));
    expect(result).toEqual({ error: expect.objectContaining({ name: 'JWSSignatureVerificationFailed', code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }) });
    expect(result).toEqual(await outcome(() => jwtVerify(forged, remoteSet(), optionsFor('RS256'))));
  });

  it.each(['ES256', 'EdDSA', 'PS256'] as const)('refuses a %s signature made by another key of the same type', async (alg) => {
    const impostor = { ...makeKey(alg), kid: keys[alg].kid };
    const token = await sign(impostor);
    const result = await outcome(() => verifyJwt(token, remoteSet(), optionsFor(alg)));
    expect(result).toEqual({ error: expect.objectContaining({ name: 'JWSSignatureVerificationFailed' }) });
  });

  it('refuses an algorithm outside the allow-list before fetching any key', async () => {
    const before = jwksRequests;
    const token = await sign(keys.ES256);
    const result = await outcome(() => verifyJwt(token, remoteSet(), optionsFor('RS256')));
    expect(result).toEqual({ error: expect.objectContaining({ name: 'JOSEAlgNotAllowed' }) });
    expect(jwksRequests).toBe(before);
  });

  it('refetches the key set for an unknown kid (rotation) and verifies with the new key', async () => {
    const jwks = remoteSet();
    await verifyJwt(await sign(keys.ES256), jwks, optionsFor('ES256'));
    const before = jwksRequests;
    const rotated = makeKey('ES256', 'rotated-es256');
    served = [rotated.publicJwk];
    await expect(verifyJwt(await sign(rotated), jwks, optionsFor('ES256'))).resolves.toMatchObject({ sub: 'alice' });
    expect(jwksRequests).toBe(before + 1);
    // The old key is gone from the set now: its tokens find no key, even after another refetch.
    await expect(verifyJwt(await sign(keys.ES256), jwks, optionsFor('ES256'))).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('keeps one KeyObject per key: the key set is fetched once for many tokens', async () => {
    const jwks = remoteSet();
    const before = jwksRequests;
    for (let i = 0; i < 20; i++) await verifyJwt(await sign(keys[ALGS[i % ALGS.length]!]), jwks, optionsFor(ALGS[i % ALGS.length]!));
    expect(jwksRequests).toBe(before + 1);
  });

  const now = () => Math.floor(Date.now() / 1000);
  const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  // Every row has its options (a test function with more parameters than the row would be read as taking `done`).
  const cases: Array<[string, () => Promise<string> | string, Partial<JWTVerifyOptions>]> = [
    ['a valid token', () => sign(keys.RS256), {}],
    ['an expired token', () => sign(keys.RS256, claims({ exp: now() - 120 })), {}],
    ['a token expired within the clock tolerance', () => sign(keys.RS256, claims({ exp: now() - 10 })), {}],
    ['a token not valid yet (nbf)', () => sign(keys.RS256, claims({ nbf: now() + 600 })), {}],
    ['another issuer', () => sign(keys.RS256, claims({ iss: 'https://evil.example' })), {}],
    ['another audience', () => sign(keys.RS256, claims({ aud: ['other'] })), {}],
    ['no sub', () => sign(keys.RS256, claims({ sub: undefined })), {}],
    ['a string exp', () => sign(keys.RS256, claims({ exp: 'tomorrow' })), {}],
    ['an unknown kid', () => sign({ ...keys.RS256, kid: 'nobody' }), {}],
    ['a kid of a key of another type', () => sign({ ...keys.RS256, kid: keys.ES256.kid }), {}],
    // jose will not sign these two: made by hand.
    ['a critical header extension', () => signCompact('RS256', keys.RS256.privateKey, encodeHeader({ alg: 'RS256', kid: keys.RS256.kid, crit: ['exp'], exp: 1 }), claims()), {}],
    ['an unencoded payload (b64: false)', () => signCompact('RS256', keys.RS256.privateKey, encodeHeader({ alg: 'RS256', kid: keys.RS256.kid, crit: ['b64'], b64: false }), claims()), {}],
    ['a header that is not JSON', async () => `${b64('{nope')}.${(await sign(keys.RS256)).split('.').slice(1).join('.')}`, {}],
    ['a payload that is not an object', async () => { const [h, , s] = (await sign(keys.RS256)).split('.'); return `${h}.${b64('[1]')}.${s}`; }, {}],
    ['two parts', async () => (await sign(keys.RS256)).split('.').slice(0, 2).join('.'), {}],
    ['four parts (a valid token and one more)', async () => `${await sign(keys.RS256)}.${b64('more')}`, {}],
    ['a header that is JSON null', async () => `${b64('null')}.${(await sign(keys.RS256)).split('.').slice(1).join('.')}`, {}],
    ['a header that is a JSON array', async () => `${b64('[{"alg":"RS256"}]')}.${(await sign(keys.RS256)).split('.').slice(1).join('.')}`, {}],
    ['a numeric alg', async () => `${b64({ alg: 256, kid: keys.RS256.kid })}.${(await sign(keys.RS256)).split('.').slice(1).join('.')}`, {}],
    ['a signature of impossible length (4n+1 characters)', async () => `${await sign(keys.RS256)}A`, {}],
    ['a + in the signature', async () => { const t = await sign(keys.RS256); return `${t.slice(0, -2)}+${t.slice(-1)}`; }, {}],
    ['a payload that is not base64url', async () => { const [h, p, sig] = (await sign(keys.RS256)).split('.'); return `${h}.${p}!.${sig}`; }, {}],
    ['a header that is not base64url', async () => { const [h, p, sig] = (await sign(keys.RS256)).split('.'); return `!${h}.${p}.${sig}`; }, {}],
    ['b64: false without crit', () => signCompact('RS256', keys.RS256.privateKey, encodeHeader({ alg: 'RS256', kid: keys.RS256.kid, b64: false }), claims()), {}],
    ['a numeric typ where the options require one', () => signCompact('RS256', keys.RS256.privateKey, encodeHeader({ alg: 'RS256', kid: keys.RS256.kid, typ: 7 }), claims()), { typ: 'JWT' }],
    ['padding in the signature', async () => `${await sign(keys.RS256)}==`, {}],
    ['an ECDSA signature in DER form', async () => {
      const [h, p] = (await sign(keys.ES256)).split('.');
      const { sign: nodeSign } = await import('node:crypto');
      return `${h}.${p}.${nodeSign('sha256', Buffer.from(`${h}.${p}`), keys.ES256.privateKey).toString('base64url')}`;
    }, {}],
    ['alg none', () => `${b64({ alg: 'none' })}.${b64(claims())}.`, {}],
    ['a typ the options require, present', () => sign(keys.RS256, claims(), { typ: 'JWT' }), { typ: 'JWT' }],
    ['a typ the options require, absent', () => sign(keys.RS256), { typ: 'JWT' }],
  ];

  it.each(cases)('ends %s exactly as jose jwtVerify does', async (_name, make, extra) => {
    const token = await make();
    let alg: unknown;
    try {
      alg = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')).alg;
    } catch {
      alg = undefined;
    }
    const options = optionsFor(typeof alg === 'string' && alg !== 'none' ? alg : 'RS256', extra);
    const ours = await outcome(() => verifyJwt(token, remoteSet(), options));
    const jose = await outcome(() => jwtVerify(token, remoteSet(), options).then((r) => r.payload));
    expect(ours).toEqual(jose);
  });

  // getKey hands a key of its own making: whatever verifyJwt does with it, jose would do the same.
  const subtle = globalThis.crypto.subtle;
  const spki = (key: TestKey) => createPublicKey(key.privateKey).export({ format: 'der', type: 'spki' });
  const keyCases: Array<[string, Alg, () => Promise<unknown>]> = [
    ['a public KeyObject', 'ES256', async () => createPublicKey(keys.ES256.privateKey)],
    ['a private KeyObject', 'ES256', async () => keys.ES256.privateKey],
    ['a secret instead of a key', 'RS256', async () => new TextEncoder().encode('a-shared-secret-of-32-bytes-or-more!')],
    ['null', 'RS256', async () => null],
    ['a CryptoKey without the verify usage', 'RS256', () => subtle.importKey('spki', spki(keys.RS256), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, [])],
    ['a CryptoKey for RSA-PSS under an RS256 token', 'RS256', () => subtle.importKey('spki', spki(keys.RS256), { name: 'RSA-PSS', hash: 'SHA-256' }, true, ['verify'])],
    ['a CryptoKey with SHA-384 under an RS256 token', 'RS256', () => subtle.importKey('spki', spki(keys.RS256), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }, true, ['verify'])],
    ['a CryptoKey with the right algorithm', 'RS256', () => subtle.importKey('spki', spki(keys.RS256), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['verify'])],
  ];

  it.each(keyCases)('ends a token whose key set hands %s exactly as jose does', async (_name, alg, makeKey) => {
    const key = await makeKey();
    const getKey = (async () => key) as unknown as JWTVerifyGetKey;
    const token = await sign(keys[alg]);
    const ours = await outcome(() => verifyJwt(token, getKey, optionsFor(alg)));
    const jose = await outcome(() => jwtVerify(token, getKey, optionsFor(alg)).then((r) => r.payload));
    expect(ours).toEqual(jose);
  });

  it('verifies with a public KeyObject from getKey without WebCrypto', async () => {
    const getKey = (async () => createPublicKey(keys.ES256.privateKey)) as unknown as JWTVerifyGetKey;
    const subtleVerify = jest.spyOn(crypto.subtle, 'verify');
    await expect(verifyJwt(await sign(keys.ES256), getKey, optionsFor('ES256'))).resolves.toMatchObject({ sub: 'alice' });
    expect(subtleVerify).not.toHaveBeenCalled();
  });

  it('converts each CryptoKey once: many tokens, one KeyObject (node:crypto verify, not WebCrypto)', async () => {
    const jwks = remoteSet();
    const subtleVerify = jest.spyOn(crypto.subtle, 'verify');
    for (let i = 0; i < 5; i++) await verifyJwt(await sign(keys.PS512), jwks, optionsFor('PS512'));
    expect(subtleVerify).not.toHaveBeenCalled();
  });

  it('leaves RSA keys under 2048 bits to jose, which refuses them', async () => {
    const weak = makeKey('RS256-1024', 'weak');
    served = [weak.publicJwk];
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'weak' }).sign(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    const ours = await outcome(() => verifyJwt(token, remoteSet(), optionsFor('RS256')));
    expect(ours).toEqual({ error: expect.objectContaining({ message: 'RS256 requires key modulusLength to be 2048 bits or larger' }) });
  });
});

describe('signCompact and jwkThumbprint (DPoP proofs)', () => {
  it.each(ALGS)('signs %s tokens that jose verifies', async (alg) => {
    const key = keys[alg];
    expect(canSign(alg, key.privateKey)).toBe(true);
    const header = encodeHeader({ typ: 'dpop+jwt', alg, jwk: key.publicJwk });
    const token = signCompact(alg, key.privateKey, header, { jti: 'j', htm: 'POST', htu: 'https://op.example/token', iat: Math.floor(Date.now() / 1000) });
    const { payload, protectedHeader } = await jwtVerify(token, key.publicJwk, { typ: 'dpop+jwt', algorithms: [alg] });
    expect(payload).toMatchObject({ jti: 'j', htm: 'POST' });
    expect(protectedHeader.jwk).toEqual(key.publicJwk);
  });

  it.each([
    ['an RSA key under 2048 bits', 'RS256', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey],
    ['an Ed448 key', 'EdDSA', () => generateKeyPairSync('ed448').privateKey],
    ['an RSASSA-PSS key', 'PS256', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey],
    ['a P-384 key for ES256', 'ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey],
    ['a public key', 'ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
  ])('leaves %s to jose (canSign is false, signCompact throws)', (_name, alg, make) => {
    const key = make();
    expect(canSign(alg, key)).toBe(false);
    expect(() => signCompact(alg, key, encodeHeader({ alg }), {})).toThrow(TypeError);
  });

  it.each([
    ['ES384', 'a P-256 key', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
    ['ES512', 'a P-384 key', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey],
    ['ES256', 'an Ed25519 key', () => generateKeyPairSync('ed25519').privateKey],
  ] as const)('cannot sign %s with %s', (alg, _name, make) => {
    const key = make();
    expect(canSign(alg, key)).toBe(false);
    expect(() => signCompact(alg, key, encodeHeader({ alg }), {})).toThrow(`cannot sign ${alg} with this ${key.asymmetricKeyType} key`);
  });

  it('signs with each curve its algorithm names', () => {
    expect(canSign('ES384', keys.ES384.privateKey)).toBe(true);
    expect(canSign('ES512', keys.ES512.privateKey)).toBe(true);
    expect(canSign('PS512', keys.PS512.privateKey)).toBe(true);
    expect(canSign('RS384', keys.RS384.privateKey)).toBe(true);
  });

  it.each(['ES256', 'RS256', 'EdDSA'] as const)('computes the RFC 7638 thumbprint of a %s key as jose does', async (alg) => {
    expect(jwkThumbprint(keys[alg].publicJwk)).toBe(await calculateJwkThumbprint(keys[alg].publicJwk, 'sha256'));
  });

  it('matches the RFC 7638 §3.1 example', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('has no thumbprint for a JWK without its required members', () => {
    expect(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'abc' })).toBeUndefined();
    expect(jwkThumbprint({ kty: 'oct', k: 'abc' })).toBeUndefined();
    expect(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: '', y: 'abc' })).toBeUndefined();
    expect(jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: '' })).toBeUndefined();
    expect(jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: 'abc' })).toBe(createHash('sha256').update('{"crv":"Ed25519","kty":"OKP","x":"abc"}').digest('base64url'));
  });
});
