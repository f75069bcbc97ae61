/**
 * Type augmentation so users get completion without casts: the session fields express-par keeps, and
 * `req.oidc` on Express's `Request`.
 */
import type { SessionSignIns } from './sign-in-state.js';
import type { RequestContext } from './request-context.js';

declare module 'express-session' {
  interface SessionData {
    /**
     * express-par's state: per sign-in (issuer and client), its login and its pending transactions.
     * Read the login through `req.oidc`, not here.
     */
    par?: SessionSignIns;
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
