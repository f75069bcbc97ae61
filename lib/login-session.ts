/** The login kept in the session, built from (or updated by) a token response. */
import type { JWTPayload } from 'jose';
import type { LoginSession, TokenSet } from './types.js';

/**
 * `base` with the tokens of a token response applied: access and refresh token (a refresh may rotate
 * it), token type, scope, expiry (cleared when the response has none) and, when a validated ID token
 * came back, the ID token and its claims.
 */
export function withTokens(base: LoginSession, tokens: Partial<TokenSet>, claims?: JWTPayload): LoginSession {
  const next: LoginSession = { ...base, tokenType: tokens.token_type ?? 'Bearer' };
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
