/**
 * lib/state/logout-records.ts on its own, against express-session's own MemoryStore: the records a
 * logout token leaves (their keys, contents and expiry), which logins they end, and the per-store cache.
 * The route and the several-instances case are in backchannel-logout.test.ts, backchannel-holds.test.ts
 * and instances.redis.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import session, { type SessionData } from 'express-session';
import { alreadyUsed, loginEnded, markUsed, recordLogout, type LoginIds } from '../lib/state/logout-records.js';
import type { LogoutClaims } from '../lib/core/model.js';

const SIGN_IN = 'https://op.example|client-1';
const HOUR = 3600_000;
const h = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

type Record = { cookie: { expires: string }; parLogout: { [key: string]: unknown } };

function memoryStore() {
  const store = new session.MemoryStore();
  const all = (): Promise<{ [id: string]: Record }> =>
    new Promise((resolve, reject) => store.all((err, sessions) => (err ? reject(err) : resolve((sessions ?? {}) as never))));
  const put = (id: string, parLogout: object) =>
    new Promise<void>((resolve) => store.set(id, { cookie: { expires: new Date(Date.now() + HOUR) }, parLogout } as unknown as SessionData, () => resolve()));
  return { store, all, put };
}

const nowS = () => Math.floor(Date.now() / 1000);
const logout = (claims: Partial<LogoutClaims>): LogoutClaims => ({ jti: 'jti-1', iat: nowS(), validUntil: nowS() + 600, ...claims });
/** No cache: every check reads the store. */
const ended = (store: session.MemoryStore, login: LoginIds) => Promise.resolve(loginEnded(store, SIGN_IN, login, -1));

describe('alreadyUsed / markUsed (§2.6 step 8)', () => {
  it('a jti is unknown until marked, then known until the token\'s end, per sign-in', async () => {
    const { store, all } = memoryStore();
    const claims = logout({ jti: 'jti-7' });
    expect(await alreadyUsed(store, SIGN_IN, claims)).toBe(false);
    expect(await all()).toEqual({}); // checking marks nothing
    await markUsed(store, SIGN_IN, claims);
    const records = await all();
    expect(Object.keys(records)).toEqual([`express-par:jti:${SIGN_IN}:${h('jti-7')}`]);
    expect(Date.parse(Object.values(records)[0]!.cookie.expires)).toBe(claims.validUntil * 1000);
    expect(await alreadyUsed(store, SIGN_IN, claims)).toBe(true);
    expect(await alreadyUsed(store, 'https://other.example|client-1', claims)).toBe(false);
  });
});

describe('recordLogout', () => {
  it('with sid: one record for that sid, T = max(iat, now), kept for the lifetime given', async () => {
    const { store, all } = memoryStore();
    const before = Date.now();
    await recordLogout(store, SIGN_IN, logout({ sub: 'alice', sid: 's-1', iat: nowS() - 100 }), HOUR);
    const records = await all();
    expect(Object.keys(records)).toEqual([`express-par:bcl-sid:${SIGN_IN}:${h('s-1')}`]);
    const record = Object.values(records)[0]!;
    expect(record.parLogout.before).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    expect(Date.parse(record.cookie.expires)).toBeGreaterThanOrEqual(before + HOUR);
    expect(Date.parse(record.cookie.expires)).toBeLessThanOrEqual(Date.now() + HOUR);
    const future = nowS() + 20; // a provider clock ahead: its iat is kept
    await recordLogout(store, SIGN_IN, logout({ sid: 's-2', iat: future }), HOUR);
    expect((await all())[`express-par:bcl-sid:${SIGN_IN}:${h('s-2')}`]!.parLogout).toEqual({ before: future });
  });

  it('with sid: ends the logins with that sid that began at or before T, not other sessions, not later logins', async () => {
    const { store } = memoryStore();
    const t = nowS();
    await recordLogout(store, SIGN_IN, logout({ sid: 's-1', iat: t }), HOUR);
    expect(await ended(store, { sub: 'alice', sid: 's-1', loginAt: t })).toBe(true);
    expect(await ended(store, { sid: 's-1', loginAt: t - 50 })).toBe(true);
    expect(await ended(store, { sub: 'alice', sid: 's-1' })).toBe(true); // unknown age: began before
    expect(await ended(store, { sub: 'alice', sid: 's-1', loginAt: t + 100 })).toBe(false);
    expect(await ended(store, { sub: 'alice', sid: 's-2', loginAt: 1 })).toBe(false);
    expect(await ended(store, { sub: 'alice', loginAt: 1 })).toBe(false);
  });

  it('with sub only: ends every login of the user that began at or before T; a later token\'s T replaces it', async () => {
    const { store, all } = memoryStore();
    const t = nowS() + 30;
    await recordLogout(store, SIGN_IN, logout({ sub: 'alice', iat: t }), HOUR);
    expect(Object.keys(await all())).toEqual([`express-par:bcl:${SIGN_IN}:${h('alice')}`]);
    expect(await ended(store, { sub: 'alice', sid: 'any', loginAt: t })).toBe(true);
    expect(await ended(store, { sub: 'alice', loginAt: t + 1 })).toBe(false);
    expect(await ended(store, { sub: 'bob', loginAt: 1 })).toBe(false);
    await recordLogout(store, SIGN_IN, logout({ sub: 'alice', iat: t + 10 }), HOUR);
    expect(await ended(store, { sub: 'alice', loginAt: t + 1 })).toBe(true);
  });

  it('writes records whole: it never reads the store (concurrent logouts cannot undo each other)', async () => {
    const { store } = memoryStore();
    store.get = () => {
      throw new Error('recordLogout must not read');
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => recordLogout(store, SIGN_IN, logout({ sub: 'alice', sid: `s-${i}` }), HOUR)));
  });
});

describe('loginEnded', () => {
  it('reads the records of the previous version: its sids list and its before', async () => {
    const { store, put } = memoryStore();
    await put(`express-par:bcl:${SIGN_IN}:${h('carol')}`, { sids: ['old-1', 'old-2'], before: 1000 });
    expect(await ended(store, { sub: 'carol', sid: 'old-2', loginAt: 5000 })).toBe(true);
    expect(await ended(store, { sub: 'carol', sid: 'new-1', loginAt: 1000 })).toBe(true);
    expect(await ended(store, { sub: 'carol', sid: 'new-1', loginAt: 1001 })).toBe(false);
  });

  it('reads nothing for a login with neither sub nor sid', async () => {
    const { store } = memoryStore();
    store.get = () => {
      throw new Error('no read expected');
    };
    expect(loginEnded(store, SIGN_IN, { loginAt: 1 }, 1000)).toBe(false);
  });

  it('answers from its cache for maxStaleness ms; the instance that records updates it at once', async () => {
    const { store, put } = memoryStore();
    let reads = 0;
    const get = store.get.bind(store);
    store.get = (id, callback) => {
      reads += 1;
      get(id, callback);
    };
    const login = { sub: 'dave', sid: 'd-1', loginAt: nowS() };
    expect(await loginEnded(store, SIGN_IN, login, 60_000)).toBe(false); // reads sub and sid records
    expect(reads).toBe(2);
    expect(loginEnded(store, SIGN_IN, login, 60_000)).toBe(false); // synchronous, from the cache
    expect(reads).toBe(2);
    // Another instance records a logout: this one sees it once its cached read is older than maxStaleness.
    await put(`express-par:bcl-sid:${SIGN_IN}:${h('d-1')}`, { before: nowS() });
    expect(loginEnded(store, SIGN_IN, login, 60_000)).toBe(false);
    expect(await loginEnded(store, SIGN_IN, login, -1)).toBe(true); // -1: the cache is never fresh enough
    // This instance records one: its cache has it at once.
    const other = { sub: 'erin', sid: 'e-1', loginAt: nowS() };
    expect(await loginEnded(store, SIGN_IN, other, 60_000)).toBe(false);
    await recordLogout(store, SIGN_IN, logout({ sub: 'erin' }), HOUR);
    const readsBefore = reads;
    expect(loginEnded(store, SIGN_IN, other, 60_000)).toBe(true);
    expect(reads).toBe(readsBefore);
  });
});
