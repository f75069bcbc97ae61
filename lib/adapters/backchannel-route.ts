/**
 * The Express side of back-channel logout (`backchannelLogout: true`): the `POST` route the provider
 * calls (Back-Channel Logout 1.0 §2.5, §2.8), and the check that ends a recorded login on its next
 * request. The token rules are `logout-token.ts`'s, the store records `backchannel-logout.ts`'s.
 */
import type { Request, Response } from 'express';
import type { Store } from 'express-session';
import { loginEnded, recordLogout, rememberSid, replayed } from '../plumbing/backchannel-logout.js';
import type { Engine } from '../engine.js';
import { SetupError } from '../plumbing/errors.js';
import { createLogger } from '../plumbing/log.js';
import { LogoutTokenError } from '../protocol/logout-token.js';
import { clearLogin, readLogin } from '../plumbing/sign-in-state.js';

const log = createLogger('backchannel');
const MAX_BODY_BYTES = 64 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

function sessionStore(req: Request): Store {
  const store = (req as Request & { sessionStore?: Store }).sessionStore;
  if (!store || typeof store.get !== 'function' || typeof store.set !== 'function') {
    throw new SetupError('session_unavailable', 'Back-channel logout records logouts in the session store: add express-session before parAuth().');
  }
  return store;
}

/** How long a logout record lives: as long as a login can (the app's cookie lifetime), a day at least. */
function recordLifetime(req: Request): number {
  const maxAge = (req as Request & { session?: { cookie?: { originalMaxAge?: number | null } } }).session?.cookie?.originalMaxAge;
  return Math.max(typeof maxAge === 'number' ? maxAge : 0, DAY_MS);
}

/** The `logout_token` of an `application/x-www-form-urlencoded` POST (§2.5), parsed here or by the app. */
async function logoutTokenOf(req: Request): Promise<unknown> {
  const parsed = (req as Request & { body?: unknown }).body;
  if (parsed && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) return (parsed as Record<string, unknown>).logout_token;
  if (!/^application\/x-www-form-urlencoded\b/i.test(String(req.headers['content-type'] ?? ''))) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  const values = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).getAll('logout_token');
  return values.length === 1 ? values[0] : undefined;
}

function answer(res: Response, status: number, body?: Record<string, string>): void {
  // §2.8: the response must not be cached.
  res.set('Cache-Control', 'no-store');
  if (body) res.status(status).json(body);
  else res.status(status).end();
}

/** `POST routes.backchannelLogout`: 200 when the token is valid (§2.8), 400 with an OAuth error otherwise. */
export async function backchannelLogout(engine: Engine, req: Request, res: Response): Promise<void> {
  const store = sessionStore(req);
  let claims;
  try {
    claims = await engine.checkLogoutToken(await logoutTokenOf(req));
    if (await replayed(store, engine.signInKey, claims)) throw new LogoutTokenError('the logout_token was already used (jti)');
  } catch (err) {
    if (!(err instanceof LogoutTokenError)) throw err; // the server or the store failed: 5xx through next(err)
    log('logout token refused: %s', err.message);
    answer(res, 400, { error: 'invalid_request', error_description: err.message });
    return;
  }
  const ended = await recordLogout(store, engine.signInKey, claims, recordLifetime(req));
  log('back-channel logout recorded (%s)', ended ? (claims.sid ? 'by sid' : 'by sub') : 'no known login');
  engine.emit({ type: 'logout', rpInitiated: false });
  answer(res, 200);
}

/** At login: lets a later logout token that names only `sid` find the user. Failures are logged only. */
export async function noteLogin(engine: Engine, req: Request, claims: Record<string, unknown>): Promise<void> {
  try {
    await rememberSid(sessionStore(req), engine.signInKey, claims, recordLifetime(req));
  } catch (err) {
    log('could not record the login sid for back-channel logout: %s', (err as Error).message);
  }
}

/**
 * Ends this request's login when a back-channel logout recorded in the shared store names it: one store
 * read per authenticated request. The session then reads as logged out and is saved as such.
 */
export async function endIfLoggedOut(engine: Engine, req: Request): Promise<void> {
  const login = readLogin(req, engine.signInKey);
  if (!login) return;
  if (await loginEnded(sessionStore(req), engine.signInKey, login)) {
    clearLogin(req, engine.signInKey);
    log('login ended by a back-channel logout');
  }
}
