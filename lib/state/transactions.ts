/**
 * Login transactions: one typed object per `state`, kept in `req.session` so the callback can be bound
 * to the browser that started the login (RFC 6749 §10.12, RFC 9700 §2.1). Several may be pending (one
 * per tab); they are capped and expire. takeTransaction() deletes before anything is compared: single use.
 */
import { createHash } from 'node:crypto';
import type { RequestWithSession, Transaction } from '../core/model.js';
import { ensureSignIn, readSignIn, type StoredTransaction } from './layout.js';

/** The redirect_uri as stored: 66 bits of SHA-256 tell the routes of one client apart. */
export function redirectDigest(redirectUri: string): string {
  // An app has one redirect_uri per mount: remembered, not hashed twice per login.
  let digest = digests.get(redirectUri);
  // Stryker disable next-line ConditionalExpression: hashing again when remembered gives the same digest
  if (digest === undefined) {
    digest = createHash('sha256').update(redirectUri).digest('base64url').slice(0, 11);
    // Only bounds the memory: every digest is the same whatever the bound.
    // Stryker disable next-line ConditionalExpression,EqualityOperator,CallExpression: see above
    if (digests.size >= 64) digests.clear();
    // Stryker disable next-line CallExpression: not remembering it only hashes it again, the same
    digests.set(redirectUri, digest);
  }
  return digest;
}

const digests = new Map<string, string>();

// Optional fields are assigned, not spread from conditional literals: on every login, the spreads cost
// about as much as the rest of saveTransaction.
function toStored(tx: Transaction): StoredTransaction {
  const u = redirectDigest(tx.redirectUri);
  const stored: StoredTransaction = { n: tx.nonce, v: tx.codeVerifier, u, t: tx.createdAt };
  if (tx.returnTo !== '/') stored.r = tx.returnTo;
  if (tx.maxAge !== undefined) stored.m = tx.maxAge;
  if (tx.required?.acrValues) stored.a = tx.required.acrValues.join(' ');
  if (tx.required?.maxAge !== undefined) stored.q = 1;
  if (tx.stepUp) stored.p = 1;
  if (tx.silent) stored.s = 1;
  if (tx.dpopJwk) stored.k = tx.dpopJwk;
  if (tx.authorizationDetailsTypes) stored.d = tx.authorizationDetailsTypes;
  if (tx.appState) stored.g = tx.appState;
  return stored;
}

/** A stored transaction back as a Transaction, or undefined when it is not well-formed (a tampered store). */
function fromStored(state: string, stored: unknown, redirectUri: string): Transaction | undefined {
  // A string or number has no n, v and t, so the next line refuses it anyway.
  // Stryker disable next-line ConditionalExpression,LogicalOperator: see above
  if (!stored || typeof stored !== 'object' || Array.isArray(stored)) return undefined;
  const { n, v, r, t, m, s, k, p, d, g } = stored as Partial<StoredTransaction>;
  if (typeof n !== 'string' || typeof v !== 'string' || typeof t !== 'number') return undefined;
  const returnTo = typeof r === 'string' ? r : '/';
  const tx: Transaction = { state, nonce: n, codeVerifier: v, returnTo, redirectUri, createdAt: t };
  if (typeof m === 'number') tx.maxAge = m;
  const required = requiredOf(stored as Partial<StoredTransaction>);
  if (required) tx.required = required;
  if (p === 1) tx.stepUp = true;
  if (s === 1) tx.silent = true;
  if (k && typeof k === 'object') tx.dpopJwk = k;
  if (Array.isArray(d) && d.every((type) => typeof type === 'string')) tx.authorizationDetailsTypes = d;
  if (g && typeof g === 'object' && !Array.isArray(g)) tx.appState = g;
  return tx;
}

/** What the login asked for itself (`a`, `q` with `m`), when anything. */
function requiredOf({ a, q, m }: Partial<StoredTransaction>): Transaction['required'] {
  const acrValues = typeof a === 'string' ? a.split(' ').filter(Boolean) : [];
  const maxAge = q === 1 && typeof m === 'number' ? m : undefined;
  if (acrValues.length === 0 && maxAge === undefined) return undefined;
  return { ...(acrValues.length > 0 ? { acrValues } : {}), ...(maxAge !== undefined ? { maxAge } : {}) };
}

export const MAX_PENDING_TRANSACTIONS = 10;
export const TRANSACTION_TTL_MS = 15 * 60 * 1000;
/** Largest pending login kept in the session (JSON bytes); a longer `returnTo` falls back to `/`. */
export const MAX_TRANSACTION_BYTES = 1536;
/** Largest app state a pending login carries (JSON bytes), so that it fits with the rest. */
export const MAX_APP_STATE_BYTES = 1024;
const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

type Store = Record<string, StoredTransaction>;

/** This sign-in's pending transactions (contract: a state made by one mount is unknown at another's callback). */
function store(req: RequestWithSession, key: string): Store {
  const state = ensureSignIn(req, key);
  const existing = state.pending;
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing;
  const created: Store = {};
  state.pending = created;
  return created;
}

/** Drops malformed and expired transactions, then the oldest ones beyond the cap (leaving room for one more). */
function prune(txs: Store, now: number, room: number): void {
  // A stray first element compares as equal (NaN), stays first, and deleting it is a no-op.
  // Stryker disable next-line ArrayDeclaration: see above
  const live: Array<[string, number]> = [];
  for (const [state, tx] of Object.entries(txs)) {
    // Stryker disable next-line ConditionalExpression: a string or number entry has no numeric t either: dropped below
    const createdAt = tx && typeof tx === 'object' ? tx.t : undefined;
    const fresh = typeof createdAt === 'number' && now - createdAt < TRANSACTION_TTL_MS && now >= createdAt - 60_000;
    if (fresh && STATE_FORMAT.test(state)) live.push([state, createdAt]);
    else delete txs[state];
  }
  live.sort((a, b) => a[1] - b[1]);
  for (let i = 0; i < live.length - (MAX_PENDING_TRANSACTIONS - room); i++) delete txs[live[i]![0]];
}

/** Stores a pending login of sign-in `key`; one that would exceed MAX_TRANSACTION_BYTES returns to `/`. */
export function saveTransaction(req: RequestWithSession, key: string, tx: Transaction, now = Date.now()): void {
  const txs = store(req, key);
  prune(txs, now, 1);
  let stored = toStored(tx);
  if (JSON.stringify(stored).length > MAX_TRANSACTION_BYTES) {
    tx.returnTo = '/';
    stored = toStored(tx);
  }
  txs[tx.state] = stored;
}

/**
 * Removes and returns sign-in `key`'s transaction for `state` if it exists, has not expired, and was
 * started for `redirectUri`. A transaction started for another redirect_uri (another route of the same
 * client) is left alone for its own callback.
 */
export function takeTransaction(
  req: RequestWithSession,
  key: string,
  state: string,
  redirectUri: string,
  now = Date.now(),
): Transaction | undefined {
  if (!STATE_FORMAT.test(state)) return undefined;
  const txs = readSignIn(req, key)?.pending;
  if (!txs || typeof txs !== 'object' || Array.isArray(txs)) return undefined;
  const stored = Object.hasOwn(txs, state) ? txs[state] : undefined;
  if (stored && typeof stored === 'object' && stored.u !== redirectDigest(redirectUri)) return undefined;
  delete txs[state];
  prune(txs, now, 0);
  const tx = fromStored(state, stored, redirectUri);
  if (!tx || now - tx.createdAt >= TRANSACTION_TTL_MS) return undefined;
  return tx;
}

export function countTransactions(req: RequestWithSession, key: string): number {
  const txs = readSignIn(req, key)?.pending;
  return txs && typeof txs === 'object' ? Object.keys(txs).length : 0;
}
