/**
 * `requiresAuth()`: lets authenticated requests through; sends a browser to the login, answers anything else
 * 401. With `{ acrValues, maxAge }` it asks more of the login (step-up authentication, RFC 9470); with a
 * function, it takes express-openid-connect's `requiresLoginCheck`.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestError, SetupError, StepUpRequiredError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { crossSiteLoginError, isPageLoad, refusesCrossSiteLogin } from '../protocol/browser.js';
import { safeReturnTo } from '../protocol/return-to.js';
import { authenticationShortfall, stepUpChallenge, type AuthenticationRequirement } from '../protocol/step-up.js';
import { idTokenPayload, readStoredLogin } from '../state/login.js';
import { justSteppedUpFor } from '../state/step-up.js';
import { redirect } from './redirect.js';
import { engineOf, mountPathOf } from './request-keys.js';

/** express-openid-connect's `requiresLoginCheck`: `true` when this request needs a login. */
export type RequiresLoginCheck = (req: Request) => boolean;

/** What `requiresAuth()` asks of the login besides its existence (RFC 9470). */
export interface RequiresAuthOptions {
  /** The ID token's `acr` must be one of these (most preferred first; pushed as `acr_values`). */
  acrValues?: string[];
  /** The ID token's `auth_time` must be at most this many seconds old (`clockTolerance` applies; pushed as max_age). */
  maxAge?: number;
}

/** What one `requiresAuth()` checks, from its argument. */
interface Rule {
  check?: RequiresLoginCheck;
  required?: AuthenticationRequirement;
}

const USAGE = 'requiresAuth(): give nothing, a function (req) => boolean (true when a login is required), or ' +
  '{ acrValues, maxAge }';

function acrValuesOption(value: unknown): string[] {
  const acr = (v: unknown) => typeof v === 'string' && /^[\x21-\x7e]{1,200}$/.test(v);
  if (!Array.isArray(value) || value.length === 0 || !value.every(acr)) {
    throw new TypeError('requiresAuth(): "acrValues" must be a non-empty array of acr values (strings without spaces)');
  }
  return [...(value as string[])];
}

function maxAgeOption(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError('requiresAuth(): "maxAge" must be a whole number of seconds, 0 or more');
  }
  return value;
}

/** The argument checked once, when the middleware is made (STYLE.md §5). */
function ruleOf(arg: unknown): Rule {
  if (arg === undefined) return {};
  if (typeof arg === 'function') return { check: arg as RequiresLoginCheck };
  if (arg === null || typeof arg !== 'object' || Array.isArray(arg)) throw new TypeError(USAGE);
  const options = arg as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (key !== 'acrValues' && key !== 'maxAge') {
      throw new TypeError(`requiresAuth(): "${key}" is not an option (use acrValues and/or maxAge)`);
    }
  }
  const required: AuthenticationRequirement = {};
  if (options.acrValues !== undefined) required.acrValues = acrValuesOption(options.acrValues);
  if (options.maxAge !== undefined) required.maxAge = maxAgeOption(options.maxAge);
  if (!required.acrValues && required.maxAge === undefined) {
    throw new TypeError('requiresAuth({}) asks for nothing: give acrValues and/or maxAge, or call requiresAuth()');
  }
  return { required };
}

/** Logged out: a page load goes to the login route with `returnTo`; anything else is a 401 `login_required`. */
function loginFirst(engine: Engine, req: Request, res: Response, next: NextFunction): void {
  const { routes, onRequiredAuth, profile } = engine.config;
  const loginRoute = routes.login;
  const login = onRequiredAuth === 'login' || (onRequiredAuth === undefined && loginRoute !== false);
  if (login && isPageLoad(req)) {
    // profile fapi2: no redirect into a login that another site started (FAPI 2.0, CSRF at initiation).
    if (refusesCrossSiteLogin(profile, req)) return next(crossSiteLoginError());
    // auth(): the login starts here, as express-openid-connect does (also with routes.login: false).
    if (onRequiredAuth === 'login') return void res.oidc.login({ returnTo: req.originalUrl }).catch(next);
    const target = `${mountPathOf(req)}${loginRoute}?returnTo=${encodeURIComponent(req.originalUrl)}`;
    return redirect(res, target);
  }
  next(loginRequired());
}

function loginRequired(): RequestError {
  return new RequestError('login_required', 'Authentication required.', { status: 401 });
}

/** RFC 9470 §3: the 401 a request that is no page load gets, its challenge on the response and the error. */
function stepUpRequired(res: Response, required: AuthenticationRequirement): StepUpRequiredError {
  const challenge = stepUpChallenge(required);
  if (!res.headersSent) res.setHeader('WWW-Authenticate', challenge);
  const message = 'This request needs the user to authenticate again, more strongly or more recently (RFC 9470).';
  const asked: { acrValues: string[]; maxAge?: number } = { acrValues: [...(required.acrValues ?? [])] };
  if (required.maxAge !== undefined) asked.maxAge = required.maxAge;
  return new StepUpRequiredError(message, asked, challenge);
}

function stillShort(): RequestError {
  const message =
    'The signed-in user\'s login does not do for this page, and the login just made for it did not change that.';
  return new RequestError('insufficient_user_authentication', message, { status: 403 });
}

/**
 * Signed in, but the login does not do for this request (`required` it falls short of, or the app's check).
 * A page load goes through a new pushed login (RFC 9470 §4: `acr_values`, `max_age`) that returns to the page,
 * unless a step-up for this page just brought the login back: then 403, never a second round. Anything else
 * gets the RFC 9470 §3 challenge (or, for the app's check, 401 `login_required`).
 */
function stepUp(
  engine: Engine,
  req: Request,
  res: Response,
  next: NextFunction,
  required?: AuthenticationRequirement,
): void {
  if (!isPageLoad(req)) return next(required ? stepUpRequired(res, required) : loginRequired());
  const login = readStoredLogin(req, engine.signInKey);
  if (login && justSteppedUpFor(login, safeReturnTo(req.originalUrl))) return next(stillShort());
  const authorizationParams = {
    ...(required?.acrValues ? { acr_values: required.acrValues.join(' ') } : {}),
    ...(required?.maxAge !== undefined ? { max_age: required.maxAge } : {}),
  };
  // startLogin() refuses a login another site started under profile fapi2, as the login route does.
  const options = { returnTo: req.originalUrl, authorizationParams, stepUp: true };
  engine.startLogin(req, options).then((url) => redirect(res, url), next);
}

/** `requiresAuth(check)`: the app's check decides whether a login is needed (express-openid-connect's semantics). */
function byCheck(check: RequiresLoginCheck, engine: Engine, req: Request, res: Response, next: NextFunction): void {
  let needed: unknown;
  try {
    needed = check(req);
  } catch (err) {
    return next(err);
  }
  if (needed !== null && typeof needed === 'object' && typeof (needed as Promise<unknown>).then === 'function') {
    return next(new TypeError('requiresAuth(check): the check must return a boolean, not a Promise'));
  }
  if (!needed) return next();
  if (!req.oidc.isAuthenticated()) return loginFirst(engine, req, res, next);
  stepUp(engine, req, res, next);
}

/**
 * Lets authenticated requests through. Otherwise a page load (protocol/browser.ts: a `GET` that asks for
 * HTML, not a script or a frame) is redirected to the login route with `returnTo` set to the original
 * URL, and anything else (an API call, fetch() or curl with `Accept: *\/*`, a `HEAD`) gets a 401
 * `login_required` error.
 *
 * `requiresAuth({ acrValues, maxAge })` (RFC 9470) also asks that the login's ID token have an `acr` among
 * `acrValues` and an `auth_time` at most `maxAge` seconds old. A signed-in user whose login falls short is
 * sent by a page load through a new login that asks for them and comes back to the page; anything else gets
 * 401 `step_up_required` with `WWW-Authenticate: Bearer error="insufficient_user_authentication", …`. A login
 * that comes back still short gets 403 `insufficient_user_authentication`, never another round.
 *
 * `requiresAuth(check)` takes express-openid-connect's `requiresLoginCheck`: `check(req)` returns `true` when
 * the request needs a login; `false` lets it through, signed in or not.
 *
 * @example
 * app.get('/account', requiresAuth(), handler);
 * app.post('/payments', requiresAuth({ acrValues: ['urn:example:mfa'] }), pay); // acr values are the server's
 * app.get('/security', requiresAuth({ maxAge: 300 }), handler); // signed in within the last 5 minutes
 *
 * @throws TypeError when the argument is none of these.
 * @see https://www.rfc-editor.org/rfc/rfc9470 OAuth 2.0 Step Up Authentication Challenge Protocol
 */
export function requiresAuth(arg?: RequiresLoginCheck | RequiresAuthOptions): RequestHandler {
  const { check, required } = ruleOf(arg);
  return function requiresAuthMiddleware(req: Request, res: Response, next: NextFunction) {
    const engine = engineOf(req);
    if (!engine) {
      const message = 'requiresAuth() needs parAuth() to be mounted before it: app.use(parAuth({...})).';
      return next(new SetupError('middleware_missing', message));
    }
    if (check) return byCheck(check, engine, req, res, next);
    if (!req.oidc.isAuthenticated()) return loginFirst(engine, req, res, next);
    if (!required) return next();
    const login = readStoredLogin(req, engine.signInKey)!;
    const now = Math.floor(Date.now() / 1000);
    if (!authenticationShortfall(idTokenPayload(login), required, now, engine.config.clockTolerance)) return next();
    stepUp(engine, req, res, next, required);
  };
}
