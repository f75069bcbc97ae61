/** PKCE (RFC 7636): the code verifier and its S256 challenge. */
import { createHash } from 'node:crypto';
import { randomToken } from '../core/random.js';

/** RFC 7636 §4.1: 43–128 characters from the unreserved set, from a CSPRNG. */
export function createCodeVerifier(): string {
  return randomToken(32);
}

/** RFC 7636 §4.2: S256 `code_challenge = BASE64URL(SHA256(ASCII(code_verifier)))`. */
export function codeChallengeS256(verifier: string): string {
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) {
    throw new TypeError('code_verifier must be 43-128 unreserved characters (RFC 7636 §4.1)');
  }
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}
