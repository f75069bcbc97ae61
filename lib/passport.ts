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
import { resolveConfig } from './config/resolve.js';
import { createEngine, type Engine } from './engine/engine.js';
import { carriesAuthorizationResponse, type LoginResult } from './engine/callback.js';
import { RequestError } from './core/errors.js';
import { createLogger } from './core/log.js';
import { pathOf, singleQueryValue } from './core/url.js';
import { regenerateSession } from './state/session.js';
import type { CertificateBinding, RequestWithSession } from './core/model.js';
import { resolveLogout, type LogoutOptions } from './config/logout.js';
import type { AuthorizationParamValue, ParAuthConfig, TokenSet } from './core/types.js';

const log = createLogger('passport');

/**
 * The token endpoint's answer; `dpopJwk` is the per-login DPoP private key when `dpop: true`;
 * `certificateBound` and `cnf` are set when the access token is bound to the `tls` certificate (RFC 8705 §3);
 * `authorization_details` is what the server granted (RFC 9396 §7, only types the login asked for).
 */
export type ParTokenSet = TokenSet & { dpopJwk?: JWK } & Partial<CertificateBinding>;

/** The validated ID token claims. */
export type ParClaims = LoginResult['claims'];

/** The user verify hands to Passport; `false` (or nothing) refuses the login. */
type StrategyUser = Express.User | false | null;

/** `done(err)`, `done(null, false, info)` (the login is refused) or `done(null, user, info)`. */
export type ParVerifyCallback = (err: unknown, user?: StrategyUser, info?: Record<string, unknown>) => void;

export type ParVerifyFunction = (tokens: ParTokenSet, claims: ParClaims, done: ParVerifyCallback) => unknown;
export type ParVerifyFunctionWithRequest = (
  req: Request,
  tokens: ParTokenSet,
  claims: ParClaims,
  done: ParVerifyCallback,
) => unknown;

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

/**
 * `parAuth()`'s options the strategy takes: not `afterCallback` (the verify function shapes the user) nor
 * `backchannelLogout` (passport.session() keeps the login, which a logout token cannot reach).
 */
type StrategyConfig = Omit<ParAuthConfig, 'afterCallback' | 'backchannelLogout'>;

/** `parAuth()`'s options (but afterCallback and backchannelLogout) plus the strategy's own. */
export interface ParStrategyOptions extends StrategyConfig, ParStrategyOwnOptions {
  passReqToCallback?: false;
}

export interface ParStrategyOptionsWithRequest extends StrategyConfig, ParStrategyOwnOptions {
  /** Calls verify as `verify(req, tokens, claims, done)`. */
  passReqToCallback: true;
}

/**
 * Codes that end the attempt with `fail()` (so `failureRedirect`/`failureMessage` apply): the browser's
 * callback is at fault or the user refused, and starting the login again is the remedy. Everything else,
 * including `authorization_error` (the server rejected the request: usually a configuration problem),
 * goes to `error()` and so to Express's error handling.
 */
/** The strategy's own options, checked before the shared ones (resolveConfig). */
function checkStrategyOptions(
  config: Record<string, unknown>,
  own: { callbackPath?: unknown; passReqToCallback?: unknown; name?: unknown },
): void {
  if ('afterCallback' in config) {
    throw new TypeError('"afterCallback" is not used by ParStrategy: shape the user in the verify function');
  }
  if ('backchannelLogout' in config) {
    const message = '"backchannelLogout" is a parAuth() option: ParStrategy leaves the login to passport.session()';
    throw new TypeError(message);
  }
  const { callbackPath, passReqToCallback, name } = own;
  if (callbackPath !== undefined && typeof callbackPath !== 'string') {
    throw new TypeError('"callbackPath" must be a path starting with "/"');
  }
  if (passReqToCallback !== undefined && typeof passReqToCallback !== 'boolean') {
    throw new TypeError('"passReqToCallback" must be a boolean');
  }
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new TypeError('"name" must be a non-empty string');
  }
}

/** What verify decided: the user (or a refusal) and Passport's info. */
interface VerifyOutcome {
  user: StrategyUser | undefined;
  info: Record<string, unknown> | undefined;
}

const FAIL_CODES = new Set([
  'access_denied', 'login_required', 'state_missing', 'state_mismatch', 'callback_params_invalid', 'iss_missing',
  'iss_mismatch', 'code_missing',
]);

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
  /** Where a callback may arrive: the redirect_uri's path, and `callbackPath` behind a prefix-stripping proxy. */
  private readonly callbackPaths: ReadonlySet<string>;

  constructor(options: ParStrategyOptions, verify: ParVerifyFunction);
  constructor(options: ParStrategyOptionsWithRequest, verify: ParVerifyFunctionWithRequest);
  constructor(
    options: ParStrategyOptions | ParStrategyOptionsWithRequest,
    verify: ParVerifyFunction | ParVerifyFunctionWithRequest,
  ) {
    super();
    if (!options || typeof options !== 'object') throw new TypeError('ParStrategy options must be an object');
    if (typeof verify !== 'function') {
      throw new TypeError('ParStrategy needs a verify function: (tokens, claims, done) => done(null, user)');
    }
    const { callbackPath, passReqToCallback, name, ...config } = options;
    checkStrategyOptions(config, { callbackPath, passReqToCallback, name });
    const resolved = resolveConfig(config as ParAuthConfig, callbackPath !== undefined ? { callbackPath } : {});
    this.engine = createEngine(resolved);
    this.name = name ?? 'par';
    this.verify = verify;
    this.passReqToCallback = passReqToCallback === true;
    const { redirectUri, routes } = this.engine.config;
    this.callbackPaths = new Set([new URL(redirectUri).pathname, ...(routes.callback ? [routes.callback] : [])]);
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
   * const signup = { authorizationParams: { screen_hint: 'signup' }, returnTo: '/welcome' };
   * app.get('/signup', passport.authenticate('par', signup));
   */
  override authenticate(req: Request, options?: ParAuthenticateOptions): void {
    this.engine.checkOnFirstUse();
    // Contract, "Methods": only GET starts a login or completes a callback. A HEAD (link prefetchers,
    // monitors) or a POST changes nothing: no pushed request, no transaction, no code redeemed. Nor does
    // it continue as if authenticated: Passport's fail() (so strategy chains and failureRedirect apply).
    if (req.method !== 'GET') {
      // RFC 9110 §15.5.6: a 405 lists the methods the route takes.
      if (req.res && !req.res.headersSent) req.res.setHeader('Allow', 'GET');
      this.fail({ message: 'Only GET starts a login or completes a callback.', code: 'method_not_allowed' }, 405);
      return;
    }
    const opts = options ?? {};
    // The outcome is decided first and acted on outside the promise, so exactly one of redirect, fail,
    // success or error runs, and an error thrown by a later handler is not reported as a login error.
    const outcome = this.isCallback(req) ? this.callback(req, opts) : this.login(req, opts);
    outcome.then(
      (act) => this.act(act),
      (err: unknown) => this.act(() => this.error(err)),
    );
  }

  /**
   * Runs the decided action. What it throws (a redirect after a timeout middleware already answered:
   * ERR_HTTP_HEADERS_SENT) goes to error(), as parAuth() gives it to next(err): never an unhandled rejection.
   */
  private act(action: () => void): void {
    try {
      action();
    } catch (err) {
      try {
        this.error(err);
      } catch (again) {
        log('could not report an error after the outcome: %s', (again as Error).message);
      }
    }
  }

  /** A callback carries `state`, `code` or `error`, and arrives on the callback path (else it is a login start). */
  private isCallback(req: Request): boolean {
    const url = req.originalUrl ?? req.url;
    if (!this.callbackPaths.has(pathOf(url))) return false;
    return carriesAuthorizationResponse(url);
  }

  private async login(req: Request, options: ParAuthenticateOptions): Promise<() => void> {
    if (options.returnTo !== undefined && typeof options.returnTo !== 'string') {
      throw new TypeError('"returnTo" must be a path string such as "/profile"');
    }
    const returnTo = options.returnTo ?? queryReturnTo(req) ?? (req as Partial<RequestWithSession>).session?.returnTo;
    const url = await this.engine.startLogin(req, { returnTo, authorizationParams: options.authorizationParams });
    return () => this.redirect(url);
  }

  private async callback(req: Request, options: ParAuthenticateOptions): Promise<() => void> {
    let result: LoginResult;
    try {
      result = await this.engine.completeLogin(req);
    } catch (err) {
      if (err instanceof RequestError && FAIL_CODES.has(err.code)) {
        return () => this.fail({ message: err.message, code: err.code }, err.status);
      }
      throw err;
    }
    const { user, info } = await this.runVerify(req, result);
    if (!user) {
      this.engine.emit({ type: 'callback.failed', code: 'verify_refused', status: 401 });
      return () => this.fail(info ?? {});
    }
    // For successReturnToOrRedirect (passport's req.login() regenerates the session, so it survives only
    // with keepSessionInfo: true; info.returnTo, i.e. req.authInfo.returnTo, always has it). What stays in
    // req.session.returnTo is always the cleaned value, `/` included: a raw one stored by
    // connect-ensure-login (`//evil.example/x`) would be an open redirect (RFC 9700 §4.11).
    const r = req as RequestWithSession;
    if (result.returnTo !== '/' || r.session.returnTo !== undefined) r.session.returnTo = result.returnTo;
    const succeeded = () => this.engine.emit({ type: 'callback.succeeded', sub: result.claims.sub });
    return () => {
      // With assignProperty Passport stores no login; otherwise the event waits for req.login().
      if (options.assignProperty) succeeded();
      else watchLogin(req, succeeded);
      this.success(user, { returnTo: result.returnTo, ...info });
    };
  }

  /** Calls verify once with a `done` that settles a promise; a throw or rejection is an error. */
  private runVerify(req: Request, result: LoginResult): Promise<VerifyOutcome> {
    const { tokens: issued, dpopJwk, certificateBinding } = result;
    const tokens: ParTokenSet = { ...issued, ...(dpopJwk ? { dpopJwk } : {}), ...certificateBinding };
    return new Promise((resolve, reject) => {
      const done: ParVerifyCallback = (err, user, info) => (err ? reject(err) : resolve({ user, info }));
      try {
        const returned = this.passReqToCallback
          ? (this.verify as ParVerifyFunctionWithRequest)(req, tokens, result.claims, done)
          : (this.verify as ParVerifyFunction)(tokens, result.claims, done);
        if (returned && typeof (returned as Promise<unknown>).then === 'function') {
          (returned as Promise<unknown>).then(undefined, reject);
        }
      } catch (err) {
        reject(err);
      }
    });
  }

}

type LogIn = (user: Express.User, options?: unknown, done?: (err?: unknown) => void) => void;

/**
 * Wraps passport's `req.login()` for this request: `onSuccess` runs once the user is stored; when storing
 * fails (the session store is down), the session is regenerated, so express-session saves no user at the
 * end of the request (the contract: never half logged in).
 */
function watchLogin(req: Request, onSuccess: () => void): void {
  const r = req as Request & { login?: LogIn; logIn?: LogIn };
  const original = r.logIn;
  if (typeof original !== 'function') return;
  const wrapped: LogIn = (user, options, done) => {
    const callback = typeof options === 'function' ? (options as (err?: unknown) => void) : done;
    r.login = r.logIn = original;
    original.call(req, user, typeof options === 'function' ? {} : options, (err?: unknown) => {
      if (!err) {
        onSuccess();
        callback?.();
        return;
      }
      dropSession(req)
        .then(() => callback?.(err))
        .catch((thrown: unknown) => log('a req.login() callback threw: %s', (thrown as Error).message));
    });
  };
  r.login = r.logIn = wrapped;
}

/** A fresh, empty session in place of one that holds a user its store could not save. */
async function dropSession(req: Request): Promise<void> {
  const session = (req as Partial<RequestWithSession>).session;
  if (!session) return;
  try {
    await regenerateSession(req as RequestWithSession);
  } catch (err) {
    log('could not regenerate the session after a failed req.login(): %s', (err as Error).message);
  }
}

/** `?returnTo=`, read from the raw query as the login route reads it (a repeated value is none). */
function queryReturnTo(req: Request): string | undefined {
  return singleQueryValue(req.originalUrl ?? req.url, 'returnTo');
}

declare module 'express-session' {
  interface SessionData {
    /** Where passport's `successReturnToOrRedirect` goes (set by ParStrategy or connect-ensure-login). */
    returnTo?: string;
  }
}
export type { LogoutOptions } from './config/logout.js';

declare module 'passport' {
  interface AuthenticateOptions {
    /** ParStrategy: parameters for this login, merged over the configured ones (protocol parameters: TypeError). */
    authorizationParams?: Record<string, AuthorizationParamValue | undefined>;
    /** ParStrategy: where this login returns to (a same-origin path). */
    returnTo?: string;
  }
}
