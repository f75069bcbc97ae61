/**
 * The keys and algorithms of what the client signs (client assertions, DPoP proofs, request objects) and
 * of the ID tokens it accepts, checked at start-up; under profile `fapi2` with FAPI 2.0 §5.4.1's rules.
 */
import type { KeyObject } from 'node:crypto';
import { fail } from '../core/assert.js';
import type { ResolvedConfig } from '../core/model.js';
import type { ParAuthConfig } from '../core/types.js';
import {
  algFitsKey, algForKey, isAsymmetricAlg, isHmacAlg, jwkAlgOf, jwkKidOf, keyBits, toPrivateKey,
} from '../crypto/keys.js';

/** FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA (Ed25519) only. */
export const FAPI2_ALGS = ['PS256', 'ES256', 'EdDSA', 'Ed25519'];

/**
 * The algorithm `key` signs with: `requested` (an option, or the JWK's own `alg`), else the one the key
 * implies. `option` names the algorithm option in messages, `keyOption` the key's.
 */
export function signingAlg(
  key: KeyObject,
  requested: string | undefined,
  option: string,
  fapi2: boolean,
  keyOption = option,
): string {
  // FAPI 2.0 §5.4.1: EdDSA with the Ed25519 variant only.
  if (fapi2 && key.asymmetricKeyType === 'ed448') {
    fail(`"${keyOption}" must not be an Ed448 key under profile "fapi2" (EdDSA with Ed25519 only)`);
  }
  let alg: string;
  try {
    alg = requested ?? algForKey(key, fapi2);
  } catch (err) {
    fail(`"${option}": ${(err as Error).message}`);
  }
  if (!isAsymmetricAlg(alg)) {
    fail(`"${option}" must be an asymmetric algorithm (RS256, PS256, ES256, EdDSA, …), got "${alg}"`);
  }
  if (!algFitsKey(alg, key)) fail(`"${option}" "${alg}" does not fit the ${key.asymmetricKeyType} key`);
  if (fapi2) checkFapi2Key(key, alg, option);
  return alg;
}

function checkFapi2Key(key: KeyObject, alg: string, option: string): void {
  if (!FAPI2_ALGS.includes(alg)) fail(`"${option}" must be PS256, ES256 or EdDSA under profile "fapi2" (got "${alg}")`);
  const bits = keyBits(key);
  const rsa = key.asymmetricKeyType?.startsWith('rsa');
  if ((rsa && bits < 2048) || (!rsa && bits < 224)) {
    fail(`"${option}": the key is too weak for profile "fapi2" (RSA ≥ 2048 bits, EC ≥ 224 bits)`);
  }
}

/** `dpop`: false, a fresh key per login (`true`), or one configured key; FAPI 2.0 turns it on without `tls`. */
export function resolveDpop(
  value: ParAuthConfig['dpop'],
  fapi2: boolean,
  mtls: boolean,
): { dpop: ResolvedConfig['dpop']; alg?: string } {
  if (value === undefined || value === false) {
    // FAPI 2.0 §5.3.2.2: sender-constrained access tokens, by DPoP or by the client certificate (RFC 8705 §3).
    if (fapi2 && value === false && !mtls) {
      fail(
        '"dpop" cannot be false under profile "fapi2" without "tls": FAPI 2.0 requires sender-constrained tokens ' +
          '(DPoP, or mTLS with a client certificate)',
      );
    }
    if (fapi2 && !mtls) return { dpop: 'per-session', alg: 'ES256' };
    return { dpop: false };
  }
  if (value !== true && (value === null || (typeof value !== 'object' && typeof value !== 'string'))) {
    fail('"dpop" must be true, false or a private key (JWK, PEM string or KeyObject)');
  }
  if (value === true) return { dpop: 'per-session', alg: 'ES256' };
  const key = toPrivateKey(value, 'dpop');
  return { dpop: key, alg: signingAlg(key, jwkAlgOf(value), 'dpop', fapi2) };
}

/** `requestObjectSigningKey` and its algorithm (RFC 9101), or nothing. */
export function resolveRequestObject(
  input: ParAuthConfig,
  fapi2: boolean,
): Pick<ResolvedConfig, 'requestObjectKey' | 'requestObjectAlg' | 'requestObjectKid'> {
  if (input.requestObjectSigningKey === undefined) {
    if (input.requestObjectSigningAlg !== undefined) fail('"requestObjectSigningAlg" needs "requestObjectSigningKey"');
    return {};
  }
  const key = toPrivateKey(input.requestObjectSigningKey, 'requestObjectSigningKey');
  const requested = input.requestObjectSigningAlg ?? jwkAlgOf(input.requestObjectSigningKey);
  const alg = signingAlg(key, requested, 'requestObjectSigningAlg', fapi2, 'requestObjectSigningKey');
  const kid = jwkKidOf(input.requestObjectSigningKey);
  return { requestObjectKey: key, requestObjectAlg: alg, ...(kid ? { requestObjectKid: kid } : {}) };
}

/** `idTokenSigningAlgs`: JWS algorithms; HMAC ones need the client secret; FAPI 2.0's only under `fapi2`. */
export function resolveIdTokenSigningAlgs(input: ParAuthConfig, fapi2: boolean): string[] | undefined {
  const algs = input.idTokenSigningAlgs;
  if (algs === undefined) return fapi2 ? [...FAPI2_ALGS] : undefined;
  const known = (a: unknown) => typeof a === 'string' && (isAsymmetricAlg(a) || isHmacAlg(a) || a === 'none');
  if (!Array.isArray(algs) || algs.length === 0 || !algs.every(known)) {
    fail('"idTokenSigningAlgs" must be a non-empty array of JWS algorithms, e.g. ["RS256"]');
  }
  if (algs.some(isHmacAlg) && !input.clientSecret) {
    fail('"idTokenSigningAlgs" lists an HMAC algorithm, which needs "clientSecret"');
  }
  if (fapi2 && !algs.every((a) => FAPI2_ALGS.includes(a))) {
    fail('"idTokenSigningAlgs" may only hold PS256, ES256 or EdDSA under profile "fapi2"');
  }
  return [...algs];
}
