/**
 * The completed login of a sign-in, as the session keeps it: read (well-formed or not at all), stored
 * (its claims not twice when they are the ID token's own), cleared, and built from a token response.
 */
import type { JWTPayload } from 'jose';
import { isRecord } from '../core/assert.js';
import type { CertificateBinding, RequestWithSession } from '../core/model.js';
import type { LoginSession, TokenSet } from '../core/types.js';
import { dropIfEmpty, ensureSignIn, readSignIn } from './layout.js';
import { tokenPayload } from './token-claims.js';

// tokenClaims() defines the field again anyway: leaving it out of the copy only keeps the object's shape.
// Stryker disable next-line ArrayDeclaration,StringLiteral: see above
const TOKEN_CLAIMS: ReadonlySet<string> = new Set(['claims']);
const NOTHING: ReadonlySet<string> = new Set();

/** A login as the session holds it: `claims` only when they differ from the ID token's (storeLogin). */
export type StoredLogin = { [K in keyof LoginSession as Exclude<K, 'claims'>]: LoginSession[K] } & {
  claims?: Record<string, unknown>;
};

/**
 * This sign-in's completed login as stored, when it is well-formed; its `claims` may be absent (they are
 * the ID token's own, see storeLogin). For code that needs only the tokens: it changes nothing.
 */
export function readStoredLogin(req: { session?: unknown }, key: string): StoredLogin | undefined {
  const login = readSignIn(req, key)?.login;
  if (!isRecord(login) || typeof login.idToken !== 'string') return undefined;
  if (Object.hasOwn(login, 'claims') && !isRecord(login.claims)) return undefined;
  return login as StoredLogin;
}

/** This sign-in's completed login, when it is well-formed, with its claims (read from the ID token when not stored). */
export function readLogin(req: { session?: unknown }, key: string): LoginSession | undefined {
  const login = readStoredLogin(req, key);
  if (login && !Object.hasOwn(login, 'claims')) tokenClaims(login as LoginSession, tokenPayload(login.idToken));
  return login as LoginSession | undefined;
}

/**
 * The payload of the login's ID token as the provider issued it (validated when received), whatever
 * claims an afterCallback shaped: what names the login (`sub`, `sid`) and what a refreshed ID token is
 * compared with (OpenID Connect Core §12.2). Not parsed again when the login's claims are the token's own.
 */
export function idTokenPayload(login: StoredLogin): Record<string, unknown> {
  if (!Object.hasOwn(login, 'claims')) tokenClaims(login as LoginSession, tokenPayload(login.idToken));
  // enumerable: shaped by afterCallback, or a copy (withTokens)
  else if (Object.prototype.propertyIsEnumerable.call(login, 'claims')) return tokenPayload(login.idToken) ?? {};
  return login.claims!; // non-enumerable: the token's own payload (tokenClaims)
}

/**
 * Stores the login. The session budget: when its claims are the ID token's own (validated when the token
 * was received, and not reshaped by afterCallback), they are not stored twice but read back from the
 * stored ID token when asked for.
 */
export function storeLogin(
  req: RequestWithSession,
  key: string,
  login: LoginSession,
  options: { claimsFromIdToken?: boolean } = {},
): void {
  // claimsFromIdToken: the caller knows login.claims is the validated ID token's payload as it came.
  const payload = options.claimsFromIdToken && isRecord(login.claims) ? login.claims : tokenPayload(login.idToken);
  // `payload === login.claims` only spares comparing identical claims as JSON.
  // Stryker disable next-line ConditionalExpression: see above
  const same = payload === login.claims;
  const fromToken = login.claims === undefined || same || JSON.stringify(login.claims) === JSON.stringify(payload);
  // copyFields leaves the claims out when they are the token's: deleting them from a spread copy left the
  // stored login in V8's dictionary mode, which express-session's change check and the store then
  // serialised on their slow path.
  const stored = copyFields(login, fromToken ? TOKEN_CLAIMS : NOTHING) as unknown as LoginSession;
  if (fromToken) tokenClaims(stored, payload);
  ensureSignIn(req, key).login = stored;
}

/**
 * `login.claims` = the ID token's payload, not enumerable, so never saved into the session (nor seen by
 * express-session's change detection). One plain defineProperty: this runs on every authenticated
 * request, where a lazy accessor (closures, then redefining it as data) was measurable on the page path.
 */
function tokenClaims(login: LoginSession, payload: Record<string, unknown> | undefined): void {
  const claims = { value: payload ?? {}, writable: true, enumerable: false, configurable: true };
  Object.defineProperty(login, 'claims', claims);
}

/** Ends this sign-in's login; its pending transactions and other sign-ins stay. */
export function clearLogin(req: { session?: unknown }, key: string): boolean {
  const state = readSignIn(req, key);
  if (!state?.login) return false;
  delete state.login;
  dropIfEmpty(req, key);
  return true;
}

/** Fields of the previous login that the new token response decides: not carried over. */
const REPLACED = new Set(['certificateBound', 'cnf', 'expiresAt']);

/**
 * The enumerable own fields of a stored login but those in `omit`, assigned one by one. Not a spread
 * copy: a property added to or deleted from a spread copy gets a new hidden class or leaves the object in
 * V8's slow dictionary mode (bench/README.md, "Object shapes on the hot path"). A `__proto__` key (a
 * tampered store) is never copied: an assignment would set the copy's prototype.
 */
export function copyFields(source: object, omit: ReadonlySet<string>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const field of Object.keys(source)) {
    if (field !== '__proto__' && !omit.has(field)) copy[field] = (source as Record<string, unknown>)[field];
  }
  return copy;
}

/**
 * `base` with the tokens of a token response applied: access and refresh token (a refresh may rotate
 * it), token type, scope, expiry (cleared when the response has none) and, when a validated ID token
 * came back, the ID token and its claims; and whether the new access token is certificate-bound (RFC 8705 §3).
 */
export function withTokens(
  base: LoginSession,
  tokens: Partial<TokenSet>,
  claims?: JWTPayload,
  binding?: CertificateBinding,
): LoginSession {
  // copyFields, not `{ ...base, tokenType }` (see copyFields). The binding and expiry of the old tokens are
  // left out (the new response decides them).
  const next = copyFields(base, REPLACED);
  // claims may be read lazily from the ID token (not enumerable): copied explicitly
  next.claims = base.claims;
  next.tokenType = tokens.token_type ?? 'Bearer';
  const login = next as unknown as LoginSession;
  // Stryker disable next-line ConditionalExpression: Object.assign with undefined changes nothing
  if (binding) Object.assign(login, binding);
  if (tokens.access_token) login.accessToken = tokens.access_token;
  if (tokens.refresh_token) login.refreshToken = tokens.refresh_token;
  if (tokens.scope) login.scope = tokens.scope;
  if (typeof tokens.expires_in === 'number') login.expiresAt = Math.floor(Date.now() / 1000) + tokens.expires_in;
  if (claims && tokens.id_token) {
    login.idToken = tokens.id_token;
    login.claims = claims;
  }
  // RFC 9396 §7: a response with authorization_details replaces what was granted; one without keeps it.
  if (tokens.authorization_details) login.authorizationDetails = tokens.authorization_details;
  return login;
}
