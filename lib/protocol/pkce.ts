/** PKCE (RFC 7636) and the other per-login random values. */
import { createHash, randomBytes } from 'node:crypto';

/**
 * Random bytes come from a 4 KiB block drawn from the CSPRNG at once and handed out once each (as
 * node:crypto's randomUUID does): one randomBytes() call costs ~6 µs whatever its size, and a login
 * needs three to five values. Bytes handed out are zeroed in the block.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** 32 random bytes base64url-encoded: 43 characters of [A-Za-z0-9-_] (RFC 7636 §4.1, §7.1). */
export function randomToken(bytes = 32): string {
  if (bytes > 256) return randomBytes(bytes).toString('base64url');
  if (offset + bytes > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const token = pool.toString('base64url', offset, offset + bytes);
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return token;
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
