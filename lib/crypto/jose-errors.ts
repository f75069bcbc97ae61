/**
 * The one mapping of jose's errors for every JWT express-par verifies (the ID token, a signed userinfo
 * answer, a logout token). What failed is told apart here, once: the server's keys could not be had (our
 * key set's `ParError`, which jose may wrap, or jose's own JWKS errors), or the token itself is refused
 * (expired, a claim, the signature, no matching key, another jose error). Each verifier says how it words
 * a refusal, and whether a key failure is the server's (5xx) or one more reason to refuse the token.
 */
import { errors } from 'jose';
import { ParError, UpstreamError, UpstreamTimeoutError } from '../core/errors.js';

/** Why a token was refused. */
export interface TokenFailure {
  kind: 'expired' | 'claim' | 'signature' | 'no_matching_key' | 'other';
  /** jose's error code (`ERR_JWT_EXPIRED`, …); undefined for an error that is not jose's. */
  code?: string;
  /** For `claim`: the claim, and jose's reason. */
  claim?: string;
  reason?: string;
}

/** What is being verified: how it words a refused token. */
export interface Verified {
  refused(failure: TokenFailure, cause: unknown): Error;
  /** true: a failure to get the server's keys is passed on as its ParError (5xx); false: the token is refused. */
  keyFailuresPassOn: boolean;
}

/** A failure to get the server's keys, as express-par's error; undefined when the token itself failed. */
function keyFailure(err: unknown): ParError | undefined {
  if (err instanceof ParError) return err; // ours: jwks_failed, upstream_timeout, upstream_unreachable, …
  if (err instanceof errors.JWKSTimeout) {
    return new UpstreamTimeoutError('The JWKS endpoint did not answer within httpTimeout.', { cause: err });
  }
  if (err instanceof errors.JWKSInvalid) {
    const message = 'The JWKS endpoint did not answer with a valid JSON Web Key Set.';
    return new UpstreamError('jwks_failed', message, { cause: err });
  }
  // Stryker disable next-line OptionalChaining: jose throws errors, never null; the ?. guards a key resolver's throw
  const cause = (err as { cause?: unknown } | null | undefined)?.cause;
  return cause instanceof ParError ? cause : undefined; // jose wraps a fetch failure of ours
}

function failureOf(err: unknown): TokenFailure {
  const code = err instanceof errors.JOSEError ? err.code : undefined;
  if (err instanceof errors.JWTExpired) return { kind: 'expired', code };
  if (err instanceof errors.JWTClaimValidationFailed) {
    return { kind: 'claim', code, claim: err.claim, reason: err.reason };
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return { kind: 'signature', code };
  if (err instanceof errors.JWKSNoMatchingKey) return { kind: 'no_matching_key', code };
  // Stryker disable next-line StringLiteral: no verifier tells 'other' from any kind it does not name
  return { kind: 'other', code };
}

/** The error a verification failure becomes for `verified`. */
export function verificationError(err: unknown, verified: Verified): Error {
  const key = verified.keyFailuresPassOn ? keyFailure(err) : undefined;
  return key ?? verified.refused(failureOf(err), err);
}
