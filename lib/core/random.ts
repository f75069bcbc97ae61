/** Unguessable values from the CSPRNG: PKCE verifiers, `state`, `nonce`, `jti`s. */
import { randomBytes } from 'node:crypto';

/**
 * Random bytes come from a 4 KiB block drawn from the CSPRNG at once and handed out once each (as
 * node:crypto's randomUUID does): a randomBytes() call costs the same whatever its size, and a login needs
 * three to five values (bench/README.md, "Cryptography"). Bytes handed out are zeroed in the block.
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
