/** The login kept in the session, built from (or updated by) a token response. */
import type { JWTPayload } from 'jose';
import type { CertificateBinding } from '../protocol/tls.js';
import type { LoginSession, TokenSet } from './types.js';

/**
 * `base` with the tokens of a token response applied: access and refresh token (a refresh may rotate
 * it), token type, scope, expiry (cleared when the response has none) and, when a validated ID token
 * came back, the ID token and its claims; and whether the new access token is certificate-bound (RFC 8705 §3).
 */
export function withTokens(base: LoginSession, tokens: Partial<TokenSet>, claims?: JWTPayload, binding?: CertificateBinding): LoginSession {
  // claims may be read lazily from the ID token (not enumerable): copied explicitly
  const next: LoginSession = { ...base, claims: base.claims, tokenType: tokens.token_type ?? 'Bearer' };
  delete next.certificateBound;
  delete next.cnf;
  // Stryker disable next-line ConditionalExpression: Object.assign with undefined changes nothing
  if (binding) Object.assign(next, binding);
  if (tokens.access_token) next.accessToken = tokens.access_token;
  if (tokens.refresh_token) next.refreshToken = tokens.refresh_token;
  if (tokens.scope) next.scope = tokens.scope;
  if (typeof tokens.expires_in === 'number') next.expiresAt = Math.floor(Date.now() / 1000) + tokens.expires_in;
  else delete next.expiresAt;
  if (claims && tokens.id_token) {
    next.idToken = tokens.id_token;
    next.claims = claims;
  }
  return next;
}
