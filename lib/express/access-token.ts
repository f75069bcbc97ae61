/**
 * Access tokens that renew themselves (RFC 6749 §6), safely under concurrency, and the guard on every
 * save of a logged-in session (guardSessionSave).
 *
 * - Single flight: parallel requests of one session that need a refresh share one refresh grant, in
 *   this process (keyed by sign-in, session id and refresh token).
 * - Newest tokens win: each refresh result is remembered for a while under the refresh token it
 *   replaced, and a login counts its refreshes (`generation`). A request that loaded the session before
 *   a refresh adopts the newer tokens instead of refreshing again, and before any save of a session
 *   loaded with a login, the login is reconciled with the process's newest rotation and with what the
 *   store holds now: a rotated-away refresh token is never written back, and a login ended elsewhere
 *   (logout, refused refresh), with or without a refresh token, is not brought back.
 * - A refused refresh token (`invalid_grant`) ends the login: 401 `login_required`. A network failure or
 *   a bad answer (502/504) keeps it.
 * - A refresh that brings a new ID token runs afterCallback again on the refreshed login, so claims the
 *   app shaped stay shaped; when the hook throws, the login ends and its error is thrown.
 */
import type { Request } from 'express';
import type { Engine } from '../engine/engine.js';
import { ParError, RequestError } from '../core/errors.js';
import { clearLogin, readLogin, readStoredLogin, storeLogin, withTokens } from '../state/login.js';
import { createLogger } from '../core/log.js';
import { requireSession, saveSession } from '../state/session.js';
import type { RequestWithSession } from '../core/model.js';
import type { LoginSession } from '../core/types.js';
import { loadedAccessToken } from './request-keys.js';

const log = createLogger('access-token');

/** How long a refresh result is kept for requests that loaded the session before it. */
export const ROTATION_GRACE_MS = 5 * 60 * 1000;
/**
 * When the server's tokens live shorter than `minTtl`, no refresh can satisfy it: a token renewed less
 * than this long ago is returned rather than refreshed again (so parallel requests share one refresh).
 */
export const JUST_RENEWED_MS = 10 * 1000;
/** Upper bound on remembered refresh results per sign-in (oldest dropped first). */
const MAX_ROTATIONS = 10_000;

const generation = (login: LoginSession): number => (typeof login.generation === 'number' ? login.generation : 0);

/** Per sign-in (engine): refreshes in flight, and recent results keyed by the refresh token they replaced. */
class RefreshCoordinator {
  private readonly inflight = new Map<string, Promise<LoginSession>>();
  private readonly rotated = new Map<string, { login: LoginSession; at: number }>();

  constructor(private readonly engine: Engine) {}

  private key(sessionID: string, refreshToken: string): string {
    return `${this.engine.signInKey}\n${sessionID}\n${refreshToken}`;
  }

  /** The newest login this process refreshed from `login` (following rotations), or `login` itself. */
  newest(sessionID: string, login: LoginSession): LoginSession {
    let current = login;
    for (let hops = 0; hops < 100 && current.refreshToken; hops += 1) {
      const entry = this.rotated.get(this.key(sessionID, current.refreshToken));
      if (!entry || Date.now() - entry.at > ROTATION_GRACE_MS || generation(entry.login) <= generation(current)) break;
      current = entry.login;
    }
    return current;
  }

  /**
   * One refresh per (session, refresh token) at a time; every caller gets the same result or error. `req`
   * is the first caller's: afterCallback runs with it when the refresh brings a new ID token.
   */
  refresh(req: Request, login: LoginSession): Promise<LoginSession> {
    const key = this.key(req.sessionID, login.refreshToken!);
    const flying = this.inflight.get(key);
    if (flying) return flying;
    const promise = this.run(req, login)
      .then((next) => {
        this.remember(key, next);
        return next;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }

  private async run(req: Request, login: LoginSession): Promise<LoginSession> {
    const { tokens, claims, certificateBinding } = await this.engine.refresh(login);
    let next = withTokens(login, tokens, claims, certificateBinding);
    if (claims) next = await reshape(req, this.engine, next, login);
    next.generation = generation(login) + 1;
    next.renewedAt = Date.now();
    log('refreshed the tokens (generation %d)', next.generation);
    const expiry = next.expiresAt !== undefined ? { expiresAt: next.expiresAt } : {};
    this.engine.emit({ type: 'token.refreshed', ...expiry });
    return next;
  }

  private remember(key: string, login: LoginSession): void {
    const now = Date.now();
    for (const [old, entry] of this.rotated) {
      if (now - entry.at <= ROTATION_GRACE_MS && this.rotated.size < MAX_ROTATIONS) break; // oldest first
      this.rotated.delete(old);
    }
    this.rotated.set(key, { login, at: now });
  }
}

/** afterCallback threw while a refresh was being stored: the login ends (its refresh token may be spent). */
class ReshapeFailed extends Error {
  override name = 'ReshapeFailed';
}

/**
 * A refresh brought a new ID token: its claims replace the login's, so afterCallback shapes them again
 * (with the request that caused the refresh, and `req.res`), as it did at the callback. The login's own
 * bookkeeping (when it began) is kept whatever the hook returns.
 */
async function reshape(req: Request, engine: Engine, next: LoginSession, before: LoginSession): Promise<LoginSession> {
  const hook = engine.config.afterCallback;
  if (!hook) return next;
  try {
    const shaped = await hook(req, req.res!, next);
    if (before.loginAt !== undefined) shaped.loginAt = before.loginAt;
    return shaped;
  } catch (err) {
    throw new ReshapeFailed('afterCallback failed during a refresh', { cause: err });
  }
}

const coordinators = new WeakMap<Engine, RefreshCoordinator>();

function coordinatorOf(engine: Engine): RefreshCoordinator {
  let coordinator = coordinators.get(engine);
  if (!coordinator) {
    coordinator = new RefreshCoordinator(engine);
    coordinators.set(engine, coordinator);
  }
  return coordinator;
}

function loginRequired(message: string, extra: { error?: string; cause?: unknown } = {}): RequestError {
  return new RequestError('login_required', message, { status: 401, ...extra });
}

/** RFC 6749 §5.2: `invalid_grant`, the refresh token is invalid, expired or revoked. */
function isRefused(err: unknown): err is ParError {
  return err instanceof ParError && err.code === 'token_exchange_failed' && err.error === 'invalid_grant';
}

function lastsFor(login: LoginSession, minTtl: number): boolean {
  // RFC 6749 §5.1: expires_in is only RECOMMENDED; without it the token is taken as valid.
  return typeof login.expiresAt !== 'number' || login.expiresAt - Math.floor(Date.now() / 1000) >= minTtl;
}

function justRenewed(login: LoginSession, minTtl: number): boolean {
  const renewedAt = login.renewedAt;
  if (typeof renewedAt !== 'number' || Date.now() - renewedAt >= JUST_RENEWED_MS) return false;
  return typeof login.expiresAt === 'number' && login.expiresAt - Math.floor(renewedAt / 1000) < minTtl;
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
}

/**
 * An access token valid for at least `minTtl` more seconds, refreshed (and the session saved) when
 * needed. Throws 401 `login_required` without a login, without a way to renew, or when the server
 * refuses the refresh token (the login then ends); 502/504 when the server fails (the login stays).
 */
export async function getAccessToken(req: Request, engine: Engine, options: AccessTokenOptions = {}): Promise<string> {
  const minTtl = options.minTtl === undefined ? 60 : options.minTtl;
  if (typeof minTtl !== 'number' || !Number.isFinite(minTtl) || minTtl < 0) {
    throw new TypeError('getAccessToken({ minTtl }): "minTtl" must be a number of seconds (0 or more)');
  }
  requireSession(req);
  const login = currentLogin(req, engine);
  if (!login) throw loginRequired('There is no login in this session: log in first.');
  if (login.accessToken && login.accessToken !== options.rejected) {
    if (lastsFor(login, minTtl)) return login.accessToken;
    // Renewed since this request began (by it, or by a parallel request of the session whose refresh it
    // adopted): as fresh as a refresh makes it, so parallel requests share one refresh whatever minTtl.
    const loaded = loadedAccessToken(req, engine);
    const renewedHere = loaded !== undefined && loaded.accessToken !== login.accessToken;
    if ((renewedHere || justRenewed(login, minTtl)) && lastsFor(login, 0)) return login.accessToken;
  }
  if (!login.refreshToken) {
    throw loginRequired(
      'The access token is refused or expires too soon, and this login has no refresh token ' +
        '(ask for the offline_access scope): log in again.',
    );
  }
  let next: LoginSession;
  try {
    next = await refreshed(req, engine, login);
  } catch (err) {
    if (!isRefused(err)) throw err; // a network failure or a bad answer: the login stays
    await endLogin(req, engine, 'a refused refresh');
    const message =
      'The authorization server refused the refresh token (invalid_grant), so the login has ended: log in again.';
    throw loginRequired(message, { error: 'invalid_grant', cause: err });
  }
  return storeRefreshed(req, engine, next);
}

/** Redeems the refresh token now (single flight) and stores the result; errors pass through unchanged. */
export async function refreshNow(req: Request, engine: Engine): Promise<void> {
  requireSession(req);
  const login = currentLogin(req, engine);
  if (!login) throw new TypeError('req.oidc.refresh() needs a logged-in user');
  await storeRefreshed(req, engine, await refreshed(req, engine, login));
}

/** The refreshed login (single flight). When afterCallback throws on it, the login ends and its error is thrown. */
async function refreshed(req: RequestWithSession, engine: Engine, login: LoginSession): Promise<LoginSession> {
  try {
    return await coordinatorOf(engine).refresh(req, login);
  } catch (err) {
    if (!(err instanceof ReshapeFailed)) throw err;
    // Fail closed: the hook refused or could not shape the refreshed login, whose refresh token may
    // already have replaced (rotated) the stored one, so neither the old nor the new tokens are kept.
    await endLogin(req, engine, 'afterCallback failed during a refresh');
    throw err.cause;
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

async function storeRefreshed(req: RequestWithSession, engine: Engine, next: LoginSession): Promise<string> {
  storeLogin(req, engine.signInKey, next);
  await saveSession(req); // reconciled with the store first (guardSessionSave)
  const saved = readLogin(req, engine.signInKey);
  if (!saved) {
    throw loginRequired('The login ended in another request while its tokens were being refreshed: log in again.');
  }
  return saved.accessToken ?? next.accessToken!;
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
