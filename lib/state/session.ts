/**
 * `express-session` glue: the session must exist, be saved before a redirect (express-session
 * otherwise saves after the headers went out, so the browser can come back first), and get a new id
 * when the login state changes (session fixation), keeping what other sign-ins and tabs hold.
 */
import type { Request } from 'express';
import { SetupError } from '../core/errors.js';
import type { RequestWithSession } from '../core/model.js';
import { carryOver, hasAnyLogin, restoreSignIns } from './layout.js';

export function requireSession(req: Request): asserts req is RequestWithSession {
  const session = (req as Partial<RequestWithSession>).session;
  if (!session || typeof session.save !== 'function' || typeof session.regenerate !== 'function') {
    const message =
      'express-par needs a session: add app.use(session({ secret, resave: false, saveUninitialized: false })) ' +
      'from express-session before parAuth() (or passport.authenticate).';
    throw new SetupError('session_unavailable', message);
  }
}

export function saveSession(req: RequestWithSession): Promise<void> {
  return callSession(req, 'save', 'saved');
}

export function regenerateSession(req: RequestWithSession): Promise<void> {
  return callSession(req, 'regenerate', 'regenerated');
}

/**
 * A new session id when the login state changes (session fixation: at login and at logout). What
 * carryOver() keeps survives: other sign-ins, this sign-in's pending logins (other tabs) and its
 * silent-login mark; this sign-in's login does not.
 */
export async function rotateSession(req: RequestWithSession, key: string): Promise<void> {
  const kept = carryOver(req, key);
  await regenerateSession(req);
  restoreSignIns(req, kept);
}

function callSession(req: RequestWithSession, method: 'save' | 'regenerate', done: string): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session[method]((err?: unknown) => {
      if (err) {
        const message = `The session could not be ${done}: check that the session store is reachable and writable.`;
        reject(new SetupError('session_save_failed', message, { cause: err }));
      } else {
        resolve();
      }
    });
  });
}

/** Session fields that only hold a login in progress (ours, and passport's `successReturnToOrRedirect`). */
const PENDING_ONLY_FIELDS = new Set(['cookie', 'par', 'returnTo']);

/**
 * A session that holds nothing but pending logins lives no longer than they do: its cookie (and so the
 * store's TTL, which stores such as connect-redis derive from it) is capped at `ttlMs`. A script that
 * calls the login route in a loop then cannot fill the store with day-long sessions. The next
 * `regenerate()` (at login) gives the session the app's own cookie lifetime back.
 */
export function limitPendingOnlySession(req: RequestWithSession, ttlMs: number): void {
  for (const field of Object.keys(req.session)) if (!PENDING_ONLY_FIELDS.has(field)) return;
  if (hasAnyLogin(req)) return;
  const cookie = req.session.cookie;
  // Stryker disable next-line EqualityOperator: a cookie of exactly ttlMs gets ttlMs again
  if (cookie && (typeof cookie.maxAge !== 'number' || cookie.maxAge > ttlMs)) cookie.maxAge = ttlMs;
}
