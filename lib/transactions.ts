/**
 * Login transactions: one typed object per `state`, kept in `req.session` so the callback can be bound
 * to the browser that started the login (RFC 6749 §10.12, RFC 9700 §2.1). Several may be pending (one
 * per tab); they are capped and expire. `take()` deletes before anything is compared: single use.
 */
import type { JWK } from 'jose';
import type { RequestWithSession } from './session.js';

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
  /** Per-session DPoP key (private JWK) the code is bound to. */
  dpopJwk?: JWK;
}

export const MAX_PENDING_TRANSACTIONS = 10;
export const TRANSACTION_TTL_MS = 15 * 60 * 1000;
const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

type Store = Record<string, Transaction>;

function store(req: RequestWithSession): Store {
  const existing = req.session.parTransactions;
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing as Store;
  const created: Store = {};
  req.session.parTransactions = created;
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

export function saveTransaction(req: RequestWithSession, tx: Transaction, now = Date.now()): void {
  const txs = store(req);
  prune(txs, now, 1);
  txs[tx.state] = tx;
}

/** Removes and returns the transaction for `state` if it exists and has not expired. */
export function takeTransaction(req: RequestWithSession, state: string, now = Date.now()): Transaction | undefined {
  if (!STATE_FORMAT.test(state)) return undefined;
  const txs = store(req);
  const tx = Object.hasOwn(txs, state) ? txs[state] : undefined;
  delete txs[state];
  prune(txs, now, 0);
  if (!tx || tx.state !== state || typeof tx.createdAt !== 'number') return undefined;
  if (now - tx.createdAt >= TRANSACTION_TTL_MS) return undefined;
  return tx;
}

/** The transactions still pending, to carry across `session.regenerate()`. */
export function pendingTransactions(req: RequestWithSession): Store | undefined {
  const txs = req.session.parTransactions as Store | undefined;
  return txs && Object.keys(txs).length > 0 ? { ...txs } : undefined;
}

export function countTransactions(req: RequestWithSession): number {
  return Object.keys(store(req)).length;
}
