/**
 * lib/plumbing/backchannel-logout.ts on its own, against express-session's own MemoryStore: the records a
 * logout token leaves (their keys, contents and expiry) and which logins they end. The route and the
 * several-instances case are in backchannel-logout.test.ts and instances.redis.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import session from 'express-session';
import { loginEnded, recordLogout, rememberSid, replayed } from '../lib/plumbing/backchannel-logout.js';
import type { LogoutClaims } from '../lib/protocol/logout-token.js';
import type { LoginSession } from '../lib/plumbing/types.js';

const SIGN_IN = 'https://op.example|client-1';
const HOUR = 3600_000;
const h = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

function memoryStore() {
  const store = new session.MemoryStore();
  const all = (): Promise<Record<string, { cookie: { expires: string }; parLogout: Record<string, unknown> }>> =>
    new Promise((resolve, reject) => store.all((err, sessions) => (err ? reject(err) : resolve((sessions ?? {}) as never))));
  return { store, all };
}

const logout = (claims: Partial<LogoutClaims>): LogoutClaims => ({ jti: 'jti-1', iat: 1000, validUntil: Math.floor(Date.now() / 1000) + 600, ...claims });
const login = (claims: Record<string, unknown>, loginAt?: number): LoginSession => ({ idToken: 'x.y.z', claims, ...(loginAt === undefined ? {} : { loginAt }) }) as unknown as LoginSession;

describe('rememberSid', () => {
  it('records whose session a sid is, under a hashed key per sign-in, until the login lifetime ends', async () => {
    const { store, all } = memoryStore();
    const before = Date.now();
    await rememberSid(store, SIGN_IN, { sid: 'op-sid-1', sub: 'alice' }, HOUR);
    const records = await all();
    expect(Object.keys(records)).toEqual([`express-par:sid:${SIGN_IN}:${h('op-sid-1')}`]);
    const record = Object.values(records)[0]!;
    expect(record.parLogout).toEqual({ sub: 'alice' });
    expect(Date.parse(record.cookie.expires)).toBeGreaterThanOrEqual(before + HOUR - 1000);
    expect(Date.parse(record.cookie.expires)).toBeLessThanOrEqual(Date.now() + HOUR);
  });

  it.each([
    ['no sid', { sub: 'alice' }],
    ['no sub', { sid: 'op-sid-1' }],
    ['a numeric sid', { sid: 1, sub: 'alice' }],
  ])('records nothing for a login with %s', async (_name, claims) => {
    const { store, all } = memoryStore();
    await rememberSid(store, SIGN_IN, claims, HOUR);
    expect(await all()).toEqual({});
  });
});

describe('replayed (§2.6 step 8)', () => {
  it('is false the first time, records the jti until the token\'s end, and is true after', async () => {
    const { store, all } = memoryStore();
    const claims = logout({ jti: 'jti-7' });
    expect(await replayed(store, SIGN_IN, claims)).toBe(false);
    const records = await all();
    expect(Object.keys(records)).toEqual([`express-par:jti:${SIGN_IN}:${h('jti-7')}`]);
    expect(Date.parse(Object.values(records)[0]!.cookie.expires)).toBe(claims.validUntil * 1000);
    expect(await replayed(store, SIGN_IN, claims)).toBe(true);
    expect(await replayed(store, 'https://other.example|client-1', claims)).toBe(false);
  });
});

describe('recordLogout', () => {
  it('with sub only: ends the user\'s logins that began at or before the token\'s iat (the latest iat wins)', async () => {
    const { store, all } = memoryStore();
    expect(await recordLogout(store, SIGN_IN, logout({ sub: 'alice', iat: 2000 }), HOUR)).toBe(true);
    await recordLogout(store, SIGN_IN, logout({ sub: 'alice', iat: 1500 }), HOUR);
    const records = await all();
    expect(Object.keys(records)).toEqual([`express-par:bcl:${SIGN_IN}:${h('alice')}`]);
    expect(Object.values(records)[0]!.parLogout).toEqual({ before: 2000 });
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'alice' }, 2000))).toBe(true);
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'alice' }, 2001))).toBe(false);
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'alice' }))).toBe(true); // a login without loginAt began before
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'bob' }, 1))).toBe(false);
  });

  it('with sid: ends that session only; the same sid once; the latest 50 kept', async () => {
    const { store, all } = memoryStore();
    expect(await recordLogout(store, SIGN_IN, logout({ sub: 'alice', sid: 's-1' }), HOUR)).toBe(true);
    await recordLogout(store, SIGN_IN, logout({ sub: 'alice', sid: 's-1' }), HOUR);
    expect(Object.values(await all())[0]!.parLogout).toEqual({ sids: ['s-1'] });
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'alice', sid: 's-1' }, 1))).toBe(true);
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'alice', sid: 's-2' }, 1))).toBe(false);
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'alice' }, 1))).toBe(false);
    for (let i = 2; i <= 51; i++) await recordLogout(store, SIGN_IN, logout({ sub: 'alice', sid: `s-${i}` }), HOUR);
    const sids = (Object.values(await all())[0]!.parLogout.sids as string[]);
    expect(sids).toHaveLength(50);
    expect(sids[0]).toBe('s-2');
    expect(sids[49]).toBe('s-51');
    // s-1 is again the newest when it comes again
    await recordLogout(store, SIGN_IN, logout({ sub: 'alice', sid: 's-10' }), HOUR);
    const again = (Object.values(await all())[0]!.parLogout.sids as string[]);
    expect(again.at(-1)).toBe('s-10');
    expect(again.filter((s) => s === 's-10')).toHaveLength(1);
  });

  it('with sid only: finds the user through the sid recorded at login; an unknown sid ends nothing', async () => {
    const { store, all } = memoryStore();
    expect(await recordLogout(store, SIGN_IN, logout({ sid: 'unknown' }), HOUR)).toBe(false);
    expect(await all()).toEqual({});
    await rememberSid(store, SIGN_IN, { sid: 's-9', sub: 'carol' }, HOUR);
    expect(await recordLogout(store, SIGN_IN, logout({ sid: 's-9' }), HOUR)).toBe(true);
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'carol', sid: 's-9' }, 1))).toBe(true);
    expect(await loginEnded(store, SIGN_IN, login({ sub: 'carol', sid: 's-8' }, 1))).toBe(false);
  });

  it('loginEnded reads nothing for a login without a string sub', async () => {
    const { store } = memoryStore();
    await recordLogout(store, SIGN_IN, logout({ sub: 'alice', iat: 2000 }), HOUR);
    expect(await loginEnded(store, SIGN_IN, login({ sub: 42 }, 1))).toBe(false);
  });
});
