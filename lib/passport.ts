/**
 * The Passport adapter: `ParStrategy` starts a login (PAR, PKCE, state) and completes it at the
 * callback through the same engine as `parAuth()`, then hands the tokens and the validated ID token
 * claims to the application's verify function. No protocol logic lives here.
 *
 * @example
 * passport.use(new ParStrategy({ issuerBaseURL, baseURL, clientID, clientSecret, callbackPath: '/auth/callback' },
 *   (tokens, claims, done) => done(null, { id: claims.sub })));
 * app.get('/auth/login', passport.authenticate('par'));
 * app.get('/auth/callback', passport.authenticate('par', { failureRedirect: '/' }), (req, res) => res.redirect('/'));
 */
import type { Request } from 'express';
import type { JWK } from 'jose';
import { Strategy } from 'passport';
import { parseCallbackParams } from './protocol/callback.js';
import { resolveConfig } from './plumbing/config.js';
import { createEngine, type Engine, type LoginResult } from './engine.js';
import { CallbackError } from './plumbing/errors.js';
import type { RequestWithSession } from './plumbing/session.js';
import { resolveLogout, type LogoutOptions } from './protocol/end-session.js';
import type { CertificateBinding } from './protocol/tls.js';
import type { AuthorizationParamValue, ParAuthConfig, TokenSet } from './plumbing/types.js';

/**
 * The token endpoint's answer; `dpopJwk` is the per-login DPoP private key when `dpop: true`;
 * `certificateBound` and `cnf` are set when the access token is bound to the `tls` certificate (RFC 8705 §3).
 */
export type ParTokenSet = TokenSet & { dpopJwk?: JWK } & Partial<CertificateBinding>;

/** The validated ID token claims. */
export type ParClaims = LoginResult['claims'];

/** `done(err)`, `done(null, false, info)` (the login is refused) or `done(null, user, info)`. */
export type ParVerifyCallback = (err: unknown, user?: Express.User | false | null, info?: Record<string, unknown>) => void;

export type ParVerifyFunction = (tokens: ParTokenSet, claims: ParClaims, done: ParVerifyCallback) => unknown;
export type ParVerifyFunctionWithRequest = (req: Request, tokens: ParTokenSet, claims: ParClaims, done: ParVerifyCallback) => unknown;

/** `passport.authenticate('par', options)`: Passport's own options plus these, per request. */
export interface ParAuthenticateOptions {
  /** Merged over the configured `authorizationParams` for this login; protocol parameters throw a TypeError. */
  authorizationParams?: Record<string, AuthorizationParamValue | undefined>;
  /** Where the login returns to (a same-origin path); default `?returnTo=`, then `req.session.returnTo`. */
  returnTo?: string;
  [passportOption: string]: unknown;
}

interface ParStrategyOwnOptions {
  /** The redirect_uri path: redirect_uri = baseURL + callbackPath. Default `routes.callback`, else `/callback`. */
  callbackPath?: string;
  /** The strategy name for `passport.authenticate(name)`. Default `par`. */
  name?: string;
}

/** `parAuth()`'s options (without `afterCallback`: the verify function shapes the user) plus the strategy's own. */
export interface ParStrategyOptions extends Omit<ParAuthConfig, 'afterCallback'>, ParStrategyOwnOptions {
  passReqToCallback?: false;
}

export interface ParStrategyOptionsWithRequest extends Omit<ParAuthConfig, 'afterCallback'>, ParStrategyOwnOptions {
  /** Calls verify as `verify(req, tokens, claims, done)`. */
  passReqToCallback: true;
}

/**
 * Codes that end the attempt with `fail()` (so `failureRedirect`/`failureMessage` apply): the browser's
 * callback is at fault or the user refused, and starting the login again is the remedy. Everything else,
 * including `authorization_error` (the server rejected the request: usually a configuration problem),
 * goes to `error()` and so to Express's error handling.
 */
const FAIL_CODES = new Set(['access_denied', 'login_required', 'state_missing', 'state_mismatch', 'callback_params_invalid', 'iss_missing', 'iss_mismatch', 'code_missing']);

/**
 * Passport strategy for OpenID Connect with Pushed Authorization Requests (RFC 9126), PKCE and RFC 9207.
 *
 * @throws TypeError naming the option when the configuration is wrong.
 * @see https://www.rfc-editor.org/rfc/rfc9126 Pushed Authorization Requests
 */
export class ParStrategy extends Strategy {
  override name: string;
  private readonly engine: Engine;
  private readonly verify: ParVerifyFunction | ParVerifyFunctionWithRequest;
  private readonly passReqToCallback: boolean;

  constructor(options: ParStrategyOptions, verify: ParVerifyFunction);
  constructor(options: ParStrategyOptionsWithRequest, verify: ParVerifyFunctionWithRequest);
  constructor(options: ParStrategyOptions | ParStrategyOptionsWithRequest, verify: ParVerifyFunction | ParVerifyFunctionWithRequest) {
    super();
    if (!options || typeof options !== 'object') throw new TypeError('ParStrategy options must be an object');
    if (typeof verify !== 'function') throw new TypeError('ParStrategy needs a verify function: (tokens, claims, done) => done(null, user)');
    const { callbackPath, passReqToCallback, name, ...config } = options;
    if ('afterCallback' in config) throw new TypeError('"afterCallback" is not used by ParStrategy: shape the user in the verify function');
    if ('backchannelLogout' in config) throw new TypeError('"backchannelLogout" is a parAuth() option: ParStrategy leaves the login to passport.session()');
    if (callbackPath !== undefined && typeof callbackPath !== 'string') throw new TypeError('"callbackPath" must be a path starting with "/"');
    if (passReqToCallback !== undefined && typeof passReqToCallback !== 'boolean') throw new TypeError('"passReqToCallback" must be a boolean');
    if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) throw new TypeError('"name" must be a non-empty string');
    this.engine = createEngine(resolveConfig(config as ParAuthConfig, callbackPath !== undefined ? { callbackPath } : {}));
    this.name = name ?? 'par';
    this.verify = verify;
    this.passReqToCallback = passReqToCallback === true;
  }

  /**
   * RP-initiated logout URL for an ID token (OpenID Connect RP-Initiated Logout 1.0), or undefined when
   * the server has no end_session_endpoint. Call it before `req.logout()` with the ID token you kept.
   * `options.returnTo` (a same-origin path) becomes `post_logout_redirect_uri`; `options.logoutParams`
   * are added to the URL (not `id_token_hint`, `client_id` or `post_logout_redirect_uri`: TypeError).
   */
  logoutUrl(idToken: string | undefined, options?: LogoutOptions): Promise<string | undefined> {
    // A TypeError for a protocol parameter in logoutParams, before anything else.
    const logout = resolveLogout(this.engine.config, options ?? {});
    return this.engine.logoutUrl(idToken, logout);
  }

  /**
   * Passport calls this through `passport.authenticate(name, options)`; not called directly. Per
   * request, `options.authorizationParams` are merged over the configured ones (the protocol parameters
   * give a `TypeError` through `error()`), and `options.returnTo` is where the login returns to.
   *
   * @example
   * app.get('/signup', passport.authenticate('par', { authorizationParams: { screen_hint: 'signup' }, returnTo: '/welcome' }));
   */
  override authenticate(req: Request, options?: ParAuthenticateOptions): void {
    // Contract, "Methods": only GET starts a login or completes a callback. A HEAD (link prefetchers,
    // monitors) or a POST changes nothing: no pushed request, no transaction, no code redeemed.
    if (req.method !== 'GET') {
      this.pass();
      return;
    }
    // The outcome is decided first and acted on outside the promise, so exactly one of redirect, fail,
    // success or error runs, and an error thrown by a later handler is not reported as a login error.
    const outcome = isCallback(req) ? this.callback(req) : this.login(req, options ?? {});
    outcome.then(
      (act) => act(),
      (err: unknown) => this.error(err),
    );
  }

  private async login(req: Request, options: ParAuthenticateOptions): Promise<() => void> {
    if (options.returnTo !== undefined && typeof options.returnTo !== 'string') throw new TypeError('"returnTo" must be a path string such as "/profile"');
    const returnTo = options.returnTo ?? queryReturnTo(req) ?? (req as Partial<RequestWithSession>).session?.returnTo;
    const url = await this.engine.startLogin(req, { returnTo, authorizationParams: options.authorizationParams });
    return () => this.redirect(url);
  }

  private async callback(req: Request): Promise<() => void> {
    let result: LoginResult;
    try {
      result = await this.engine.completeLogin(req);
    } catch (err) {
      if (err instanceof CallbackError && FAIL_CODES.has(err.code)) {
        return () => this.fail({ message: err.message, code: err.code }, err.status);
      }
      throw err;
    }
    const { user, info } = await this.runVerify(req, result);
    if (!user) {
      this.engine.emit({ type: 'callback.failed', code: 'verify_refused', status: 401 });
      return () => this.fail(info ?? {});
    }
    // For successReturnToOrRedirect; passport's req.login() regenerates the session, so it survives only
    // with keepSessionInfo: true. info.returnTo (req.authInfo.returnTo) always has it.
    if (result.returnTo !== '/') (req as RequestWithSession).session.returnTo = result.returnTo;
    this.engine.emit({ type: 'callback.succeeded', sub: result.claims.sub });
    return () => this.success(user, { returnTo: result.returnTo, ...info });
  }

  /** Calls verify once with a `done` that settles a promise; a throw or rejection is an error. */
  private runVerify(req: Request, result: LoginResult): Promise<{ user: Express.User | false | null | undefined; info: Record<string, unknown> | undefined }> {
    const tokens: ParTokenSet = { ...result.tokens, ...(result.dpopJwk ? { dpopJwk: result.dpopJwk } : {}), ...result.certificateBinding };
    return new Promise((resolve, reject) => {
      const done: ParVerifyCallback = (err, user, info) => (err ? reject(err) : resolve({ user, info }));
      try {
        const returned = this.passReqToCallback
          ? (this.verify as ParVerifyFunctionWithRequest)(req, tokens, result.claims, done)
          : (this.verify as ParVerifyFunction)(tokens, result.claims, done);
        if (returned && typeof (returned as Promise<unknown>).then === 'function') (returned as Promise<unknown>).then(undefined, reject);
      } catch (err) {
        reject(err);
      }
    });
  }

}

/** A callback carries `state`, `code` or `error` (read from the raw query, as the engine does). */
function isCallback(req: Request): boolean {
  try {
    const params = parseCallbackParams(req.originalUrl ?? req.url);
    return params.state !== undefined || params.code !== undefined || params.error !== undefined;
  } catch {
    return true; // a malformed callback: the engine reports it
  }
}

function queryReturnTo(req: Request): string | undefined {
  const value = (req.query as Record<string, unknown> | undefined)?.returnTo;
  return typeof value === 'string' ? value : undefined;
}

declare module 'express-session' {
  interface SessionData {
    /** Where passport's `successReturnToOrRedirect` goes (set by ParStrategy or connect-ensure-login). */
    returnTo?: string;
  }
}
export type { LogoutOptions } from './protocol/end-session.js';

declare module 'passport' {
  interface AuthenticateOptions {
    /** ParStrategy: parameters for this login, merged over the configured ones (protocol parameters: TypeError). */
    authorizationParams?: Record<string, AuthorizationParamValue | undefined>;
    /** ParStrategy: where this login returns to (a same-origin path). */
    returnTo?: string;
  }
}
