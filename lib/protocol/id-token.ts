/**
 * ID token validation, OpenID Connect Core 1.0 §3.1.3.7 (with §2 and §3.1.3.6), using jose.
 */
import { createHash } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, UnsecuredJWT, type JWTPayload } from 'jose';
import { IdTokenError, safeText } from '../core/errors.js';
import { verificationError, type TokenFailure, type Verified } from '../crypto/jose-errors.js';
import { verifyJwt } from '../crypto/jws.js';
import { isAsymmetricAlg, isHmacAlg } from '../crypto/keys.js';
import type { JwtExpectations } from './jwt-expectations.js';

export interface IdTokenExpectations extends JwtExpectations {
  /** The nonce sent with the login (not checked for a refresh). */
  nonce?: string;
  /** An ID token from a refresh: the claims of the login's current ID token, which it must agree with (Core §12.2). */
  refreshOf?: JWTPayload;
  maxAge?: number;
  accessToken?: string;
  /** Seconds since the epoch; tests freeze it. */
  now?: number;
}

/** Default accepted algorithms: the asymmetric ones the server advertises, else RS256 (Core §3.1.3.7 step 7). */
export function resolveIdTokenAlgs(configured: string[] | undefined, advertised: unknown): string[] {
  if (configured) return configured;
  // Stryker disable next-line ConditionalExpression: isAsymmetricAlg() is false for non-strings; the typeof narrows
  const asymmetric = (a: unknown): a is string => typeof a === 'string' && isAsymmetricAlg(a);
  const list = Array.isArray(advertised) ? advertised.filter(asymmetric) : [];
  return list.length > 0 ? list : ['RS256'];
}

/** Core §3.1.3.6: `at_hash` is the left half of the hash of the access token, hash per the JWS alg. */
export function atHash(accessToken: string, alg: string): string {
  const bits = alg === 'EdDSA' || alg === 'Ed25519' ? 512 : Number(alg.slice(-3));
  // Stryker disable next-line StringLiteral: access tokens are ASCII (RFC 6749 §A.12): 'ascii' and 'utf8' agree
  const digest = createHash(`sha${bits === 384 || bits === 512 ? bits : 256}`).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** Validates the ID token and returns its claims, or throws `IdTokenError` (502) / `UpstreamTimeoutError` (504). */
export async function validateIdToken(idToken: string, expected: IdTokenExpectations): Promise<JWTPayload> {
  let alg: string;
  try {
    alg = String(decodeProtectedHeader(idToken).alg);
  } catch {
    throw new IdTokenError('The ID token is not a JWS compact serialization.');
  }
  // Core §3.1.3.7 step 7: only the expected algorithms; `none` and HMAC only when listed explicitly.
  if (!expected.algorithms.includes(alg)) {
    const allowed = expected.algorithms.join(', ');
    throw new IdTokenError(
      `The ID token is signed with "${safeText(alg, 20)}", which is not in the allowed list (${allowed}).`,
    );
  }
  const now = expected.now ?? Math.floor(Date.now() / 1000);
  const options = {
    issuer: expected.issuer, // step 2: iss exactly
    audience: expected.clientID, // step 3: aud contains client_id
    algorithms: [alg],
    clockTolerance: expected.clockTolerance, // step 9: exp (and nbf) with skew
    currentDate: new Date(now * 1000),
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'], // Core §2
  };
  let payload: JWTPayload;
  try {
    if (alg === 'none') {
      payload = UnsecuredJWT.decode(idToken, options).payload;
    } else if (isHmacAlg(alg)) {
      // step 8: HMAC keys are the client secret's octets
      payload = (await jwtVerify(idToken, new TextEncoder().encode(expected.clientSecret ?? ''), options)).payload;
    } else {
      if (!expected.jwks) {
        throw new IdTokenError('The server publishes no jwks_uri, so the ID token signature cannot be checked.');
      }
      // jose's key set and claims checks; the signature with node:crypto and a cached KeyObject (crypto/jws.ts)
      payload = await verifyJwt(idToken, expected.jwks, options);
    }
  } catch (err) {
    throw verificationError(err, ID_TOKEN);
  }
  checkClaims(payload, expected, alg, now);
  return payload;
}

function checkClaims(payload: JWTPayload, expected: IdTokenExpectations, alg: string, now: number): void {
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    throw new IdTokenError('The ID token has no "sub" (Core §2).');
  }
  // Stryker disable next-line ArrayDeclaration: only "more than one audience" matters, and [aud] and [] both have fewer
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  // step 4/5: with several audiences azp must be present, and azp when present must be the client_id
  if (audiences.length > 1 && payload.azp === undefined) {
    throw new IdTokenError('The ID token has several audiences and no "azp" (Core §3.1.3.7).');
  }
  if (payload.azp !== undefined && payload.azp !== expected.clientID) {
    throw new IdTokenError('The ID token "azp" is not this client (Core §3.1.3.7).');
  }
  // step 3: an audience the client does not trust is refused (trustedAudiences names the ones it does)
  const trusted = expected.trustedAudiences;
  const untrusted = audiences.filter((aud) => aud !== expected.clientID && !trusted?.includes(String(aud)));
  if (untrusted.length > 0) {
    throw new IdTokenError(
      'The ID token "aud" lists an audience this client does not trust (Core §3.1.3.7; see trustedAudiences).',
    );
  }
  // step 10: iat must not be in the future (beyond the clock tolerance)
  // Stryker disable next-line ConditionalExpression: jose refuses a missing or non-numeric iat; the typeof narrows
  if (typeof payload.iat !== 'number' || payload.iat > now + expected.clockTolerance) {
    throw new IdTokenError('The ID token "iat" is in the future.');
  }
  if (expected.refreshOf) {
    checkRefreshedClaims(payload, expected.refreshOf);
  } else if (typeof payload.nonce !== 'string' || payload.nonce !== expected.nonce) {
    // step 11: nonce equals the one sent
    throw new IdTokenError('The ID token "nonce" does not match the login.');
  }
  // step 13: auth_time with max_age
  if (expected.maxAge !== undefined) {
    if (typeof payload.auth_time !== 'number') {
      throw new IdTokenError('The ID token has no "auth_time" although max_age was requested (Core §3.1.3.7).');
    }
    if (payload.auth_time + expected.maxAge + expected.clockTolerance < now) {
      throw new IdTokenError('The ID token "auth_time" is older than max_age allows.');
    }
  }
  // Core §3.1.3.6: at_hash is optional in the code flow; check it when present.
  if (payload.at_hash !== undefined && expected.accessToken !== undefined && alg !== 'none') {
    if (payload.at_hash !== atHash(expected.accessToken, alg)) {
      throw new IdTokenError('The ID token "at_hash" does not match the access token.');
    }
  }
}

/**
 * OpenID Connect Core §12.2: a refreshed ID token MUST have the same `iss` (checked above) and `sub`, the
 * same `aud`, and (if present) the same `azp`; its `auth_time`, if present, is the original
 * authentication's; a `nonce`, if present, is the original one. A refresh never switches user.
 */
function checkRefreshedClaims(payload: JWTPayload, original: JWTPayload): void {
  if (payload.sub !== original.sub) {
    throw new IdTokenError('The refreshed ID token is about another "sub" (Core §12.2).');
  }
  // A single audience other than the client was refused above (untrusted), so [] and [aud] compare alike.
  // Stryker disable next-line ArrayDeclaration: see above
  const audiences = (v: unknown) => [...new Set(Array.isArray(v) ? v.map(String) : [String(v)])].sort().join(' ');
  if (audiences(payload.aud) !== audiences(original.aud)) {
    throw new IdTokenError('The refreshed ID token has another "aud" (Core §12.2).');
  }
  // an azp, when present, is the original one (a refreshed token may not gain one the original lacked)
  if (payload.azp !== undefined && payload.azp !== original.azp) {
    throw new IdTokenError('The refreshed ID token has another "azp" (Core §12.2).');
  }
  if (payload.auth_time !== undefined && original.auth_time !== undefined && payload.auth_time !== original.auth_time) {
    throw new IdTokenError('The refreshed ID token has another "auth_time" (Core §12.2).');
  }
  if (payload.nonce !== undefined && payload.nonce !== original.nonce) {
    throw new IdTokenError('The refreshed ID token "nonce" is not the original one (Core §12.2).');
  }
}

/** How an ID token that fails verification is told (a key set that cannot be had is the server's failure). */
const ID_TOKEN: Verified = {
  keyFailuresPassOn: true,
  refused: (failure, cause) => new IdTokenError(idTokenRefusal(failure), { cause }),
};

function idTokenRefusal(failure: TokenFailure): string {
  switch (failure.kind) {
    case 'expired':
      return 'The ID token has expired.';
    case 'claim':
      return `The ID token "${failure.claim}" claim is invalid (${failure.reason}).`;
    case 'signature':
      return 'The ID token signature is invalid.';
    case 'no_matching_key':
      return 'No key in the server\'s JWKS matches the ID token (kid/alg), even after refetching it.';
    default:
      return failure.code ? `The ID token is invalid (${failure.code}).` : 'The ID token could not be validated.';
  }
}
