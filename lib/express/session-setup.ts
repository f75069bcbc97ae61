/**
 * The express-session set-up, checked at the first request that reaches parAuth() without a usable session
 * (any route, not only the login). Why the session is missing is read once from the app's middleware stack
 * (Express 4's `app._router`, Express 5's `app.router`):
 * - no express-session at all, one mounted after parAuth(), or a `req.session` that is not express-session's
 *   (no `save()`/`regenerate()`, e.g. cookie-session) is a set-up mistake: every request through parAuth()
 *   gets the documented setup error (500 `session_unavailable`) naming the fix, and one warning is printed;
 * - express-session mounted before parAuth() that gave this request no session (its store disconnected, the
 *   path outside `cookie.path`), or a stack that cannot be read: the request goes on as before (the routes
 *   that need the session answer `session_unavailable`), with one warning.
 * A missing session `secret` is not seen here: express-session answers every request with its own error
 * ("secret option required for sessions") before parAuth() runs (docs/troubleshooting.md).
 */
import type { Request, RequestHandler } from 'express';
import { SetupError } from '../core/errors.js';
import type { Warn } from '../core/warn.js';

type Verdict = 'missing' | 'after' | 'foreign' | 'skipped' | 'unknown';

const ADD_SESSION = 'app.use(session({ secret, resave: false, saveUninitialized: false })) from express-session';

const MESSAGES: Record<Verdict, string> = {
  missing: `express-par needs a session, and no express-session runs before parAuth(): add ${ADD_SESSION} before it.`,
  after:
    'express-session is mounted after parAuth(), so parAuth() runs before there is a session: move ' +
    'app.use(session(...)) above app.use(parAuth(...)).',
  foreign:
    'req.session has no save() and regenerate(): express-par needs express-session (cookie-session and other ' +
    'session middleware cannot give the session a new id at login).',
  skipped:
    'express-session ran before parAuth() but gave this request no session: its store is disconnected, or the ' +
    'path is outside cookie.path. Routes that need the session answer session_unavailable meanwhile.',
  unknown:
    "a request reached parAuth() without a session, and the app's middleware could not be read to say why: " +
    `add ${ADD_SESSION} before parAuth().`,
};

/** Set-up mistakes that no request can succeed with: answered with the error every time. */
const MISTAKES = new Set<Verdict>(['missing', 'after', 'foreign']);

interface LayerLike {
  handle?: unknown;
  route?: { stack?: unknown };
}

/** Every handler of a router's stack, depth first, in the order Express runs them. */
function handlersOf(stack: unknown, out: unknown[] = [], depth = 0): unknown[] {
  if (!Array.isArray(stack) || depth > 16) return out;
  for (const layer of stack as LayerLike[]) {
    if (layer?.route) {
      handlersOf(layer.route.stack, out, depth + 1);
    } else if (typeof layer?.handle === 'function') {
      out.push(layer.handle);
      handlersOf((layer.handle as { stack?: unknown }).stack, out, depth + 1);
    }
  }
  return out;
}

/** The app's middleware stack: Express 4 keeps it in `_router` (its `router` getter throws), Express 5 in `router`. */
function appStack(req: Request): unknown {
  const app = req.app as unknown as { _router?: { stack?: unknown }; router?: { stack?: unknown } } | undefined;
  if (!app) return undefined;
  return (app._router ?? app.router)?.stack;
}

/** Why this request reached `self` without express-session's session (express-session names its handler `session`). */
function verdictFor(req: Request, self: RequestHandler): Verdict {
  if ((req as { session?: unknown }).session) return 'foreign';
  let handlers: unknown[];
  try {
    handlers = handlersOf(appStack(req));
  } catch {
    return 'unknown';
  }
  const at = handlers.indexOf(self);
  if (at === -1) return 'unknown';
  const sessions = handlers.flatMap((h, i) => ((h as { name?: unknown }).name === 'session' ? [i] : []));
  if (sessions.some((i) => i < at)) return 'skipped';
  if (sessions.length > 0) return 'after';
  // Under a mounted sub-app, the parent app's stack (where a session may run first) is not read.
  return (req.app as { parent?: unknown } | undefined)?.parent ? 'unknown' : 'missing';
}

function hasUsableSession(req: Request): boolean {
  const session = (req as { session?: { save?: unknown; regenerate?: unknown } }).session;
  return !!session && typeof session.save === 'function' && typeof session.regenerate === 'function';
}

/**
 * The check of one parAuth(): `undefined` when the request has express-session's session (the fast path,
 * every request); else the setup error to answer with, or `undefined` to go on (see the module comment).
 */
export function sessionSetupCheck(warn: Warn): (req: Request, self: RequestHandler) => SetupError | undefined {
  let verdict: Verdict | undefined;
  return (req, self) => {
    if (hasUsableSession(req)) return undefined;
    verdict ??= verdictFor(req, self);
    warn('EXPRESS_PAR_SESSION_SETUP', MESSAGES[verdict]);
    return MISTAKES.has(verdict) ? new SetupError('session_unavailable', MESSAGES[verdict]) : undefined;
  };
}
