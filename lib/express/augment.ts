/**
 * Type augmentation so users get completion without casts: the session fields express-par keeps, and
 * `req.oidc` on Express's `Request`, `res.oidc` on its `Response`.
 */
import type { SessionSignIns } from '../state/layout.js';
import type { RequestContext } from './request-context.js';
import type { ResponseContext } from './response-context.js';

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
    interface Response {
      /** Set by `parAuth()`: `res.oidc.login()` and `res.oidc.logout()` from any route. */
      oidc: ResponseContext;
    }
  }
}

export {};
