/**
 * The engine shared by the Express middleware and the Passport strategy: discovery and the provider
 * self-check, starting a login (transaction, PKCE, DPoP key, PAR, redirect URL), completing it at the
 * callback (state, iss, code exchange, ID token), refreshing its tokens, the userinfo request, the
 * RP-initiated logout URL and back-channel logout tokens, with the client certificate (mTLS) where
 * configured. No Express routing and no Passport here: the adapters call these methods, each of which is
 * a step function (login.ts, callback.ts, tokens.ts, logout.ts, userinfo.ts) run on this engine's context.
 */
import type { Request } from 'express';
import type { ApiTarget, LogoutClaims, MtlsEndpointName, ResolvedConfig, ResolvedLogout } from '../core/model.js';
import type { LoginSession, ParEvent } from '../core/types.js';
import type { Warn } from '../core/warn.js';
import type { DpopBinding, DpopNonces } from '../protocol/dpop.js';
import type { StoredLogin } from '../state/login.js';
import { completeLogin, type CompleteLoginOptions, type LoginResult } from './callback.js';
import { createContext, dpopFor, emit, endpointOf, ready, type Ready } from './context.js';
import { startLogin, type StartLoginOptions } from './login.js';
import { checkLogoutToken, logoutUrl } from './logout.js';
import { checkOnFirstUse, warnAtCreation } from './startup.js';
import { refresh, type Refreshed } from './tokens.js';
import { processUserInfo, requestUserInfo, type UserInfoAnswer } from './userinfo.js';

export interface Engine {
  readonly config: ResolvedConfig;
  /** This sign-in's key in the session: its login and transactions live under it. */
  readonly signInKey: string;
  /** Validates a back-channel `logout_token` (Back-Channel Logout 1.0 §2.6); rejects: LogoutTokenError, ParError. */
  checkLogoutToken(token: unknown): Promise<LogoutClaims>;
  /** Discovery plus the self-check; rejects with one error listing what the server lacks. */
  ready(): Promise<Ready>;
  /**
   * Creates the transaction, pushes the request, saves the session; returns the URL to redirect to.
   * `authorizationParams` are merged over the configured ones (a protocol parameter rejects with a
   * `TypeError` naming it); `silent` pushes `prompt=none` and marks the transaction silent.
   */
  startLogin(req: Request, options?: StartLoginOptions): Promise<string>;
  /**
   * Validates the authorization response and redeems the code; consumes the transaction. `redirectUri`:
   * the one the login was started with, when not the configured one.
   */
  completeLogin(req: Request, options?: CompleteLoginOptions): Promise<LoginResult>;
  /**
   * RP-initiated logout URL, or undefined when the server has no end_session_endpoint (or is
   * unreachable). `logout` (from `resolveLogout()`) sets post_logout_redirect_uri and extra parameters.
   */
  logoutUrl(idToken: string | undefined, logout?: ResolvedLogout): Promise<string | undefined>;
  /**
   * Redeems the login's refresh token (RFC 6749 §6); returns the new tokens, when an ID token came back
   * its claims, and whether the new access token is certificate-bound. With `target`: a token for that API
   * (`audience` / RFC 8707 `resource`, `scope`), its `aud` checked (`refused` when it names another).
   */
  refresh(login: LoginSession, target?: ApiTarget): Promise<Refreshed>;
  /**
   * The URL of a server endpoint called with client credentials or the access token: its
   * `mtls_endpoint_aliases` entry when a client certificate is configured (RFC 8705 §5). Requests to it
   * must present that certificate (`config.tls.agent`, as the engine's own requests do).
   */
  endpoint(name: MtlsEndpointName): Promise<string | undefined>;
  /** How a request presents this login's access token: its DPoP key and nonces, or undefined (Bearer). */
  dpopFor(login: StoredLogin): Promise<DpopBinding | undefined>;
  /** The userinfo request with `accessToken`; `login`, as stored, says whether it is DPoP-bound. */
  requestUserInfo(login: StoredLogin | undefined, accessToken: string): Promise<UserInfoAnswer>;
  /** Checks a userinfo answer (Core §5.3.2) and returns its claims. */
  processUserInfo(answer: UserInfoAnswer, sub: string): Promise<Record<string, unknown>>;
  readonly dpopNonces: DpopNonces;
  emit(event: ParEvent): void;
  /** At the first request: the provider self-check in the background, a failure warned once (startup.ts). */
  checkOnFirstUse(): void;
  /** Start-up warnings (process.emitWarning), each code once for this engine. */
  readonly warn: Warn;
}

/**
 * One engine per `parAuth()` / `ParStrategy`: its context, and its methods bound to it. What the options
 * alone show is warned about now (startup.ts); nothing is asked of the server until the first use.
 */
export function createEngine(config: ResolvedConfig): Engine {
  const ctx = createContext(config);
  warnAtCreation(ctx);
  return {
    config,
    signInKey: ctx.signIn,
    dpopNonces: ctx.dpopNonces,
    emit: (event) => emit(ctx, event),
    warn: ctx.warn,
    checkOnFirstUse: () => checkOnFirstUse(ctx),
    ready: () => ready(ctx),
    startLogin: (req, options) => startLogin(ctx, req, options),
    completeLogin: (req, options) => completeLogin(ctx, req, options),
    refresh: (login, target) => refresh(ctx, login, target),
    logoutUrl: (idToken, logout) => logoutUrl(ctx, idToken, logout),
    checkLogoutToken: (token) => checkLogoutToken(ctx, token),
    endpoint: async (name) => endpointOf(ctx, (await ready(ctx)).metadata, name),
    dpopFor: (login) => dpopFor(ctx, login),
    requestUserInfo: (login, token) => requestUserInfo(ctx, login, token),
    processUserInfo: (answer, sub) => processUserInfo(ctx, answer, sub),
  };
}
