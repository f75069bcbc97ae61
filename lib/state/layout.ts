/**
 * Where express-par keeps its state in `req.session`: one entry per sign-in, keyed by its (issuer,
 * client), so two `parAuth()` mounts (or strategies) on one app never read each other's login or pending
 * transactions, and one issuer's tokens are never sent to another (contract: "Several sign-ins on one
 * app"; RFC 9700 §4.4 keeps the same separation against mix-up).
 *
 *   req.session.par = {
 *     [signInKey]: { login?: StoredLogin, pending?: { [state]: StoredTransaction }, silentAttempted?: true }
 *   }
 *
 * The login is login.ts's to read and write, the pending logins transactions.ts's; this module knows the
 * layout, the silent-login mark, and what survives a new session id. Whatever the store hands back is
 * untrusted: a malformed value reads as none.
 */
import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import { isRecord } from '../core/assert.js';
import type { RequestWithSession } from '../core/model.js';
import type { LoginSession } from '../core/types.js';

export interface SignInState {
  /** The completed login of this sign-in (login.ts). */
  login?: LoginSession;
  /** Pending logins (one per tab), keyed by `state` (transactions.ts). */
  pending?: Record<string, StoredTransaction>;
  /** attemptSilentLogin() ran once in this session for this sign-in (kept across login and logout). */
  silentAttempted?: boolean;
}

export type SessionSignIns = Record<string, SignInState>;

/**
 * A pending login as the session keeps it, written and read by transactions.ts only (the session budget:
 * sessions live in Redis and their cookie comes back on every request). The state is the key, not repeated;
 * the redirect_uri is kept as a short digest, which is all the callback compares; `returnTo` `/` is left out.
 */
export interface StoredTransaction {
  /** nonce */
  n: string;
  /** PKCE code_verifier */
  v: string;
  /** returnTo, when not `/` */
  r?: string;
  /** digest of the redirect_uri */
  u: string;
  /** createdAt (ms since the epoch) */
  t: number;
  /** max_age */
  m?: number;
  /** acr_values asked for by this login (space-separated) */
  a?: string;
  /** max_age was asked for by this login (a requirement, not only configured) */
  q?: 1;
  /** a requiresAuth() step-up */
  p?: 1;
  /** silent */
  s?: 1;
  /** DPoP private JWK */
  k?: JWK;
  /** the types of the authorization_details pushed (RFC 9396) */
  d?: string[];
  /** the app's state (auth()'s getLoginState) */
  g?: Record<string, unknown>;
}

type SessionHolder = { session?: unknown };

/** A short, stable key for an (issuer, client_id) pair: 66 bits of SHA-256, base64url. */
export function signInKey(issuer: string, clientID: string): string {
  return createHash('sha256').update(`${issuer}\n${clientID}`).digest('base64url').slice(0, 11);
}

/** Every sign-in's state in this session; a malformed value (a tampered store) reads as none. */
export function signIns(req: SessionHolder): SessionSignIns | undefined {
  const all = (req.session as { par?: unknown } | undefined)?.par;
  return isRecord(all) ? (all as SessionSignIns) : undefined;
}

/** This sign-in's state, or undefined. */
export function readSignIn(req: SessionHolder, key: string): SignInState | undefined {
  const all = signIns(req);
  const state = all && Object.hasOwn(all, key) ? all[key] : undefined;
  return isRecord(state) ? state : undefined;
}

/** This sign-in's state, created when missing. */
export function ensureSignIn(req: RequestWithSession, key: string): SignInState {
  let all = signIns(req);
  if (!all) {
    all = {};
    (req.session as { par?: SessionSignIns }).par = all;
  }
  let state = readSignIn(req, key);
  if (!state) {
    state = {};
    all[key] = state;
  }
  return state;
}

/** Removes this sign-in's entry once it holds nothing, and `par` once no sign-in is left. */
export function dropIfEmpty(req: SessionHolder, key: string): void {
  const all = signIns(req);
  const state = all?.[key];
  if (!all || !state) return;
  const pending = state.pending && Object.keys(state.pending).length > 0;
  if (!state.login && !state.silentAttempted && !pending) delete all[key];
  if (Object.keys(all).length === 0) delete (req.session as { par?: unknown }).par;
}

/** Whether attemptSilentLogin() already ran for this sign-in in this session. */
export function silentAttempted(req: SessionHolder, key: string): boolean {
  return readSignIn(req, key)?.silentAttempted === true;
}

/** Remembers, before the redirect, that attemptSilentLogin() ran: once per session, never a loop. */
export function markSilentAttempted(req: RequestWithSession, key: string): void {
  ensureSignIn(req, key).silentAttempted = true;
}

/** Whether any sign-in of this session holds a completed login. */
export function hasAnyLogin(req: SessionHolder): boolean {
  const all = signIns(req);
  return !!all && Object.values(all).some((state) => isRecord(state) && isRecord(state.login));
}

/**
 * A copy of what must survive `session.regenerate()` (session fixation, at login and logout): every
 * other sign-in's state, and this sign-in's pending transactions (other tabs) and silent-login mark (so
 * logging out never triggers a silent login back in); not this sign-in's login.
 */
export function carryOver(req: SessionHolder, key: string): SessionSignIns | undefined {
  const all = signIns(req);
  if (!all) return undefined;
  const out: SessionSignIns = {};
  for (const [name, state] of Object.entries(all)) {
    if (!isRecord(state)) continue;
    if (name !== key) out[name] = state;
    else {
      const kept: SignInState = {};
      if (isRecord(state.pending) && Object.keys(state.pending).length > 0) {
        kept.pending = state.pending as Record<string, StoredTransaction>;
      }
      if (state.silentAttempted === true) kept.silentAttempted = true;
      if (Object.keys(kept).length > 0) out[name] = kept;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Puts what carryOver() kept into the (new) session. */
export function restoreSignIns(req: RequestWithSession, kept: SessionSignIns | undefined): void {
  if (kept) (req.session as { par?: SessionSignIns }).par = kept;
}
