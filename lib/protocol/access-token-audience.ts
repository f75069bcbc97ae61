/**
 * The audience of an API's access token (RFC 8707 §2, RFC 9068 §3): an access token asked for with
 * `audience` or `resource` that is a JWT must name what was asked in its `aud`, so an app never sends
 * API A's token to API B. Auth0 answers with the default audience when the application's refresh-token
 * policy lacks the one asked.
 *
 * The payload is read WITHOUT verifying the signature: an access token is for the API, not for the client
 * (RFC 6749 §1.4), which may have no key to verify it with (its signing key, its encryption, even whether it
 * is a JWT are the API's business). The check is about which API the server meant the token for, which the
 * server that issued it over TLS has just told us: a forged `aud` would be the server's own doing. An opaque
 * token (or an encrypted one) cannot be checked and is taken as it is.
 */
import { isRecord } from '../core/assert.js';
import { UpstreamError, safeText } from '../core/errors.js';

/** The JWT's payload when `token` is a compact JWS (three parts, JSON header with `alg`, JSON object payload). */
function jwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    if (!isRecord(header) || typeof header.alg !== 'string') return undefined;
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return isRecord(payload) ? payload : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pure: undefined when `token` is opaque or its `aud` includes every value of `asked`; otherwise the 502
 * `access_token_audience_mismatch` error to throw (the token is not quoted, nor is its `aud` beyond a
 * safe excerpt).
 */
export function audienceMismatch(token: string, asked: readonly string[]): UpstreamError | undefined {
  const payload = jwtPayload(token);
  if (!payload) return undefined;
  const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  const missing = asked.filter((value) => !aud.includes(value));
  if (missing.length === 0) return undefined;
  const named = aud.length > 0 ? `"${safeText(aud.filter((a) => typeof a === 'string').join(' '), 200)}"` : 'none';
  return new UpstreamError(
    'access_token_audience_mismatch',
    `The authorization server answered an access token for audience ${named} where ` +
      `"${safeText(missing.join(' '), 200)}" was asked for: it is not used ` +
      '(at Auth0, allow this API in the application\u2019s refresh token policy).',
  );
}
