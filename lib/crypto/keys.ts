/**
 * Private keys from options (JWK, PEM string or Buffer, KeyObject, WebCrypto CryptoKey) turned into
 * `KeyObject`s at start-up, and the JWS algorithm each key implies. Synchronous, so a bad key throws from
 * `parAuth()` naming the option.
 */
import { createPrivateKey, KeyObject } from 'node:crypto';
import { types } from 'node:util';
import type { PrivateKeyInput } from '../core/types.js';

export const ASYMMETRIC_ALGS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const;
export const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const;

export function isAsymmetricAlg(alg: string): boolean {
  return (ASYMMETRIC_ALGS as readonly string[]).includes(alg);
}

export function isHmacAlg(alg: string): boolean {
  return (HMAC_ALGS as readonly string[]).includes(alg);
}

/** Imports a private key or throws a TypeError naming `option`. */
export function toPrivateKey(input: PrivateKeyInput, option: string): KeyObject {
  let key: KeyObject;
  let publicGiven = false;
  try {
    // A Buffer holds PEM text, as express-openid-connect and Node's tls options take it.
    const text = Buffer.isBuffer(input) ? input.toString('utf8') : input;
    if (typeof text === 'string') {
      if (!text.includes('-----BEGIN')) throw new Error('not PEM');
      if (/-----BEGIN (RSA )?PUBLIC KEY-----|-----BEGIN CERTIFICATE-----/.test(text)) publicGiven = true;
      key = createPrivateKey(text);
    } else if (isKeyObject(input)) {
      key = input;
    } else if (types.isCryptoKey(input)) {
      key = KeyObject.from(input as Parameters<typeof KeyObject.from>[0]);
    } else if (input && typeof input === 'object') {
      const jwk = input as { d?: unknown; kty?: unknown };
      if (typeof jwk.d !== 'string') {
        publicGiven = typeof jwk.kty === 'string';
        throw new Error('no private part');
      }
      key = createPrivateKey({ key: input as import('node:crypto').JsonWebKey, format: 'jwk' });
    } else {
      throw new Error('unsupported type');
    }
  } catch {
    // Never echo the input: it may be key material.
    if (publicGiven) throw new TypeError(`"${option}" must be a private key, not a public key or certificate`);
    throw new TypeError(`"${option}" must be a private key: a private JWK, a PEM (string or Buffer) or a KeyObject`);
  }
  if (key.type !== 'private') throw new TypeError(`"${option}" must be a private key, not a ${key.type} key`);
  if (!['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448'].includes(key.asymmetricKeyType ?? '')) {
    throw new TypeError(`"${option}" must be an RSA, EC or Ed25519 key`);
  }
  return key;
}

function isKeyObject(value: unknown): value is KeyObject {
  if (!value || typeof value !== 'object') return false;
  const { export: exportFn, type } = value as KeyObject;
  return typeof exportFn === 'function' && (type === 'private' || type === 'public' || type === 'secret');
}

/** The algorithm a key implies; `jwkAlg` (a JWK's own `alg`) wins when given. */
export function algForKey(key: KeyObject, preferPss = false, jwkAlg?: string): string {
  if (jwkAlg) return jwkAlg;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return preferPss ? 'PS256' : 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return 'ES256';
      if (curve === 'secp384r1' || curve === 'P-384') return 'ES384';
      if (curve === 'secp521r1' || curve === 'P-521') return 'ES512';
      throw new TypeError(`unsupported EC curve ${curve}`);
    }
    case 'ed25519':
    case 'ed448':
      return 'EdDSA';
    default:
      throw new TypeError(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

/** Whether `alg` can be used with `key` (RSA with RS/PS, EC with the matching ES, OKP with EdDSA). */
export function algFitsKey(alg: string, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  if (/^(RS|PS)\d{3}$/.test(alg)) return type === 'rsa' || (type === 'rsa-pss' && alg.startsWith('PS'));
  if (/^ES\d{3}$/.test(alg)) {
    try {
      return type === 'ec' && algForKey(key) === alg;
    } catch {
      return false;
    }
  }
  if (alg === 'EdDSA' || alg === 'Ed25519') return type === 'ed25519' || (alg === 'EdDSA' && type === 'ed448');
  return false;
}

/** Key strength in bits as FAPI 2.0 counts it (RSA modulus, EC curve size). */
export function keyBits(key: KeyObject): number {
  const details = key.asymmetricKeyDetails;
  if (details?.modulusLength) return details.modulusLength;
  const curve = details?.namedCurve;
  if (curve === 'prime256v1') return 256;
  if (curve === 'secp384r1') return 384;
  if (curve === 'secp521r1') return 521;
  if (key.asymmetricKeyType === 'ed25519') return 256;
  if (key.asymmetricKeyType === 'ed448') return 448;
  return 0;
}

/** A JWK's own string member (`alg`, `kid`); undefined for PEM strings and KeyObjects. */
function jwkMember(input: PrivateKeyInput | undefined, member: 'alg' | 'kid'): string | undefined {
  if (!input || typeof input !== 'object' || isKeyObject(input) || Buffer.isBuffer(input)) return undefined;
  if (types.isCryptoKey(input)) return undefined;
  const value = (input as Record<string, unknown>)[member];
  return typeof value === 'string' ? value : undefined;
}

/** A JWK's own `kid`, sent in the JWS header so servers with several registered keys can pick the right one. */
export function jwkKidOf(input: PrivateKeyInput | undefined): string | undefined {
  return jwkMember(input, 'kid');
}

export function jwkAlgOf(input: PrivateKeyInput | undefined): string | undefined {
  return jwkMember(input, 'alg');
}
