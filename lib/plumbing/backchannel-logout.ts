/**
 * Back-channel logout (OpenID Connect Back-Channel Logout 1.0) through the express-session store itself:
 * a valid logout token is recorded under prefixed keys with an expiry, and every instance that shares the
 * store ends the matching logins on their next request. Any store works, from MemoryStore to
 * connect-redis; a store that ignores `cookie.expires` keeps the records until it is cleaned.
 *
 * Records, per sign-in (issuer and client):
 *   express-par:bcl:<signIn>:<h(sub)>  { sids: [...] , before?: iat }  ended sessions of that user
 *   express-par:sid:<signIn>:<h(sid)>  { sub }                        written at login, for sid-only tokens
 *   express-par:jti:<signIn>:<h(jti)>  {}                             logout tokens already used
 * Each is stored like a session whose `cookie.expires` is the record's expiry, so stores derive their TTL
 * from it. An authenticated request costs one store read (the user's record); nothing when the option is off.
 */
import { createHash } from 'node:crypto';
import type { SessionData, Store } from 'express-session';
import type { LogoutClaims } from '../protocol/logout-token.js';
import type { LoginSession } from './types.js';

const PREFIX = 'express-par:';
/** How many ended session ids one user's record keeps. */
const MAX_SIDS = 50;

interface LogoutRecord {
  sids?: string[];
  /** Seconds since the epoch: logins of this user that began at or before it are ended. */
  before?: number;
  sub?: string;
}

type Stored = SessionData & { parLogout?: LogoutRecord };

function h(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}

const subKey = (signIn: string, sub: string) => `${PREFIX}bcl:${signIn}:${h(sub)}`;
const sidKey = (signIn: string, sid: string) => `${PREFIX}sid:${signIn}:${h(sid)}`;
const jtiKey = (signIn: string, jti: string) => `${PREFIX}jti:${signIn}:${h(jti)}`;

function get(store: Store, id: string): Promise<LogoutRecord | undefined> {
  return new Promise((resolve, reject) => {
    store.get(id, (err, value) => (err ? reject(err) : resolve((value as Stored | null | undefined)?.parLogout)));
  });
}

function set(store: Store, id: string, record: LogoutRecord, expiresAtMs: number): Promise<void> {
  const value = { cookie: { expires: new Date(expiresAtMs), originalMaxAge: Math.max(0, expiresAtMs - Date.now()) }, parLogout: record } as unknown as SessionData;
  return new Promise((resolve, reject) => {
    store.set(id, value, (err?: unknown) => (err ? reject(err) : resolve()));
  });
}

/** A login of this sign-in began: remember which user a `sid` belongs to, for logout tokens that carry only `sid`. */
export async function rememberSid(store: Store, signIn: string, claims: Record<string, unknown>, lifetimeMs: number): Promise<void> {
  if (typeof claims.sid !== 'string' || typeof claims.sub !== 'string') return;
  await set(store, sidKey(signIn, claims.sid), { sub: claims.sub }, Date.now() + lifetimeMs);
}

/**
 * A logout token was used before (§2.6 step 8: `jti` unique within the token's lifetime). Reads, then
 * records it until the token's end; two copies arriving in the same instant could both pass.
 */
export async function replayed(store: Store, signIn: string, claims: LogoutClaims): Promise<boolean> {
  const key = jtiKey(signIn, claims.jti);
  if (await get(store, key)) return true;
  await set(store, key, {}, claims.validUntil * 1000);
  return false;
}

/**
 * Records the logout: with `sid`, that session of the user ends; with `sub` only, every login of the user
 * that began before the token was issued. A `sid` whose user this store never saw ends nothing.
 */
export async function recordLogout(store: Store, signIn: string, claims: LogoutClaims, lifetimeMs: number): Promise<boolean> {
  const sub = claims.sub ?? (claims.sid ? (await get(store, sidKey(signIn, claims.sid)))?.sub : undefined);
  if (!sub) return false;
  const key = subKey(signIn, sub);
  const record = (await get(store, key)) ?? {};
  if (claims.sid) record.sids = [...(record.sids ?? []).filter((sid) => sid !== claims.sid), claims.sid].slice(-MAX_SIDS);
  else record.before = Math.max(record.before ?? 0, claims.iat);
  await set(store, key, record, Date.now() + lifetimeMs);
  return true;
}

/** Whether a back-channel logout recorded in the store has ended this login (one store read). */
export async function loginEnded(store: Store, signIn: string, login: LoginSession): Promise<boolean> {
  const sub = login.claims.sub;
  if (typeof sub !== 'string') return false;
  const record = await get(store, subKey(signIn, sub));
  if (!record) return false;
  const sid = login.claims.sid;
  // Stryker disable next-line ConditionalExpression: the typeof is for the type; includes(undefined) is false for a list of sids
  if (typeof sid === 'string' && record.sids?.includes(sid)) return true;
  const began = typeof login.loginAt === 'number' ? login.loginAt : 0;
  // Stryker disable next-line ConditionalExpression: the undefined check is for the type; a number <= undefined is false
  return record.before !== undefined && began <= record.before;
}
