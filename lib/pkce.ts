/** PKCE (RFC 7636) and the other per-login random values. */
import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes base64url-encoded: 43 characters of [A-Za-z0-9-_] (RFC 7636 §4.1, §7.1). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** RFC 7636 §4.1: 43–128 characters from the unreserved set, from a CSPRNG. */
export function createCodeVerifier(): string {
  return randomToken(32);
}

/** RFC 7636 §4.2: S256 `code_challenge = BASE64URL(SHA256(ASCII(code_verifier)))`. */
export function codeChallengeS256(verifier: string): string {
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) throw new TypeError('code_verifier must be 43-128 unreserved characters (RFC 7636 §4.1)');
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}
