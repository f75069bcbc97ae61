/**
 * Login transactions: one typed object per `state`, kept in `req.session` so the callback can be bound
 * to the browser that started the login (RFC 6749 §10.12, RFC 9700 §2.1). Several may be pending (one
 * per tab); they are capped and expire. `take()` deletes before anything is compared: single use.
 */
import type { JWK } from 'jose';
import type { RequestWithSession } from './session.js';
import { ensureSignIn, readSignIn } from './sign-in-state.js';

export interface Transaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** The redirect_uri pushed with this login: a callback on another route (another strategy) cannot use it. */
  redirectUri: string;
  /** ms since the epoch */
  createdAt: number;
  /** `max_age` pushed with the request, for the `auth_time` check. */
  maxAge?: number;
  /** A `prompt=none` login (attemptSilentLogin): "the user must interact" brings the user back anonymous. */
  silent?: boolean;
  /** Per-session DPoP key (private JWK) the code is bound to. */
  dpopJwk?: JWK;
}

export const MAX_PENDING_TRANSACTIONS = 10;
export const TRANSACTION_TTL_MS = 15 * 60 * 1000;
/** Largest pending login kept in the session (JSON bytes); a longer `returnTo` falls back to `/`. */
export const MAX_TRANSACTION_BYTES = 1536;
const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

type Store = Record<string, Transaction>;

/** This sign-in's pending transactions (contract: a state made by one mount is unknown at another's callback). */
function store(req: RequestWithSession, key: string): Store {
  const state = ensureSignIn(req, key);
  const existing = state.pending;
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing;
  const created: Store = {};
  state.pending = created;
  return created;
}

/** Drops expired transactions, then the oldest ones beyond the cap (leaving room for one more). */
function prune(txs: Store, now: number, room: number): void {
  const live = Object.values(txs)
    .filter((tx) => {
      const fresh = tx && typeof tx.createdAt === 'number' && now - tx.createdAt < TRANSACTION_TTL_MS && now >= tx.createdAt - 60_000;
      if (!fresh && tx) delete txs[tx.state];
      return fresh;
    })
    .sort((a, b) => a.createdAt - b.createdAt);
  for (let i = 0; i < live.length - (MAX_PENDING_TRANSACTIONS - room); i++) delete txs[live[i]!.state];
  for (const key of Object.keys(txs)) if (!txs[key] || txs[key]!.state !== key) delete txs[key];
}

/** Stores a pending login of sign-in `key`; one that would exceed MAX_TRANSACTION_BYTES returns to `/`. */
export function saveTransaction(req: RequestWithSession, key: string, tx: Transaction, now = Date.now()): void {
  const txs = store(req, key);
  prune(txs, now, 1);
  if (JSON.stringify(tx).length > MAX_TRANSACTION_BYTES) tx.returnTo = '/';
  txs[tx.state] = tx;
}

/**
 * Removes and returns sign-in `key`'s transaction for `state` if it exists, has not expired, and was
 * started for `redirectUri`. A transaction started for another redirect_uri (another route of the same
 * client) is left alone for its own callback.
 */
export function takeTransaction(req: RequestWithSession, key: string, state: string, redirectUri: string, now = Date.now()): Transaction | undefined {
  if (!STATE_FORMAT.test(state)) return undefined;
  const txs = readSignIn(req, key)?.pending;
  if (!txs || typeof txs !== 'object') return undefined;
  const tx = Object.hasOwn(txs, state) ? txs[state] : undefined;
  if (tx && tx.redirectUri !== redirectUri) return undefined;
  delete txs[state];
  prune(txs, now, 0);
  if (!tx || tx.state !== state || typeof tx.createdAt !== 'number') return undefined;
  if (now - tx.createdAt >= TRANSACTION_TTL_MS) return undefined;
  return tx;
}

export function countTransactions(req: RequestWithSession, key: string): number {
  const txs = readSignIn(req, key)?.pending;
  return txs && typeof txs === 'object' ? Object.keys(txs).length : 0;
}
