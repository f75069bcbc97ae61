/**
 * DPoP (RFC 9449): a key per login (or one configured key), proofs for the PAR, token and resource
 * requests, the server-provided nonces (§8) remembered per origin, and the two mechanisms every request
 * with a proof shares: the `Authorization` header (DPoP or Bearer) and the one retry on a nonce challenge.
 *
 * Keys are node:crypto `KeyObject`s and proofs are signed with node:crypto (crypto/jws.ts): a fresh P-256
 * key, a proof and the thumbprint each cost a fraction of their WebCrypto versions. A session's key is
 * imported from its stored JWK once and kept (bounded cache), with its encoded proof header and thumbprint.
 */
import { createECDH, createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';
import { randomToken } from '../core/random.js';
import { canSign, encodeHeader, jwkThumbprint, signCompact } from '../crypto/jws.js';

/** A key proofs are signed with. */
export type SigningKey = KeyObject;

export interface DpopKey {
  privateKey: SigningKey;
  publicJwk: JWK;
  alg: string;
  /** Computed on first use: the encoded proof header (typ, alg, jwk) and the RFC 7638 thumbprint. */
  header?: string;
  jkt?: string;
}

/** Keys imported from session JWKs, by private scalar: a login's callback and resource calls reuse the import. */
const imported = new Map<string, DpopKey>();
const MAX_IMPORTED = 1000;

function remember(d: string, key: DpopKey): DpopKey {
  if (imported.size >= MAX_IMPORTED) imported.delete(imported.keys().next().value!);
  imported.set(d, key);
  return key;
}

/**
 * A fresh ES256 key: the private JWK to keep in the session, and the key ready to sign with.
 *
 * Never `export({ format: 'jwk' })` of a key `generateKeyPairSync()` has just made: on Node 20 that can
 * deadlock the whole process. The JWK export holds the key's mutex while it allocates; when an allocation
 * starts a GC that finalises the key-generation job, the job's destructor waits for the same mutex,
 * forever (seen under gdb: ExportJWKEcKey -> GC -> ~KeyGenJob -> uv_mutex_lock; a loop of the pair hung
 * within about 1,000 to 3,000 keys). The key is exported as SEC1 DER instead (80,000 in a row did not
 * hang), whose fixed P-256 layout holds d, x and y; that is also the cheapest way found (bench/README.md,
 * "Cryptography").
 */
export async function generateDpopKey(): Promise<{ jwk: JWK; key: DpopKey }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = sec1P256(privateKey.export({ format: 'der', type: 'sec1' }));
  // Node's OpenSSL always writes the layout sec1P256 reads (its refusals are unit-tested); ECDH is the fallback
  // should that change.
  // Stryker disable next-line ConditionalExpression: see above
  const made = jwk ? { jwk, privateKey } : ecdhKeyPair();
  const key = remember(made.jwk.d!, { privateKey: made.privateKey, publicJwk: publicPart(made.jwk), alg: 'ES256' });
  return { jwk: made.jwk, key };
}

/** A P-256 key pair from ECDH, its KeyObject imported from the JWK (no key-generation job is involved). */
export function ecdhKeyPair(): { jwk: JWK; privateKey: KeyObject } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const point = ecdh.getPublicKey(); // 0x04 || X || Y, 32 bytes each
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33).toString('base64url');
  const jwk: JWK = { kty: 'EC', crv: 'P-256', x, y, d: scalar32(ecdh.getPrivateKey()), alg: 'ES256' };
  return { jwk, privateKey: createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }) };
}

// RFC 5915 ECPrivateKey for P-256 with its public key, as OpenSSL writes it (121 bytes):
// 30 77 | 02 01 01 | 04 20 <d> | a0 0a 06 08 <prime256v1> | a1 44 03 42 00 04 <x> <y>
const SEC1_HEAD = Buffer.from('30770201010420', 'hex');
const SEC1_MIDDLE = Buffer.from('a00a06082a8648ce3d030107a14403420004', 'hex');

/** The private JWK in a P-256 SEC1 DER key of that exact layout; undefined for anything else. */
export function sec1P256(der: Buffer): JWK | undefined {
  if (der.length !== 121 || !der.subarray(0, 7).equals(SEC1_HEAD) || !der.subarray(39, 57).equals(SEC1_MIDDLE)) {
    return undefined;
  }
  const part = (start: number, end?: number) => der.subarray(start, end).toString('base64url');
  return { kty: 'EC', crv: 'P-256', x: part(57, 89), y: part(89), d: part(7, 39), alg: 'ES256' };
}

/** RFC 7518 §6.2.2.1: `d` is the full 32 bytes for P-256; ECDH gives a scalar with leading zero bytes shorter. */
export function scalar32(d: Buffer): string {
  return Buffer.concat([Buffer.alloc(32 - d.length), d]).toString('base64url'); // a P-256 scalar is never longer
}

export async function dpopKeyFromJwk(jwk: JWK): Promise<DpopKey> {
  const alg = jwk.alg ?? 'ES256';
  // Stryker disable next-line ConditionalExpression: a JWK without d is in no cache entry: the lookup finds nothing
  const known = typeof jwk.d === 'string' ? imported.get(jwk.d) : undefined;
  if (known && known.alg === alg) {
    const { x, y, n } = known.publicJwk;
    if (x === jwk.x && y === jwk.y && n === jwk.n) return known;
  }
  const privateKey = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  // node takes an EC JWK's x and y as given; WebCrypto refused a pair that does not belong to d. So do we.
  if (jwk.kty === 'EC' && !publicPointMatches(jwk)) {
    throw new TypeError('the stored DPoP key is invalid: its public part does not belong to its private part');
  }
  return remember(jwk.d!, { privateKey, publicJwk: publicPart(jwk), alg }); // a private JWK: createPrivateKey took it
}

const NIST_CURVES: Record<string, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };

function publicPointMatches(jwk: JWK): boolean {
  // Stryker disable next-line StringLiteral: an EC JWK that node imported has a crv
  const curve = NIST_CURVES[jwk.crv ?? ''];
  // Stryker disable next-line ConditionalExpression: createECDH refuses a curve outside the table all the same
  if (!curve) return false;
  const ecdh = createECDH(curve);
  ecdh.setPrivateKey(Buffer.from(jwk.d!, 'base64url')); // createPrivateKey took it as a private JWK
  const point = ecdh.getPublicKey(); // 0x04 || X || Y
  const size = (point.length - 1) / 2;
  const coordinate = (start: number, end?: number) => point.subarray(start, end).toString('base64url');
  return coordinate(1, 1 + size) === jwk.x && coordinate(1 + size) === jwk.y;
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, alg: _alg, key_ops: _ops, ext: _ext, ...publicJwk } = jwk;
  return publicJwk;
}

export function dpopKeyFromKeyObject(key: KeyObject, alg: string): DpopKey {
  const publicJwk = createPublicKey(key).export({ format: 'jwk' }) as JWK;
  return { privateKey: key, publicJwk, alg };
}

/** RFC 9449 §10: `dpop_jkt` is the JWK SHA-256 thumbprint (RFC 7638) of the public key. */
export async function thumbprint(key: DpopKey): Promise<string> {
  // jwkThumbprint covers every key type a DPoP key can have (EC, RSA, OKP); jose's is the fallback should that change.
  // Stryker disable next-line LogicalOperator,StringLiteral: see above
  key.jkt ??= jwkThumbprint(key.publicJwk) ?? (await calculateJwkThumbprint(key.publicJwk, 'sha256'));
  return key.jkt;
}

/**
 * RFC 9449 §4.2: `typ: dpop+jwt`, asymmetric alg, public `jwk`; `jti`, `htm`, `htu` (no query, fragment or
 * userinfo), `iat`.
 */
export async function createProof(
  key: DpopKey,
  htm: string,
  htu: string | URL,
  opts: { nonce?: string; accessToken?: string } = {},
): Promise<string> {
  const url = new URL(htu);
  url.search = '';
  url.hash = '';
  // RFC 9110 §4.2.4: a sender must not generate userinfo (user:password@) in an http(s) URI.
  url.username = '';
  url.password = '';
  const claims: Record<string, unknown> = { jti: randomToken(16), htm, htu: url.href };
  // Stryker disable next-line ConditionalExpression: an undefined nonce is left out of the JSON anyway
  if (opts.nonce) claims.nonce = opts.nonce;
  // RFC 9449 §4.2: `ath` = base64url(SHA-256(access token)) on resource requests.
  // Stryker disable next-line StringLiteral: access tokens are ASCII (RFC 6750 §2.1 b64token): 'ascii' and utf8 agree
  if (opts.accessToken) claims.ath = createHash('sha256').update(opts.accessToken, 'ascii').digest('base64url');
  const header = { typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk };
  // Keys come from generateDpopKey() or the config, with an alg node:crypto signs; jose is the fallback, and both
  // give a valid proof.
  const withJose = () => new SignJWT(claims).setProtectedHeader(header).setIssuedAt().sign(key.privateKey);
  // Stryker disable next-line ConditionalExpression,BooleanLiteral: see above
  if (!canSign(key.alg, key.privateKey)) return withJose();
  key.header ??= encodeHeader(header);
  claims.iat = Math.floor(Date.now() / 1000);
  return signCompact(key.alg, key.privateKey, key.header, claims);
}

/** Origins whose nonce is kept: the least recently updated is dropped first. */
const MAX_NONCE_ORIGINS = 500;

/** Latest `DPoP-Nonce` per origin (RFC 9449 §8: servers may require and rotate them), for at most 500 origins. */
export class DpopNonces {
  private readonly nonces = new Map<string, string>();
  get size(): number {
    return this.nonces.size;
  }
  get(url: string | URL): string | undefined {
    return this.nonces.get(new URL(url).origin);
  }
  remember(url: string | URL, headers: Record<string, string | string[] | undefined>): void {
    const nonce = headers['dpop-nonce'];
    if (typeof nonce !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]{1,512}$/.test(nonce)) return;
    const origin = new URL(url).origin;
    this.nonces.delete(origin); // re-inserted last: the map's order is the order of updates
    if (this.nonces.size >= MAX_NONCE_ORIGINS) this.nonces.delete(this.nonces.keys().next().value!);
    this.nonces.set(origin, nonce);
  }
}

/** What a DPoP-bound request needs: the login's key, and the nonces of the servers it talks to. */
export interface DpopBinding {
  key: DpopKey;
  nonces: DpopNonces;
}

/**
 * The headers that present an access token, for every request that sends one (userinfo, `req.oidc.fetch()`,
 * `req.oidc.authorizationHeaders()`): `Authorization: Bearer` (RFC 6750 §2.1), or with a DPoP key
 * `Authorization: DPoP` and a fresh proof for this method and URL, with `ath` and the origin's latest
 * nonce (RFC 9449 §7.1).
 */
export async function accessTokenHeaders(
  accessToken: string,
  method: string,
  url: string | URL,
  dpop: DpopBinding | undefined,
): Promise<{ authorization: string } | { authorization: string; dpop: string }> {
  if (!dpop) return { authorization: `Bearer ${accessToken}` };
  const proof = await createProof(dpop.key, method.toUpperCase(), url, { accessToken, nonce: dpop.nonces.get(url) });
  return { authorization: `DPoP ${accessToken}`, dpop: proof };
}

/**
 * RFC 9449 §8 (authorization server) and §9 (resource server): a request refused for want of the server's
 * nonce is sent once more, never twice. The attempt remembers the nonce the refusal carried, so the second
 * proof has it. `release` frees the refused response first (a fetch body). Used by PAR, token, userinfo
 * and `req.oidc.fetch()`.
 */
export async function retryOnNonceChallenge<R>(
  attempt: () => Promise<R>,
  isChallenge: (res: R) => boolean,
  release?: (res: R) => Promise<void>,
): Promise<R> {
  const res = await attempt();
  if (!isChallenge(res)) return res;
  await release?.(res);
  return attempt();
}
