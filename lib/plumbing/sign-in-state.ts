/**
 * Where express-par keeps its state in `req.session`: one entry per sign-in, keyed by its (issuer,
 * client), so two `parAuth()` mounts (or strategies) on one app never read each other's login or pending
 * transactions, and one issuer's tokens are never sent to another (contract: "Several sign-ins on one
 * app"; RFC 9700 §4.4 keeps the same separation against mix-up).
 *
 *   req.session.par = { [signInKey]: { login?: LoginSession, pending?: { [state]: StoredTransaction }, silentAttempted?: true } }
 */
import { createHash } from 'node:crypto';
import type { RequestWithSession } from '../core/model.js';
import type { StoredTransaction } from './transactions.js';
import type { LoginSession } from '../core/types.js';
import { copyFields } from './login-session.js';

const TOKEN_CLAIMS: ReadonlySet<string> = new Set(['claims']);
const NOTHING: ReadonlySet<string> = new Set();

export interface SignInState {
  /** The completed login of this sign-in. */
  login?: LoginSession;
  /** Pending logins (one per tab), keyed by `state`. */
  pending?: Record<string, StoredTransaction>;
  /** attemptSilentLogin() ran once in this session for this sign-in (kept across login and logout). */
  silentAttempted?: boolean;
}

export type SessionSignIns = Record<string, SignInState>;

/** A short, stable key for an (issuer, client_id) pair: 66 bits of SHA-256, base64url. */
export function signInKey(issuer: string, clientID: string): string {
  return createHash('sha256').update(`${issuer}\n${clientID}`).digest('base64url').slice(0, 11);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every sign-in's state in this session; a malformed value (a tampered store) reads as none. */
export function signIns(req: { session?: unknown }): SessionSignIns | undefined {
  const all = (req.session as { par?: unknown } | undefined)?.par;
  return isRecord(all) ? (all as SessionSignIns) : undefined;
}

/** This sign-in's state, or undefined. */
export function readSignIn(req: { session?: unknown }, key: string): SignInState | undefined {
  const all = signIns(req);
  const state = all && Object.hasOwn(all, key) ? all[key] : undefined;
  return isRecord(state) ? state : undefined;
}

/** This sign-in's state, created when missing. */
export function ensureSignIn(req: RequestWithSession, key: string): SignInState {
  let all = signIns(req);
  if (!all) {
    all = {};
    req.session.par = all;
  }
  let state = readSignIn(req, key);
  if (!state) {
    state = {};
    all[key] = state;
  }
  return state;
}

/** A login as the session holds it: `claims` only when they differ from the ID token's (storeLogin). */
export type StoredLogin = { [K in keyof LoginSession as Exclude<K, 'claims'>]: LoginSession[K] } & { claims?: Record<string, unknown> };

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
  if (login && !Object.hasOwn(login, 'claims')) tokenClaims(login as LoginSession, payloadOf(login.idToken));
  return login as LoginSession | undefined;
}

/**
 * The payload of the login's ID token as the provider issued it (validated when received), whatever
 * claims an afterCallback shaped: what names the login (`sub`, `sid`) and what a refreshed ID token is
 * compared with (OpenID Connect Core §12.2). Not parsed again when the login's claims are the token's own.
 */
export function idTokenPayload(login: StoredLogin): Record<string, unknown> {
  if (!Object.hasOwn(login, 'claims')) tokenClaims(login as LoginSession, payloadOf(login.idToken));
  // enumerable: shaped by afterCallback, or a copy (withTokens)
  else if (Object.prototype.propertyIsEnumerable.call(login, 'claims')) return payloadOf(login.idToken) ?? {};
  return login.claims!; // non-enumerable: the token's own payload (tokenClaims)
}

/**
 * Stores the login. The session budget: when its claims are the ID token's own (validated when the token
 * was received, and not reshaped by afterCallback), they are not stored twice but read back from the
 * stored ID token when asked for.
 */
export function storeLogin(req: RequestWithSession, key: string, login: LoginSession, options: { claimsFromIdToken?: boolean } = {}): void {
  // claimsFromIdToken: the caller knows login.claims is the validated ID token's payload as it came.
  const payload = options.claimsFromIdToken && isRecord(login.claims) ? login.claims : payloadOf(login.idToken);
  const fromToken = login.claims === undefined || payload === login.claims || JSON.stringify(login.claims) === JSON.stringify(payload);
  // copyFields leaves the claims out when they are the token's: deleting them from a spread copy left the
  // stored login in V8's dictionary mode, which express-session's change check and the store then
  // serialised on their slow path.
  const stored = copyFields(login, fromToken ? TOKEN_CLAIMS : NOTHING) as unknown as LoginSession;
  if (fromToken) tokenClaims(stored, payload);
  ensureSignIn(req, key).login = stored;
}

/** The JWT's payload (its signature was checked when it was received); undefined when it is not one. */
function payloadOf(jwt: string): Record<string, unknown> | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return isRecord(payload) ? payload : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `login.claims` = the ID token's payload, not enumerable, so never saved into the session (nor seen by
 * express-session's change detection). One plain defineProperty: this runs on every authenticated
 * request, where a lazy accessor (closures, then redefining it as data) was measurable on the page path.
 */
function tokenClaims(login: LoginSession, payload: Record<string, unknown> | undefined): void {
  Object.defineProperty(login, 'claims', { value: payload ?? {}, writable: true, enumerable: false, configurable: true });
}

/** Ends this sign-in's login; its pending transactions and other sign-ins stay. */
export function clearLogin(req: { session?: unknown }, key: string): boolean {
  const state = readSignIn(req, key);
  if (!state?.login) return false;
  delete state.login;
  dropIfEmpty(req, key);
  return true;
}

function dropIfEmpty(req: { session?: unknown }, key: string): void {
  const all = signIns(req);
  const state = all?.[key];
  if (!all || !state) return;
  if (!state.login && !state.silentAttempted && (!state.pending || Object.keys(state.pending).length === 0)) delete all[key];
  if (Object.keys(all).length === 0) delete (req.session as { par?: unknown }).par;
}

/** Whether attemptSilentLogin() already ran for this sign-in in this session. */
export function silentAttempted(req: { session?: unknown }, key: string): boolean {
  return readSignIn(req, key)?.silentAttempted === true;
}

/** Remembers, before the redirect, that attemptSilentLogin() ran: once per session, never a loop. */
export function markSilentAttempted(req: RequestWithSession, key: string): void {
  ensureSignIn(req, key).silentAttempted = true;
}

/** Whether any sign-in of this session holds a completed login. */
export function hasAnyLogin(req: { session?: unknown }): boolean {
  const all = signIns(req);
  return !!all && Object.values(all).some((state) => isRecord(state) && isRecord(state.login));
}

/**
 * A copy of what must survive `session.regenerate()` (session fixation, at login and logout): every
 * other sign-in's state, and this sign-in's pending transactions (other tabs) and silent-login mark (so
 * logging out never triggers a silent login back in); not this sign-in's login.
 */
export function carryOver(req: { session?: unknown }, key: string): SessionSignIns | undefined {
  const all = signIns(req);
  if (!all) return undefined;
  const out: SessionSignIns = {};
  for (const [name, state] of Object.entries(all)) {
    if (!isRecord(state)) continue;
    if (name !== key) out[name] = state;
    else {
      const kept: SignInState = {};
      if (isRecord(state.pending) && Object.keys(state.pending).length > 0) kept.pending = state.pending as Record<string, StoredTransaction>;
      if (state.silentAttempted === true) kept.silentAttempted = true;
      if (Object.keys(kept).length > 0) out[name] = kept;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
