import { describe, expect, it } from '@jest/globals';
import { countTransactions, saveTransaction, takeTransaction, type Transaction } from '../lib/plumbing/transactions.js';
import { randomToken } from '../lib/protocol/pkce.js';
import type { RequestWithSession } from '../lib/plumbing/session.js';

const KEY = 'sign-in-key';
const REDIRECT = 'https://app.example/callback';
// The README's numbers, stated here rather than imported from lib/.
const MAX_PENDING_TRANSACTIONS = 10;
const TRANSACTION_TTL_MS = 15 * 60 * 1000;

const fakeReq = () => ({ session: {} }) as unknown as RequestWithSession;
const tx = (createdAt: number): Transaction => ({ state: randomToken(), nonce: randomToken(), codeVerifier: randomToken(), returnTo: '/', redirectUri: 'https://app.example/callback', createdAt });

describe('login transactions', () => {
  it('returns a transaction once, then never again', () => {
    const req = fakeReq();
    const t = tx(1000);
    saveTransaction(req, KEY, t, 1000);
    expect(takeTransaction(req, KEY, t.state, REDIRECT, 2000)).toEqual(t);
    expect(takeTransaction(req, KEY, t.state, REDIRECT, 2000)).toBeUndefined();
  });

  it('keeps at most the newest transactions when many logins start', () => {
    const req = fakeReq();
    const all = Array.from({ length: 1000 }, (_, i) => tx(10_000 + i));
    for (const t of all) saveTransaction(req, KEY, t, t.createdAt);
    expect(countTransactions(req, KEY)).toBe(MAX_PENDING_TRANSACTIONS);
    expect(takeTransaction(req, KEY, all[0]!.state, REDIRECT, 20_000)).toBeUndefined();
    expect(takeTransaction(req, KEY, all[999]!.state, REDIRECT, 20_000)).toBeDefined();
  });

  it('lets a transaction expire', () => {
    const req = fakeReq();
    const t = tx(0);
    saveTransaction(req, KEY, t, 0);
    expect(takeTransaction(req, KEY, t.state, REDIRECT, TRANSACTION_TTL_MS)).toBeUndefined();
  });

  it('ignores states that are not of the format it issues', () => {
    const req = fakeReq();
    for (const state of ['__proto__', 'constructor', '', 'x'.repeat(44)]) expect(takeTransaction(req, KEY, state, REDIRECT)).toBeUndefined();
  });
});
