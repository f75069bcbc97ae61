/**
 * Compact JWS (RFC 7515) signatures with node:crypto `KeyObject`s: the ID token's signature check and
 * the DPoP proofs' signatures. jose does every signature in Node through WebCrypto, which costs several
 * times a synchronous node:crypto call (bench/README.md, "Cryptography").
 *
 * Only the signature moves here. jose still fetches, caches, rotates and selects the server's keys
 * (`createRemoteJWKSet`: kid/alg/use/key_ops matching, refetch on an unknown kid) and still validates the
 * JWT claims set with the options the caller gives. Whatever this module does not handle itself (other
 * algorithms or key types, `crit`/`b64` headers, malformed input) goes through jose's own `jwtVerify` /
 * `SignJWT`, so every outcome, error class included, stays what jose alone would give.
 */
import { constants, createHash, KeyObject, sign, verify, type VerifyKeyObjectInput, type webcrypto } from 'node:crypto';
import { errors, jwtVerify, UnsecuredJWT } from 'jose';
import type { JWK, JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';

interface JwsAlg {
  /** node:crypto digest; null for EdDSA (the hash is part of the signature scheme). */
  hash: string | null;
  keyType: 'rsa' | 'ec' | 'ed25519';
  /** EC curve (node's name). */
  curve?: string;
  /** RSASSA-PSS salt length = digest length (RFC 7518 §3.5), as WebCrypto and jose use it. */
  pssSalt?: number;
  /** The WebCrypto algorithm jose imports the key set's keys with for this alg. */
  webCrypto: string;
}

const rsa = (bits: number, pss: boolean): JwsAlg => ({
  hash: `sha${bits}`,
  keyType: 'rsa',
  ...(pss ? { pssSalt: bits / 8 } : {}),
  webCrypto: pss ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5',
});
const ec = (bits: number, curve: string): JwsAlg => ({ hash: `sha${bits}`, keyType: 'ec', curve, webCrypto: 'ECDSA' });
const ed25519: JwsAlg = { hash: null, keyType: 'ed25519', webCrypto: 'Ed25519' };

/** The algorithms handled here, with the key types jose accepts for them (RFC 7518 §3.1, RFC 8037 §3.1). */
const ALGS: Record<string, JwsAlg> = {
  RS256: rsa(256, false),
  RS384: rsa(384, false),
  RS512: rsa(512, false),
  PS256: rsa(256, true),
  PS384: rsa(384, true),
  PS512: rsa(512, true),
  ES256: ec(256, 'prime256v1'),
  ES384: ec(384, 'secp384r1'),
  ES512: ec(512, 'secp521r1'),
  EdDSA: ed25519,
  Ed25519: ed25519,
};

const BASE64URL = /^[A-Za-z0-9_-]+$/;
// A header that is not UTF-8 takes jose's path, which decodes it leniently; the outcome is the same.
// Stryker disable next-line ObjectLiteral,BooleanLiteral: see above
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
// Stryker disable next-line StringLiteral: utf8 is Buffer's default
const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const UNSECURED_HEADER = b64url('{"alg":"none"}');

/** The entry for `alg` when `key` is a key of the type (and curve, and RSA size) jose would use for it. */
function algFor(alg: string, key: KeyObject): JwsAlg | undefined {
  const entry = Object.hasOwn(ALGS, alg) ? ALGS[alg] : undefined;
  if (!entry || key.asymmetricKeyType !== entry.keyType) return undefined;
  const details = key.asymmetricKeyDetails;
  // Stryker disable next-line OptionalChaining: an asymmetric KeyObject always has asymmetricKeyDetails
  if (entry.curve && details?.namedCurve !== entry.curve) return undefined;
  // RFC 7518 §3.3 / §3.5: RSA keys of 2048 bits or more (jose refuses smaller ones; it will say so).
  // Stryker disable next-line OptionalChaining: an asymmetric KeyObject always has asymmetricKeyDetails
  if (entry.keyType === 'rsa' && (details?.modulusLength ?? 0) < 2048) return undefined;
  return entry;
}

function keyInput(entry: JwsAlg, key: KeyObject): VerifyKeyObjectInput {
  if (entry.pssSalt) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: entry.pssSalt };
  // RFC 7518 §3.4: ECDSA signatures are R || S, not DER.
  // Stryker disable next-line ConditionalExpression: node ignores dsaEncoding for RSA and EdDSA keys
  if (entry.keyType === 'ec') return { key, dsaEncoding: 'ieee-p1363' };
  return { key };
}

// --- signing (DPoP proofs) ----------------------------------------------------------------------

/** Whether `signCompact` can sign with this key and algorithm (otherwise use jose's SignJWT). */
export function canSign(alg: string, key: KeyObject): boolean {
  return key.type === 'private' && algFor(alg, key) !== undefined;
}

/** The base64url-encoded protected header, to compute once and pass to `signCompact` for each token. */
export function encodeHeader(header: Record<string, unknown>): string {
  return b64url(JSON.stringify(header));
}

/** `header.payload.signature`; `encodedHeader` from `encodeHeader`, its `alg` the same as `alg`. */
export function signCompact(
  alg: string,
  key: KeyObject,
  encodedHeader: string,
  payload: Record<string, unknown>,
): string {
  const entry = algFor(alg, key);
  if (!entry || key.type !== 'private') {
    throw new TypeError(`cannot sign ${alg} with this ${key.asymmetricKeyType} key`);
  }
  const input = `${encodedHeader}.${b64url(JSON.stringify(payload))}`;
  // Stryker disable next-line StringLiteral: the signing input is base64url and dots, where ascii and utf8 agree
  return `${input}.${sign(entry.hash, Buffer.from(input, 'ascii'), keyInput(entry, key)).toString('base64url')}`;
}

/** RFC 7638 JWK SHA-256 thumbprint: the required members in lexicographic order, no whitespace. */
export function jwkThumbprint(jwk: JWK): string | undefined {
  let members: Record<string, unknown>;
  switch (jwk.kty) {
    case 'EC':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
      break;
    case 'RSA':
      members = { e: jwk.e, kty: jwk.kty, n: jwk.n };
      break;
    case 'OKP':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
      break;
    default:
      return undefined;
  }
  if (Object.values(members).some((v) => typeof v !== 'string' || v === '')) return undefined;
  // Stryker disable next-line StringLiteral: utf8 is the default encoding of a string
  return createHash('sha256').update(JSON.stringify(members), 'utf8').digest('base64url');
}

// --- verification (ID tokens) -------------------------------------------------------------------

/** One KeyObject per key the key set hands out: jose caches its CryptoKey per JWKS key until rotation. */
const keyObjects = new WeakMap<object, KeyObject>();

/**
 * The KeyObject for a key from the key set: a public KeyObject as is, or a CryptoKey that jose would
 * accept for `entry` (algorithm and hash, usages with "verify"), converted once.
 */
function publicKeyObject(key: unknown, entry: JwsAlg): KeyObject | undefined {
  if (key instanceof KeyObject) return key.type === 'public' ? key : undefined;
  if (!key || typeof key !== 'object') return undefined;
  if ((key as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] !== 'CryptoKey') return undefined;
  const cryptoKey = key as webcrypto.CryptoKey;
  const algorithm = cryptoKey.algorithm as { name?: string; hash?: { name?: string } };
  const usable = cryptoKey.type === 'public' && cryptoKey.usages.includes('verify');
  if (!usable || algorithm.name !== entry.webCrypto) return undefined;
  if (entry.keyType === 'rsa' && algorithm.hash?.name !== `SHA-${entry.hash!.slice(3)}`) return undefined;
  let keyObject = keyObjects.get(key);
  // Stryker disable next-line ConditionalExpression: a cache; a new KeyObject of the same key verifies the same
  if (!keyObject) {
    keyObject = KeyObject.from(cryptoKey);
    // Stryker disable next-line CallExpression: a cache; a new KeyObject of the same key verifies the same
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

function parseHeader(encoded: string): Record<string, unknown> | undefined {
  try {
    const header: unknown = JSON.parse(strictUtf8.decode(Buffer.from(encoded, 'base64url')));
    const plain = header !== null && typeof header === 'object' && Object.getPrototypeOf(header) === Object.prototype;
    return plain ? (header as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const wellFormed = (part: string | undefined): part is string =>
  part !== undefined && BASE64URL.test(part) && part.length % 4 !== 1;

/**
 * `jwtVerify(jwt, getKey, options)` with the signature checked by node:crypto: the same key (from
 * `getKey`, jose's remote key set), the same algorithm allow-list, the same claims checks (jose's, with
 * `options`), the same errors. Resolves the claims set.
 */
export async function verifyJwt(jwt: string, getKey: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  const jose = async () => (await jwtVerify(jwt, getKey, options)).payload;
  const parts = jwt.split('.');
  const [encodedHeader, encodedPayload, encodedSignature] = parts;
  const malformed = !wellFormed(encodedHeader) || !wellFormed(encodedPayload) || !wellFormed(encodedSignature);
  if (parts.length !== 3 || malformed) return jose();
  const header = parseHeader(encodedHeader);
  const alg = header?.alg;
  // Extensions (`crit`, `b64`) and algorithms outside the allow-list or this module: jose's path.
  if (!header || typeof alg !== 'string' || header.crit !== undefined || header.b64 !== undefined) return jose();
  // Stryker disable next-line OptionalChaining: callers always pass algorithms (the allow-list)
  if (!options.algorithms?.includes(alg)) return jose();
  const supported = Object.hasOwn(ALGS, alg) ? ALGS[alg]! : undefined;
  // Without a table entry publicKeyObject finds no key for the alg, and jose's path follows anyway.
  // Stryker disable next-line ConditionalExpression: see above
  if (!supported) return jose();
  // Stryker disable next-line ObjectLiteral: jose's remote key set selects by the header alone, not by the token parts
  const token = { protected: encodedHeader, payload: encodedPayload, signature: encodedSignature };
  const key = publicKeyObject(await getKey(header as Parameters<JWTVerifyGetKey>[0], token), supported);
  const entry = key && algFor(alg, key);
  if (!key || !entry) return jose();
  let valid: boolean;
  try {
    // Stryker disable next-line StringLiteral: the signing input is base64url and dots, where ascii and utf8 agree
    const input = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
    valid = verify(entry.hash, input, keyInput(entry, key), Buffer.from(encodedSignature, 'base64url'));
  } catch (cause) {
    throw new errors.JWSSignatureVerificationFailed(undefined, { cause });
  }
  if (!valid) throw new errors.JWSSignatureVerificationFailed();
  // The signature is good: jose's own claims-set validation, handed the verified payload under an
  // `alg: none` header (with the token's `typ`, which options.typ would compare).
  const unsecured = typeof header.typ === 'string' ? encodeHeader({ alg: 'none', typ: header.typ }) : UNSECURED_HEADER;
  return UnsecuredJWT.decode(`${unsecured}.${encodedPayload}.`, options).payload;
}
