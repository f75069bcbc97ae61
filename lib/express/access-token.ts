/**
 * Access tokens that renew themselves (RFC 6749 §6), the login's own and other APIs' (`audience` or RFC 8707
 * `resource`), safely under concurrency, and the guard on every save of a logged-in session (guardSessionSave).
 *
 * - Single flight per API, one refresh grant at a time per session, newest tokens win: refresh-coordinator.ts.
 *   Before any save of a session loaded with a login, the login is reconciled with the process's newest
 *   rotation and with what the store holds now: a rotated-away refresh token is never written back, and a
 *   login ended elsewhere (logout, refused refresh), with or without a refresh token, is not brought back.
 * - A refused refresh token (`invalid_grant`) ends the login: 401 `login_required`. A network failure or
 *   a bad answer (502/504) keeps it.
 * - A refresh that brings a new ID token runs afterCallback again on the refreshed login, so claims the
 *   app shaped stay shaped; when the hook throws, the login ends and its error is thrown. So does an answer
 *   that grants `authorization_details` of a type the login did not ask for (502, RFC 9396 §7).
 */
import type { Request } from 'express';
import type { Engine } from '../engine/engine.js';
import { ParError, RequestError } from '../core/errors.js';
import { clearLogin, readLogin, readStoredLogin, storeLogin } from '../state/login.js';
import { createLogger } from '../core/log.js';
import { requireSession, saveSession } from '../state/session.js';
import type { ApiTarget, RequestWithSession } from '../core/model.js';
import type { LoginSession } from '../core/types.js';
import { readApiToken, type ApiToken } from '../state/api-tokens.js';
import { loadedAccessToken } from './request-keys.js';
import { coordinatorOf, generation, ReshapeFailed, type RefreshOutcome } from './refresh-coordinator.js';

const log = createLogger('access-token');

/**
 * When the server's tokens live shorter than `minTtl`, no refresh can satisfy it: a token renewed less
 * than this long ago is returned rather than refreshed again (so parallel requests share one refresh).
 */
export const JUST_RENEWED_MS = 10 * 1000;

function loginRequired(message: string, extra: { error?: string; cause?: unknown } = {}): RequestError {
  return new RequestError('login_required', message, { status: 401, ...extra });
}

/** RFC 6749 §5.2: `invalid_grant`, the refresh token is invalid, expired or revoked. */
function isRefused(err: unknown): err is ParError {
  return err instanceof ParError && err.code === 'token_exchange_failed' && err.error === 'invalid_grant';
}

function lastsFor(expiresAt: unknown, minTtl: number): boolean {
  // RFC 6749 §5.1: expires_in is only RECOMMENDED; without it the token is taken as valid.
  return typeof expiresAt !== 'number' || expiresAt - Math.floor(Date.now() / 1000) >= minTtl;
}

function justRenewed(renewedAt: unknown, expiresAt: unknown, minTtl: number): boolean {
  if (typeof renewedAt !== 'number' || Date.now() - renewedAt >= JUST_RENEWED_MS) return false;
  return typeof expiresAt === 'number' && expiresAt - Math.floor(renewedAt / 1000) < minTtl;
}

/** The session's login, updated to the newest rotation this process knows of. */
function currentLogin(req: RequestWithSession, engine: Engine): LoginSession | undefined {
  const login = readLogin(req, engine.signInKey);
  if (!login) return undefined;
  const newest = coordinatorOf(engine).newest(req.sessionID, login);
  if (newest !== login) storeLogin(req, engine.signInKey, newest);
  return newest;
}

export interface AccessTokenOptions {
  /** Seconds the token must stay valid for. Default 60. */
  minTtl?: number;
  /** A token a resource server refused (RFC 6750 §3.1 `invalid_token`): renew unless the session holds another. */
  rejected?: string;
  /** Another API's token (config/api-target.ts); the login's own when undefined. */
  target?: ApiTarget;
}

/** An access token and how a request presents it. */
export interface PresentedToken {
  token: string;
  /** `DPoP`: with a proof of the login's key (RFC 9449 §7); otherwise Bearer. */
  tokenType: string | undefined;
  /** RFC 8705 §3: only over a connection that presents the client certificate. */
  certificateBound: boolean;
}

function checkMinTtl(value: unknown): number {
  const minTtl = value === undefined ? 60 : value;
  if (typeof minTtl !== 'number' || !Number.isFinite(minTtl) || minTtl < 0) {
    throw new TypeError('getAccessToken({ minTtl }): "minTtl" must be a number of seconds (0 or more)');
  }
  return minTtl;
}

/**
 * An access token valid for at least `minTtl` more seconds, refreshed (and the session saved) when
 * needed: the login's own, or with `target` that API's. Throws 401 `login_required` without a login,
 * without a way to renew, or when the server refuses the refresh token (the login then ends); 502/504
 * when the server fails (the login stays).
 */
export async function getAccessToken(req: Request, engine: Engine, options: AccessTokenOptions = {}): Promise<string> {
  return (await presentedToken(req, engine, options)).token;
}

/** getAccessToken(), with how the token is presented (DPoP, certificate-bound): for req.oidc.fetch(). */
export async function presentedToken(
  req: Request,
  engine: Engine,
  options: AccessTokenOptions = {},
): Promise<PresentedToken> {
  const minTtl = checkMinTtl(options.minTtl);
  requireSession(req);
  const login = currentLogin(req, engine);
  if (!login) throw loginRequired('There is no login in this session: log in first.');
  const { target, rejected } = options;
  const fresh = target
    ? freshApiToken(login, target, minTtl, rejected)
    : freshLoginToken(req, engine, login, minTtl, rejected);
  if (fresh) return fresh;
  if (!login.refreshToken) {
    const why = target
      ? 'An access token for another API is obtained with the refresh token, and this login has none'
      : 'The access token is refused or expires too soon, and this login has no refresh token';
    throw loginRequired(`${why} (ask for the offline_access scope): log in again.`);
  }
  let outcome: RefreshOutcome;
  try {
    outcome = await refreshed(req, engine, login, target);
  } catch (err) {
    if (!isRefused(err)) throw err; // a network failure or a bad answer: the login stays
    await endLogin(req, engine, 'a refused refresh');
    const message =
      'The authorization server refused the refresh token (invalid_grant), so the login has ended: log in again.';
    throw loginRequired(message, { error: 'invalid_grant', cause: err });
  }
  return storeRefreshed(req, engine, outcome, target);
}

function presentLogin(login: LoginSession): PresentedToken {
  return { token: login.accessToken!, tokenType: login.tokenType, certificateBound: login.certificateBound === true };
}

function presentApi(api: ApiToken): PresentedToken {
  return { token: api.accessToken, tokenType: api.tokenType, certificateBound: api.certificateBound };
}

/** The login's own token when it lasts `minTtl`, or was renewed since this request began (or moments ago). */
function freshLoginToken(
  req: Request,
  engine: Engine,
  login: LoginSession,
  minTtl: number,
  rejected: string | undefined,
): PresentedToken | undefined {
  if (!login.accessToken || login.accessToken === rejected) return undefined;
  if (lastsFor(login.expiresAt, minTtl)) return presentLogin(login);
  // Renewed since this request began (by it, or by a parallel request of the session whose refresh it
  // adopted): as fresh as a refresh makes it, so parallel requests share one refresh whatever minTtl.
  const loaded = loadedAccessToken(req, engine);
  const renewedHere = loaded !== undefined && loaded.accessToken !== login.accessToken;
  const renewed = renewedHere || justRenewed(login.renewedAt, login.expiresAt, minTtl);
  return renewed && lastsFor(login.expiresAt, 0) ? presentLogin(login) : undefined;
}

/** The API's stored token when it lasts `minTtl`, or was obtained moments ago (its tokens live shorter). */
function freshApiToken(
  login: LoginSession,
  target: ApiTarget,
  minTtl: number,
  rejected: string | undefined,
): PresentedToken | undefined {
  const api = readApiToken(login, target.key);
  if (!api || api.accessToken === rejected) return undefined;
  if (lastsFor(api.expiresAt, minTtl)) return presentApi(api);
  return justRenewed(api.renewedAt, api.expiresAt, minTtl) && lastsFor(api.expiresAt, 0) ? presentApi(api) : undefined;
}

/** Redeems the refresh token now (single flight) and stores the result; errors pass through unchanged. */
export async function refreshNow(req: Request, engine: Engine): Promise<void> {
  requireSession(req);
  const login = currentLogin(req, engine);
  if (!login) throw new TypeError('req.oidc.refresh() needs a logged-in user');
  await storeRefreshed(req, engine, await refreshed(req, engine, login));
}

/**
 * The refresh's outcome (single flight). When afterCallback throws on the refreshed login, or the server
 * grants authorization_details of a type the login did not ask for, the login ends and the error is thrown.
 */
async function refreshed(
  req: RequestWithSession,
  engine: Engine,
  login: LoginSession,
  target?: ApiTarget,
): Promise<RefreshOutcome> {
  try {
    return await coordinatorOf(engine).refresh(req, login, target);
  } catch (err) {
    // Fail closed: the hook refused or could not shape the refreshed login, or the server's grant is not
    // what the user was asked for; its refresh token may already have replaced (rotated) the stored one,
    // so neither the old nor the new tokens are kept.
    if (err instanceof ReshapeFailed) {
      await endLogin(req, engine, 'afterCallback failed during a refresh');
      throw err.cause;
    }
    if (err instanceof ParError && err.code === 'authorization_details_invalid') {
      await endLogin(req, engine, 'a refresh granted authorization_details not asked for');
    }
    throw err;
  }
}

async function endLogin(req: RequestWithSession, engine: Engine, why: string): Promise<void> {
  clearLogin(req, engine.signInKey);
  try {
    await saveSession(req);
  } catch (saveErr) {
    log('could not save the session after %s: %s', why, (saveErr as Error).message);
  }
}

/**
 * Stores the refreshed login and saves the session (reconciled with the store first: guardSessionSave);
 * then throws a refused API token's error, or returns the token asked for, from the login as saved.
 */
async function storeRefreshed(
  req: RequestWithSession,
  engine: Engine,
  outcome: RefreshOutcome,
  target?: ApiTarget,
): Promise<PresentedToken> {
  storeLogin(req, engine.signInKey, outcome.login);
  await saveSession(req);
  if (outcome.refused) throw outcome.refused; // after the rotated refresh token is stored
  const saved = readLogin(req, engine.signInKey);
  if (!saved) {
    throw loginRequired('The login ended in another request while its tokens were being refreshed: log in again.');
  }
  if (!target) return presentLogin(saved.accessToken ? saved : outcome.login);
  return presentApi((readApiToken(saved, target.key) ?? readApiToken(outcome.login, target.key))!);
}

/**
 * Makes every later save of this request's session reconcile this sign-in's login first, when the
 * session was loaded with a login: the newest rotation this process knows of is adopted, a newer login
 * in the store (another instance's refresh) is kept, a login the store no longer has (ended by a logout,
 * a back-channel logout or a refused refresh meanwhile) is not written back, and a session the store no
 * longer has at all (regenerated by /logout) is not saved again. The store is read only when the session
 * is saved. Returns the access token the login held when the request began (null: the request has no
 * session), which the request's `req.oidc` keeps for getAccessToken().
 */
export function guardSessionSave(req: Request, engine: Engine): string | undefined | null {
  const session = (req as Partial<RequestWithSession>).session;
  if (!session || typeof session.save !== 'function') return null;
  const loaded = readStoredLogin(req, engine.signInKey);
  if (!loaded) return undefined;
  const original = session.save;
  // Not enumerable: express-session's change detection and the stores serialise enumerable fields only.
  Object.defineProperty(session, 'save', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function save(callback?: (err?: unknown) => void) {
      reconcile(req as RequestWithSession, engine).then(
        (gone) => (gone ? callback?.() : original.call(session, callback)),
        (err: unknown) => callback?.(err),
      );
      return session;
    },
  });
  return loaded.accessToken;
}

/** Reconciles this sign-in's login with the store; true when the store no longer has the session (do not save it). */
async function reconcile(req: RequestWithSession, engine: Engine): Promise<boolean> {
  const key = engine.signInKey;
  const ours = currentLogin(req, engine);
  if (!ours) return false;
  const stored = await loadStored(req);
  if (stored === undefined) return false; // the store could not be read: save what we have
  if (stored === null) {
    // Regenerated (a logout) or expired meanwhile: saving would bring the old session id back, logged in.
    log('the session ended elsewhere; not saving it again');
    clearLogin(req, key);
    return true;
  }
  const theirs = readLogin({ session: stored }, key);
  if (!theirs) {
    // The store no longer holds this login: it ended in another request (logout, a refused refresh).
    log('the login ended elsewhere; not writing it back');
    clearLogin(req, key);
    return false;
  }
  const [theirGeneration, ourGeneration] = [generation(theirs), generation(ours)];
  const same = theirGeneration === ourGeneration;
  const newer = theirGeneration > ourGeneration || (same && theirs.refreshToken !== ours.refreshToken);
  if (newer) {
    log('the store holds newer tokens (generation %d); keeping them', generation(theirs));
    storeLogin(req, key, theirs);
  }
  return false;
}

/** What express-par reads of an express-session store. */
type SessionReader = { get?: (sid: string, cb: (err: unknown, data?: unknown) => void) => void };

/** The session as the store holds it now: an object, `null` when it is gone, `undefined` when unreadable. */
function loadStored(req: RequestWithSession): Promise<unknown> {
  const store = (req as { sessionStore?: SessionReader }).sessionStore;
  if (!store || typeof store.get !== 'function') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    try {
      store.get!(req.sessionID, (err, data) => resolve(err ? undefined : (data ?? null)));
    } catch (err) {
      log('the session store could not be read: %s', (err as Error).message);
      resolve(undefined);
    }
  });
}
