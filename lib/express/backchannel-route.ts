/**
 * The Express side of back-channel logout (`backchannelLogout`): the `POST` route the provider calls
 * (Back-Channel Logout 1.0 §2.5, §2.8), and the check that ends a recorded login on its next request.
 * The token rules are `protocol/logout-token.ts`'s, the store records `state/logout-records.ts`'s.
 */
import type { Request, Response } from 'express';
import type { Store } from 'express-session';
import { alreadyUsed, loginEnded, markUsed, recordLogout, type LoginIds } from '../state/logout-records.js';
import type { ResolvedBackchannelLogout } from '../core/model.js';
import type { Engine } from '../engine/engine.js';
import { SetupError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { LogoutTokenError } from '../protocol/logout-token.js';
import { clearLogin, idTokenPayload, type StoredLogin } from '../state/login.js';

const log = createLogger('backchannel');
const MAX_BODY_BYTES = 64 * 1024;
/** Records outlive the sessions they name by this much more than the cache staleness and clock tolerance. */
const MARGIN_MS = 5 * 60 * 1000;

type SessionCookie = { session?: { cookie?: { originalMaxAge?: number | null } } };

function sessionStore(req: Request): Store {
  const store = (req as Request & { sessionStore?: Store }).sessionStore;
  if (!store || typeof store.get !== 'function' || typeof store.set !== 'function') {
    const message = 'Back-channel logout records logouts in the session store: add express-session before parAuth().';
    throw new SetupError('session_unavailable', message);
  }
  return store;
}

function optionsOf(engine: Engine): ResolvedBackchannelLogout {
  return engine.config.backchannelLogout!; // the middleware calls this module only when the option is on
}

/**
 * How long a logout record lives: longer than any session it names can go unvisited. express-session
 * touches a session on every request, so one unvisited for its cookie's `maxAge` is gone from the store;
 * a visit while the record lives ends the login. Sessions without `maxAge` are bounded by `maxSessionAge`
 * (endIfLoggedOut). The cookie seen here is the app's default one (the provider sends no cookie).
 */
function recordLifetime(engine: Engine, req: Request): number {
  const maxAge = (req as Request & SessionCookie).session?.cookie?.originalMaxAge;
  const { maxSessionAge, maxStaleness } = optionsOf(engine);
  const margin = maxStaleness + engine.config.clockTolerance * 1000 + MARGIN_MS;
  return Math.max(typeof maxAge === 'number' ? maxAge : 0, maxSessionAge) + margin;
}

/** The `logout_token` of an `application/x-www-form-urlencoded` POST (§2.5), parsed here or by the app. */
async function logoutTokenOf(req: Request): Promise<unknown> {
  const parsed = (req as Request & { body?: unknown }).body;
  if (parsed && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
    return (parsed as Record<string, unknown>).logout_token;
  }
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

/** A store failure: 500 through next(err), so the provider retries the same token (§2.8). */
function storeFailed(err: unknown): SetupError {
  const message =
    'The back-channel logout could not be recorded: the session store failed (the provider may retry the token).';
  return new SetupError('session_save_failed', message, { cause: err });
}

/**
 * `POST routes.backchannelLogout`: 200 once the logout is recorded (§2.8), 400 with an OAuth error for an
 * invalid or replayed token. The `jti` is marked used only after the logout is recorded: when the store
 * fails, nothing is marked and the provider's retry of the same token succeeds.
 */
export async function backchannelLogout(engine: Engine, req: Request, res: Response): Promise<void> {
  const store = sessionStore(req);
  let claims;
  try {
    claims = await engine.checkLogoutToken(await logoutTokenOf(req));
  } catch (err) {
    if (!(err instanceof LogoutTokenError)) throw err; // the server failed: 5xx through next(err)
    return refuse(res, err.message);
  }
  try {
    if (await alreadyUsed(store, engine.signInKey, claims)) {
      refuse(res, 'the logout_token was already used (jti)');
      return;
    }
    await recordLogout(store, engine.signInKey, claims, recordLifetime(engine, req));
    await markUsed(store, engine.signInKey, claims);
  } catch (err) {
    throw storeFailed(err);
  }
  log('back-channel logout recorded (%s)', claims.sid ? 'by sid' : 'by sub');
  engine.emit({ type: 'logout', rpInitiated: false });
  answer(res, 200);
}

function refuse(res: Response, reason: string): void {
  log('logout token refused: %s', reason);
  answer(res, 400, { error: 'invalid_request', error_description: reason });
}

/** The login's ID token `sub` and `sid` (not claims an afterCallback shaped), and when it began. */
function idsOf(login: StoredLogin): LoginIds {
  const payload = idTokenPayload(login);
  const ids: LoginIds = {};
  if (typeof payload.sub === 'string') ids.sub = payload.sub;
  if (typeof payload.sid === 'string') ids.sid = payload.sid;
  if (typeof login.loginAt === 'number') ids.loginAt = login.loginAt;
  return ids;
}

/**
 * A session whose cookie has no `maxAge` can live in the store for as long as the store keeps it, longer
 * than any record: its login is honoured for `maxSessionAge` after it began (unknown age: not at all).
 */
function outlivesRecords(engine: Engine, req: Request, loginAt: number | undefined): boolean {
  const maxAge = (req as Request & SessionCookie).session?.cookie?.originalMaxAge;
  if (typeof maxAge === 'number') return false;
  return loginAt === undefined || Date.now() - loginAt * 1000 > optionsOf(engine).maxSessionAge;
}

function end(engine: Engine, req: Request, why: string): void {
  clearLogin(req, engine.signInKey);
  log('login ended: %s', why);
}

/**
 * Ends this request's login (this sign-in's, as stored) when a back-channel logout recorded in the shared
 * store names it, or when its session has no `maxAge` and the login is older than `maxSessionAge`. The
 * session then reads as logged out and is saved as such. Synchronous when the cache answers; otherwise a
 * promise (one or two reads).
 */
export function endIfLoggedOut(engine: Engine, req: Request, login: StoredLogin): Promise<void> | undefined {
  const ids = idsOf(login);
  if (outlivesRecords(engine, req, ids.loginAt)) {
    end(engine, req, 'older than backchannelLogout.maxSessionAge in a session without maxAge');
    return undefined;
  }
  const ended = loginEnded(sessionStore(req), engine.signInKey, ids, optionsOf(engine).maxStaleness);
  if (typeof ended === 'boolean') {
    if (ended) end(engine, req, 'by a back-channel logout');
    return undefined;
  }
  return ended.then((yes) => {
    if (yes) end(engine, req, 'by a back-channel logout');
  });
}
