/**
 * Type augmentation so users get completion without casts: the session fields express-par keeps, and
 * `req.oidc` on Express's `Request`.
 */
import type { LoginSession } from './types.js';
import type { Transaction } from './transactions.js';
import type { RequestContext } from './request-context.js';

declare module 'express-session' {
  interface SessionData {
    /** Pending logins keyed by `state` (express-par). */
    parTransactions?: Record<string, Transaction>;
    /** The current login (express-par). */
    oidc?: LoginSession;
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `parAuth()`. */
      oidc: RequestContext;
    }
  }
}

export {};
