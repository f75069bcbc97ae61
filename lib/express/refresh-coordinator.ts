/**
 * The refreshes of one sign-in (engine) in this process: the login's own token and the tokens of other APIs
 * (`getAccessToken({ audience | resource })`), all redeemed with the login's one refresh token.
 *
 * - Single flight per API: parallel requests of one session that need the same token share one refresh
 *   grant (keyed by sign-in, session id and API: the login's own token is one "API").
 * - One at a time per session: a refresh token is redeemed once (a rotating server refuses it the second
 *   time, and may revoke the whole family), so a session's refreshes run one after the other, each from the
 *   newest login this process knows of: an API refresh that rotates the refresh token hands the new one to
 *   the login's own refresh queued behind it, and the other way round.
 * - Newest tokens win: a result that rotated the refresh token is remembered for a while under the one it
 *   redeemed, and a login counts its refreshes (`generation`, API refreshes included), so a request that
 *   loaded the session before a refresh adopts the newer login (see guardSessionSave in access-token.ts). A
 *   result that did not rotate it is kept only while the session's refreshes are queued.
 */
import type { Request } from 'express';
import type { ParError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { ApiTarget } from '../core/model.js';
import type { LoginSession } from '../core/types.js';
import type { Engine } from '../engine/engine.js';
import type { Refreshed } from '../engine/tokens.js';
import { withApiToken, withRefreshToken } from '../state/api-tokens.js';
import { withTokens } from '../state/login.js';

const log = createLogger('access-token');

/**
 * How long a refresh result that rotated the refresh token is kept for requests that loaded the session before
 * it: a minute, far longer than a request takes to go from loading its session to asking for a token. Every
 * save checks the store anyway (guardSessionSave); this spares a late request of this process a second grant
 * with the refresh token it loaded, which a rotating server would take for reuse. Each result is a whole login
 * (~3 KB): under load (bench/load.mjs, ~40 refreshes a second per instance) five minutes kept ~10,000 of them,
 * 25-30 MB per instance, and a minute ~2,600. Results that did not rotate are not kept past their queue.
 */
export const ROTATION_GRACE_MS = 60 * 1000;
/** Upper bound on remembered refresh results per sign-in (oldest dropped first). */
const MAX_ROTATIONS = 10_000;

interface Remembered {
  login: LoginSession;
  at: number;
}

export const generation = (login: LoginSession): number =>
  typeof login.generation === 'number' ? login.generation : 0;

/** What one refresh gives every request that shares it. */
export interface RefreshOutcome {
  /** The login to store: the refreshed one. */
  login: LoginSession;
  /**
   * The API's token was refused (`access_token_audience_mismatch`): `login` holds only the refresh token the
   * response rotated, which must be stored before this is thrown.
   */
  refused?: ParError;
}

/** afterCallback threw while a refresh was being stored: the login ends (its refresh token may be spent). */
export class ReshapeFailed extends Error {
  override name = 'ReshapeFailed';
}

/** Per sign-in (engine): refreshes in flight and queued, and recent results by the refresh token they redeemed. */
export class RefreshCoordinator {
  private readonly inflight = new Map<string, Promise<RefreshOutcome>>();
  /** Per session: the refresh started last; the next one starts when it has settled. */
  private readonly tails = new Map<string, Promise<RefreshOutcome>>();
  private readonly rotated = new Map<string, Remembered>();
  /** Per session: a result whose refresh token did not rotate, kept only until the session's refreshes settle. */
  private readonly settling = new Map<string, { key: string; entry: Remembered }>();

  constructor(private readonly engine: Engine) {}

  private session(sessionID: string): string {
    return `${this.engine.signInKey}\n${sessionID}`;
  }

  /** Where a result is remembered: under the session and the refresh token it redeemed. */
  private static rotationKey(session: string, refreshToken: string | undefined): string {
    return `${session}\n${refreshToken}`;
  }

  /** The newest login this process refreshed from `login` (following rotations), or `login` itself. */
  newest(sessionID: string, login: LoginSession): LoginSession {
    const session = this.session(sessionID);
    let current = login;
    for (let hops = 0; hops < 100 && current.refreshToken; hops += 1) {
      const entry = this.rotated.get(RefreshCoordinator.rotationKey(session, current.refreshToken));
      if (!entry || Date.now() - entry.at > ROTATION_GRACE_MS || generation(entry.login) <= generation(current)) break;
      current = entry.login;
    }
    return current;
  }

  /**
   * One refresh per (session, API) at a time, and one refresh grant per session at a time; every caller of
   * one refresh gets the same outcome or error. `req` is the first caller's: afterCallback runs with it when
   * the login's refresh brings a new ID token.
   */
  refresh(req: Request, login: LoginSession, target?: ApiTarget): Promise<RefreshOutcome> {
    const session = this.session(req.sessionID);
    const key = `${session}\n${target?.key ?? ''}`;
    const flying = this.inflight.get(key);
    if (flying) return flying;
    const before = this.tails.get(session);
    const start = () => this.run(req, login, target);
    const promise: Promise<RefreshOutcome> = (before ? before.then(start, start) : start()).finally(() => {
      this.inflight.delete(key);
      if (this.tails.get(session) === promise) {
        this.tails.delete(session);
        this.settled(session);
      }
    });
    this.inflight.set(key, promise);
    this.tails.set(session, promise);
    return promise;
  }

  private async run(req: Request, login: LoginSession, target: ApiTarget | undefined): Promise<RefreshOutcome> {
    // A refresh queued behind another starts from its result: the refresh token that one rotated in.
    const from = this.newest(req.sessionID, login);
    const answer = await this.engine.refresh(from, target);
    const outcome = target
      ? this.apiRefreshed(from, answer, target)
      : { login: await this.refreshed(req, from, answer) };
    outcome.login.generation = generation(from) + 1;
    const session = this.session(req.sessionID);
    const key = RefreshCoordinator.rotationKey(session, from.refreshToken);
    const entry = this.remember(key, outcome.login);
    // Not rotated: the refresh token stays valid (RFC 6749 §6), so a later request that loaded the session
    // before this refresh may redeem it again (one more grant, nothing revoked). The result is kept only for
    // the refreshes of this session queued behind it; a process under load then holds none of them.
    if (outcome.login.refreshToken === from.refreshToken) this.settling.set(session, { key, entry });
    return outcome;
  }

  /** The login's own tokens renewed (and its claims, shaped again, when an ID token came back). */
  private async refreshed(req: Request, from: LoginSession, answer: Refreshed): Promise<LoginSession> {
    const { tokens, claims, certificateBinding } = answer;
    let next = withTokens(from, tokens, claims, certificateBinding);
    if (claims) next = await reshape(req, this.engine, next, from);
    next.renewedAt = Date.now();
    log('refreshed the tokens (generation %d)', generation(from) + 1);
    const expiry = next.expiresAt !== undefined ? { expiresAt: next.expiresAt } : {};
    this.engine.emit({ type: 'token.refreshed', ...expiry });
    return next;
  }

  /** An API's token stored with the login; the login's own tokens stay as they were. */
  private apiRefreshed(from: LoginSession, answer: Refreshed, target: ApiTarget): RefreshOutcome {
    const { tokens, refused } = answer;
    if (refused) {
      // The token is not used, but a refresh token the response rotated in is now the only live one.
      if (!tokens.refresh_token || tokens.refresh_token === from.refreshToken) throw refused;
      return { login: withRefreshToken(from, tokens), refused };
    }
    const next = withApiToken(from, target.key, tokens, answer.certificateBinding);
    log('obtained an access token for an API (generation %d)', generation(from) + 1);
    const expiresIn = tokens.expires_in;
    const expiry = typeof expiresIn === 'number' ? { expiresAt: Math.floor(Date.now() / 1000) + expiresIn } : {};
    this.engine.emit({ type: 'token.refreshed', ...expiry, api: target.label });
    return { login: next };
  }

  /** How many refresh results are kept (for tests). */
  get rememberedCount(): number {
    return this.rotated.size;
  }

  private remember(key: string, login: LoginSession): Remembered {
    const now = Date.now();
    for (const [old, entry] of this.rotated) {
      if (now - entry.at <= ROTATION_GRACE_MS && this.rotated.size < MAX_ROTATIONS) break; // oldest first
      this.rotated.delete(old);
    }
    const entry = { login, at: now };
    this.rotated.set(key, entry);
    return entry;
  }

  /** The session's refreshes have all settled: forget its last result if its refresh token did not rotate. */
  private settled(session: string): void {
    const last = this.settling.get(session);
    if (!last) return;
    this.settling.delete(session);
    // A later refresh that rotated may have replaced the entry under the same key: that one stays.
    if (this.rotated.get(last.key) === last.entry) this.rotated.delete(last.key);
  }
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

/** The sign-in's coordinator (one per engine, made on first use). */
export function coordinatorOf(engine: Engine): RefreshCoordinator {
  let coordinator = coordinators.get(engine);
  if (!coordinator) {
    coordinator = new RefreshCoordinator(engine);
    coordinators.set(engine, coordinator);
  }
  return coordinator;
}
