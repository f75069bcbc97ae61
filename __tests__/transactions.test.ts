/**
 * lib/state/transactions.ts with the clock injected: single use, at most 10 pending (the newest), 15 minutes
 * each, a tampered store survived. The numbers are the README's, stated here rather than imported.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { countTransactions, redirectDigest, saveTransaction, takeTransaction } from '../lib/state/transactions.js';
import type { RequestWithSession, Transaction } from '../lib/core/model.js';
import { carryOver, type StoredTransaction } from '../lib/state/layout.js';

const MAX_PENDING_TRANSACTIONS = 10;
const TRANSACTION_TTL_MS = 15 * 60 * 1000;
const T0 = 1_700_000_000_000;

const fakeReq = () => ({ session: {} }) as unknown as RequestWithSession;
/** A state of the issued format (43 base64url characters), distinct per number. */
const stateOf = (i: number) => `s${String(i).padStart(42, '0')}`;
const tx = (state: string, createdAt: number): Transaction => ({ state, nonce: 'n', codeVerifier: 'v'.repeat(43), returnTo: '/', redirectUri: 'https://app.example/callback', createdAt });
const KEY = 'sign-in-key';
const REDIRECT = 'https://app.example/callback';
const stored = (req: RequestWithSession) => req.session.par![KEY]!.pending as Record<string, StoredTransaction>;
/** A transaction as the session keeps it (state as the key). */
const storedOf = (t: Transaction): StoredTransaction => ({ n: t.nonce, v: t.codeVerifier, u: redirectDigest(t.redirectUri), t: t.createdAt });
const tamper = (req: RequestWithSession, pending: unknown) => {
  (req.session as unknown as Record<string, unknown>).par = { [KEY]: { pending } };
};

describe('single use', () => {
  it('returns a transaction once, then never again', () => {
    const req = fakeReq();
    const t = tx(stateOf(1), T0);
    saveTransaction(req, KEY, t, T0);
    expect(takeTransaction(req, KEY, t.state, REDIRECT, T0 + 1000)).toEqual(t);
    expect(takeTransaction(req, KEY, t.state, REDIRECT, T0 + 1000)).toBeUndefined();
    expect(countTransactions(req, KEY)).toBe(0);
  });

  it('takes only the transaction asked for', () => {
    const req = fakeReq();
    saveTransaction(req, KEY, tx(stateOf(1), T0), T0);
    saveTransaction(req, KEY, tx(stateOf(2), T0 + 1), T0 + 1);
    expect(takeTransaction(req, KEY, stateOf(2), REDIRECT, T0 + 2)?.state).toBe(stateOf(2));
    expect(Object.keys(stored(req))).toEqual([stateOf(1)]);
  });

  it('uses the machine clock when none is injected', () => {
    const req = fakeReq();
    saveTransaction(req, KEY, tx(stateOf(1), Date.now()));
    expect(takeTransaction(req, KEY, stateOf(1), REDIRECT)?.state).toBe(stateOf(1));
    saveTransaction(req, KEY, tx(stateOf(2), Date.now() - TRANSACTION_TTL_MS));
    expect(takeTransaction(req, KEY, stateOf(2), REDIRECT)).toBeUndefined();
  });
});

describe('at most 10 pending, the newest kept', () => {
  it('keeps the newest 10 of 1,000 logins', () => {
    const req = fakeReq();
    for (let i = 0; i < 1000; i++) saveTransaction(req, KEY, tx(stateOf(i), T0 + i), T0 + i);
    expect(countTransactions(req, KEY)).toBe(MAX_PENDING_TRANSACTIONS);
    expect(Object.keys(stored(req))).toEqual(Array.from({ length: 10 }, (_, k) => stateOf(990 + k)));
  });

  it('evicts the oldest by creation time, whatever order the store lists them in', () => {
    const req = fakeReq();
    const listed: Record<string, StoredTransaction> = {};
    for (const i of [5, 0, 9, 3, 7, 1, 8, 2, 6, 4]) listed[stateOf(i)] = storedOf(tx(stateOf(i), T0 + i));
    tamper(req, listed);
    saveTransaction(req, KEY, tx(stateOf(10), T0 + 10), T0 + 10);
    expect(Object.keys(stored(req)).sort()).toEqual(Array.from({ length: 10 }, (_, k) => stateOf(k + 1)).sort());
  });

  it('holds 10 after the 10th login and still 10 after the 11th', () => {
    const req = fakeReq();
    for (let i = 0; i < 10; i++) saveTransaction(req, KEY, tx(stateOf(i), T0 + i), T0 + i);
    expect(countTransactions(req, KEY)).toBe(10);
    expect(takeTransaction(req, KEY, stateOf(0), REDIRECT, T0 + 20)).toBeDefined();
    saveTransaction(req, KEY, tx(stateOf(0), T0), T0 + 21);
    saveTransaction(req, KEY, tx(stateOf(10), T0 + 10), T0 + 22);
    expect(countTransactions(req, KEY)).toBe(10);
    expect(takeTransaction(req, KEY, stateOf(0), REDIRECT, T0 + 23)).toBeUndefined();
  });
});

describe('15 minutes each', () => {
  it('returns a transaction 1 ms before 15 minutes, not at 15 minutes', () => {
    const req = fakeReq();
    saveTransaction(req, KEY, tx(stateOf(1), T0), T0);
    saveTransaction(req, KEY, tx(stateOf(2), T0), T0);
    expect(takeTransaction(req, KEY, stateOf(1), REDIRECT, T0 + TRANSACTION_TTL_MS - 1)?.state).toBe(stateOf(1));
    expect(takeTransaction(req, KEY, stateOf(2), REDIRECT, T0 + TRANSACTION_TTL_MS)).toBeUndefined();
  });

  it('drops expired transactions when a login starts, keeping one 1 ms younger than 15 minutes', () => {
    const req = fakeReq();
    saveTransaction(req, KEY, tx(stateOf(1), T0), T0);
    saveTransaction(req, KEY, tx(stateOf(2), T0 + 1), T0 + 1);
    saveTransaction(req, KEY, tx(stateOf(3), T0 + TRANSACTION_TTL_MS), T0 + TRANSACTION_TTL_MS);
    expect(Object.keys(stored(req)).sort()).toEqual([stateOf(2), stateOf(3)]);
  });

  it('drops expired transactions when a callback takes another one', () => {
    const req = fakeReq();
    saveTransaction(req, KEY, tx(stateOf(1), T0), T0);
    saveTransaction(req, KEY, tx(stateOf(2), T0 + TRANSACTION_TTL_MS - 1), T0 + TRANSACTION_TTL_MS - 1);
    expect(takeTransaction(req, KEY, stateOf(2), REDIRECT, T0 + TRANSACTION_TTL_MS)).toBeDefined();
    expect(countTransactions(req, KEY)).toBe(0);
  });

  it('keeps a transaction up to 60 s in the future (clock skew between instances), not beyond', () => {
    const req = fakeReq();
    saveTransaction(req, KEY, tx(stateOf(1), T0 + 60_000), T0);
    saveTransaction(req, KEY, tx(stateOf(2), T0 + 60_001), T0);
    saveTransaction(req, KEY, tx(stateOf(3), T0), T0);
    expect(Object.keys(stored(req)).sort()).toEqual([stateOf(1), stateOf(3)]);
  });
});

describe('a tampered store', () => {
  it.each<[string, unknown]>([
    ['a string', 'oops'],
    ['an array', ['a']],
    ['null', null],
    ['a number', 42],
    ['true', true],
  ])('is replaced when it is %s', (_name, junk) => {
    const req = fakeReq();
    tamper(req, junk);
    expect(takeTransaction(req, KEY, stateOf(1), REDIRECT, T0)).toBeUndefined();
    saveTransaction(req, KEY, tx(stateOf(3), T0), T0);
    expect(takeTransaction(req, KEY, stateOf(3), REDIRECT, T0)?.state).toBe(stateOf(3));
  });

  it('drops entries that are not transactions', () => {
    const req = fakeReq();
    tamper(req, {
      [stateOf(1)]: { state: stateOf(1), createdAt: T0 },
      [stateOf(4)]: null,
      [stateOf(5)]: { ...storedOf(tx(stateOf(5), T0)), t: String(T0) },
      [stateOf(6)]: storedOf(tx(stateOf(6), T0)),
    });
    saveTransaction(req, KEY, tx(stateOf(3), T0), T0);
    expect(Object.keys(stored(req)).sort()).toEqual([stateOf(3), stateOf(6)]);
  });

  it('never returns an entry of another redirect_uri, without a numeric start time, without a verifier, or under a malformed name', () => {
    for (const [key, entry] of [
      [stateOf(1), storedOf({ ...tx(stateOf(1), T0), redirectUri: 'https://app.example/other/callback' })],
      [stateOf(1), { ...storedOf(tx(stateOf(1), T0)), t: String(T0) }],
      [stateOf(1), { ...storedOf(tx(stateOf(1), T0)), v: undefined }],
      [stateOf(1), { ...storedOf(tx(stateOf(1), T0)), n: undefined }],
      ['short', storedOf(tx('short', T0))],
      [`!${stateOf(1)}`, storedOf(tx(`!${stateOf(1)}`, T0))],
      [`${stateOf(1)}!`, storedOf(tx(`${stateOf(1)}!`, T0))],
    ] as Array<[string, unknown]>) {
      const req = fakeReq();
      tamper(req, { [key]: entry });
      expect(takeTransaction(req, KEY, key, REDIRECT, T0 + 1)).toBeUndefined();
    }
  });

  it('refuses inherited names', () => {
    const req = fakeReq();
    for (const state of ['__proto__', 'constructor', 'constructor'.padEnd(43, '_'), '', 'x'.repeat(44)]) expect(takeTransaction(req, KEY, state, REDIRECT, T0)).toBeUndefined();
  });
});

describe('carryOver (what survives session.regenerate())', () => {
  it('is undefined without pending logins', () => {
    expect(carryOver(fakeReq(), KEY)).toBeUndefined();
    const req = fakeReq();
    saveTransaction(req, KEY, tx(stateOf(1), T0), T0);
    takeTransaction(req, KEY, stateOf(1), REDIRECT, T0);
    expect(carryOver(req, KEY)).toBeUndefined();
  });

  it('keeps the pending logins, not the login', () => {
    const req = fakeReq();
    saveTransaction(req, KEY, tx(stateOf(1), T0), T0);
    req.session.par![KEY]!.login = { idToken: 'x', claims: { sub: 'a' } };
    expect(carryOver(req, KEY)).toEqual({ [KEY]: { pending: { [stateOf(1)]: storedOf(tx(stateOf(1), T0)) } } });
  });
});

describe('the stored form (what a session store holds per pending login)', () => {
  const full = (state: string): Transaction => ({ ...tx(state, T0), returnTo: '/orders?id=7', maxAge: 0, silent: true, dpopJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' } });

  it('keeps only what differs from the defaults, in short names, and gives it all back', () => {
    const req = fakeReq();
    saveTransaction(req, KEY, full(stateOf(1)), T0);
    saveTransaction(req, KEY, tx(stateOf(2), T0), T0);
    expect(stored(req)[stateOf(1)]).toEqual({ n: 'n', v: 'v'.repeat(43), r: '/orders?id=7', u: redirectDigest(REDIRECT), t: T0, m: 0, s: 1, k: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' } });
    expect(stored(req)[stateOf(2)]).toStrictEqual({ n: 'n', v: 'v'.repeat(43), u: redirectDigest(REDIRECT), t: T0 });
    expect(takeTransaction(req, KEY, stateOf(1), REDIRECT, T0)).toEqual(full(stateOf(1)));
    expect(takeTransaction(req, KEY, stateOf(2), REDIRECT, T0)).toEqual(tx(stateOf(2), T0));
  });

  it('digests the redirect_uri to 11 base64url characters of its SHA-256', () => {
    expect(redirectDigest(REDIRECT)).toBe(createHash('sha256').update(REDIRECT).digest('base64url').slice(0, 11));
    expect(redirectDigest(REDIRECT)).toHaveLength(11);
  });

  it('gives each redirect_uri its own digest, the same on every call, past the number it remembers', () => {
    const uris = Array.from({ length: 150 }, (_, i) => `https://app.example.com/m${i}/callback`);
    const expected = uris.map((uri) => createHash('sha256').update(uri).digest('base64url').slice(0, 11));
    for (let pass = 0; pass < 2; pass++) expect(uris.map(redirectDigest)).toEqual(expected);
    expect(new Set(expected).size).toBe(150);
  });

  it('ignores fields of the wrong type in a tampered entry', () => {
    const req = fakeReq();
    tamper(req, { [stateOf(1)]: { ...storedOf(tx(stateOf(1), T0)), r: 42, m: '300', s: true, k: 'not-a-jwk' } });
    expect(takeTransaction(req, KEY, stateOf(1), REDIRECT, T0)).toEqual(tx(stateOf(1), T0));
    tamper(req, { [stateOf(2)]: { ...storedOf(tx(stateOf(2), T0)), k: null } });
    expect(takeTransaction(req, KEY, stateOf(2), REDIRECT, T0)).toEqual(tx(stateOf(2), T0));
  });

  it('drops an entry that is not an object when its state is taken', () => {
    for (const junk of ['a string', 7, true]) {
      const req = fakeReq();
      tamper(req, { [stateOf(1)]: junk, [stateOf(2)]: storedOf(tx(stateOf(2), T0)) });
      expect(takeTransaction(req, KEY, stateOf(1), REDIRECT, T0)).toBeUndefined();
      expect(Object.keys(stored(req))).toEqual([stateOf(2)]);
    }
  });

  it('caps a pending login at 1,536 bytes of JSON: a longer returnTo falls back to /', () => {
    const base = JSON.stringify({ n: 'n', v: 'v'.repeat(43), r: '', u: redirectDigest(REDIRECT), t: T0 }).length;
    const fits = `/${'a'.repeat(1536 - base - 1)}`;
    const req = fakeReq();
    const kept = { ...tx(stateOf(1), T0), returnTo: fits };
    saveTransaction(req, KEY, kept, T0);
    expect(JSON.stringify(stored(req)[stateOf(1)])).toHaveLength(1536);
    expect(takeTransaction(req, KEY, stateOf(1), REDIRECT, T0)?.returnTo).toBe(fits);
    const tooLong = { ...tx(stateOf(2), T0), returnTo: `${fits}a` };
    saveTransaction(req, KEY, tooLong, T0);
    expect(tooLong.returnTo).toBe('/');
    expect(stored(req)[stateOf(2)]).toEqual(storedOf(tx(stateOf(2), T0)));
    expect(takeTransaction(req, KEY, stateOf(2), REDIRECT, T0)?.returnTo).toBe('/');
  });

  it('counts the pending logins of a sign-in, and none in a session without them', () => {
    expect(countTransactions(fakeReq(), KEY)).toBe(0);
    const req = fakeReq();
    tamper(req, 'junk');
    expect(countTransactions(req, KEY)).toBe(0);
    tamper(req, null);
    expect(countTransactions(req, KEY)).toBe(0);
    saveTransaction(req, KEY, tx(stateOf(1), T0), T0);
    saveTransaction(req, KEY, tx(stateOf(2), T0), T0);
    expect(countTransactions(req, KEY)).toBe(2);
    expect(countTransactions(req, 'another-sign-in')).toBe(0);
  });
});
