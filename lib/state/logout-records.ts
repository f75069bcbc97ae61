/**
 * Back-channel logout (OpenID Connect Back-Channel Logout 1.0) through the express-session store itself:
 * a valid logout token is recorded under prefixed keys with an expiry, and every instance that shares the
 * store ends the matching logins on their next request. Any store works, from MemoryStore to
 * connect-redis; a store that ignores `cookie.expires` keeps the records until it is cleaned.
 *
 * Records, per sign-in (issuer and client). Each is written whole and never read, changed and written
 * back, so logouts that arrive together cannot undo each other (the store API has no compare-and-set):
 *   express-par:bcl-sid:<signIn>:<h(sid)>  { before: T }  the logins with this sid that began at or before T ended
 *   express-par:bcl:<signIn>:<h(sub)>      { before: T }  every login of this user that began at or before T ended
 *   express-par:jti:<signIn>:<h(jti)>      {}             logout tokens already used
 * T = max(iat, the time the logout is recorded), in seconds. A later login (a new authentication at the
 * provider) is not ended by an earlier record, so a provider that reuses a sid cannot cause a login loop.
 * The sub record of the previous version (same key) may also hold `sids: [...]`: those still end logins.
 *
 * Two sub-only tokens for one user recorded at once: the last write wins. Its T is at least the time it
 * was recorded, so it ends every login that began before then; the only logins it can miss began after
 * that and at or before the overwritten token's `iat` (the store's round trip, plus clock skew with the
 * provider).
 *
 * Each record is stored like a session whose `cookie.expires` is its expiry, so stores derive their TTL
 * from it. Reads are cached in this process for `maxStaleness` ms; the instance that records a logout
 * updates its own cache at once.
 */
import { createHash } from 'node:crypto';
import type { SessionData, Store } from 'express-session';
import type { LogoutClaims } from '../core/model.js';

const PREFIX = 'express-par:';
/** Cached record reads per store (oldest dropped first). */
const MAX_CACHED = 10_000;

export interface LogoutRecord {
  /** Seconds since the epoch: the logins named that began at or before it are ended. */
  before?: number;
  /** Written by the previous version: ended provider sessions of this user. */
  sids?: unknown;
}

/** What a login is known by: its ID token's `sub` and `sid`, and when it began (seconds). */
export interface LoginIds {
  sub?: string;
  sid?: string;
  loginAt?: number;
}

type Stored = SessionData & { parLogout?: LogoutRecord };

function h(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}

const subKey = (signIn: string, sub: string) => `${PREFIX}bcl:${signIn}:${h(sub)}`;
const sidKey = (signIn: string, sid: string) => `${PREFIX}bcl-sid:${signIn}:${h(sid)}`;
const jtiKey = (signIn: string, jti: string) => `${PREFIX}jti:${signIn}:${h(jti)}`;

/** The record a stored value holds; null for none (or for a value that is no record). */
function recordIn(value: unknown): LogoutRecord | null {
  return (value as Stored | null | undefined)?.parLogout ?? null;
}

function get(store: Store, id: string): Promise<LogoutRecord | null> {
  return new Promise((resolve, reject) => {
    store.get(id, (err, value) => (err ? reject(err) : resolve(recordIn(value))));
  });
}

function set(store: Store, id: string, record: LogoutRecord, expiresAtMs: number): Promise<void> {
  const cookie = { expires: new Date(expiresAtMs), originalMaxAge: Math.max(0, expiresAtMs - Date.now()) };
  const value = { cookie, parLogout: record } as unknown as SessionData;
  return new Promise((resolve, reject) => {
    store.set(id, value, (err?: unknown) => (err ? reject(err) : resolve()));
  });
}

/** Record reads of one store, by `<signIn>\n<kind>\n<value>` (no hashing on a hit): the record and when it was read. */
class RecordCache {
  private readonly entries = new Map<string, { record: LogoutRecord | null; at: number }>();

  /** The record read no more than `maxStaleness` ms ago; undefined when there is none that fresh. */
  fresh(key: string, now: number, maxStaleness: number): LogoutRecord | null | undefined {
    const entry = this.entries.get(key);
    return entry && now - entry.at <= maxStaleness ? entry.record : undefined;
  }

  /**
   * Keeps a record read (or, `written`, recorded) at `at`. A read never replaces an entry as new as it: a
   * read that began before this instance recorded a logout may have missed it.
   */
  put(key: string, record: LogoutRecord | null, at: number, written = false): void {
    const entry = this.entries.get(key);
    if (!written && entry && entry.at >= at) return;
    this.entries.delete(key);
    if (this.entries.size >= MAX_CACHED) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { record, at });
  }
}

const caches = new WeakMap<Store, RecordCache>();

function cacheOf(store: Store): RecordCache {
  let cache = caches.get(store);
  if (!cache) {
    cache = new RecordCache();
    caches.set(store, cache);
  }
  return cache;
}

/** A logout token was used before (§2.6 step 8: `jti` unique within the token's lifetime). */
export async function alreadyUsed(store: Store, signIn: string, claims: LogoutClaims): Promise<boolean> {
  return (await get(store, jtiKey(signIn, claims.jti))) !== null;
}

/** Marks the token used until it ends, only once the logout is recorded: a failed delivery can be retried (§2.8). */
export function markUsed(store: Store, signIn: string, claims: LogoutClaims): Promise<void> {
  return set(store, jtiKey(signIn, claims.jti), {}, claims.validUntil * 1000);
}

/**
 * Records the logout for `lifetime` ms: with `sid`, the logins with that sid; with `sub` only, every login
 * of the user. Idempotent: the same token recorded twice writes the same kind of record.
 */
export async function recordLogout(
  store: Store,
  signIn: string,
  claims: LogoutClaims,
  lifetime: number,
): Promise<void> {
  const now = Date.now();
  const record: LogoutRecord = { before: Math.max(claims.iat, Math.floor(now / 1000)) };
  const { sid, sub } = claims;
  const [key, cacheKey] = sid
    ? [sidKey(signIn, sid), `${signIn}\ns\n${sid}`]
    : [subKey(signIn, sub!), `${signIn}\nu\n${sub!}`];
  await set(store, key, record, now + lifetime);
  cacheOf(store).put(cacheKey, record, now, true);
}

function ends(bySub: LogoutRecord | null, bySid: LogoutRecord | null, login: LoginIds): boolean {
  const began = typeof login.loginAt === 'number' ? login.loginAt : 0; // a login of unknown age began before any record
  if (bySid && typeof bySid.before === 'number' && began <= bySid.before) return true;
  if (!bySub) return false;
  if (login.sid !== undefined && Array.isArray(bySub.sids) && bySub.sids.includes(login.sid)) return true;
  return typeof bySub.before === 'number' && began <= bySub.before;
}

/**
 * Whether a recorded logout ends this login: a boolean when the records read no more than `staleness`
 * ms ago answer it, else a promise (the login's sub and sid records are read in parallel).
 */
export function loginEnded(
  store: Store,
  signIn: string,
  login: LoginIds,
  staleness: number,
): boolean | Promise<boolean> {
  const cache = cacheOf(store);
  const now = Date.now();
  const subCacheKey = login.sub === undefined ? '' : `${signIn}\nu\n${login.sub}`;
  const sidCacheKey = login.sid === undefined ? '' : `${signIn}\ns\n${login.sid}`;
  const bySub = login.sub === undefined ? null : cache.fresh(subCacheKey, now, staleness);
  const bySid = login.sid === undefined ? null : cache.fresh(sidCacheKey, now, staleness);
  if (bySub !== undefined && bySid !== undefined) return ends(bySub, bySid, login);
  const read = async (cacheKey: string, key: string) => {
    const record = await get(store, key);
    cache.put(cacheKey, record, now);
    return record;
  };
  return Promise.all([
    bySub === undefined ? read(subCacheKey, subKey(signIn, login.sub!)) : bySub,
    bySid === undefined ? read(sidCacheKey, sidKey(signIn, login.sid!)) : bySid,
  ]).then(([sub, sid]) => ends(sub, sid, login));
}
