/**
 * `res.oidc`: start a login or end one from any route. The default login and logout routes call the
 * same code, so a custom route (`/signup` with `screen_hint`, an invitation link with `organization`
 * and `invitation`, a logout that lands on `/goodbye`) behaves exactly like them.
 */
import type { Request, Response } from 'express';
import type { Engine } from '../engine/engine.js';
import { redirect } from './redirect.js';
import { resolveLogout, type LogoutOptions } from '../config/logout.js';
import { requireSession, rotateSession, saveSession } from '../state/session.js';
import { markSilentAttempted } from '../state/layout.js';
import { readStoredLogin } from '../state/login.js';
import type { AuthorizationParamValue, CallbackOptions } from '../core/types.js';
import { callbackRoute } from './callback-route.js';

export type { LogoutOptions } from '../config/logout.js';

/** What `res.oidc.login()` accepts. */
export interface LoginOptions {
  /** Where the browser goes after the login: a same-origin path; anything else becomes `/`. Default `/`. */
  returnTo?: string;
  /**
   * Parameters for this login, merged over the configured `authorizationParams` and pushed with PAR.
   * The protocol parameters (`state`, `nonce`, `redirect_uri`, `code_challenge*`, `response_type`,
   * `client_id`, `request_uri`, `request`, `dpop_jkt`, client credentials) throw a `TypeError`.
   */
  authorizationParams?: Record<string, AuthorizationParamValue | undefined>;
  /**
   * `prompt=none` (OpenID Connect Core §3.1.2.1): when the server needs the user (`login_required`,
   * `consent_required`, `interaction_required`, `account_selection_required`), the user comes back to
   * `returnTo` anonymous, with no error.
   */
  silent?: boolean;
}

export interface ResponseContext {
  /**
   * Starts a login: pushes the request (RFC 9126) and redirects to the authorization endpoint.
   * Rejects with a `TypeError` naming a protocol parameter given in `authorizationParams`.
   *
   * @example
   * app.get('/signup', (req, res, next) => {
   *   res.oidc.login({ returnTo: '/welcome', authorizationParams: { screen_hint: 'signup' } }).catch(next);
   * });
   */
  login(options?: LoginOptions): Promise<void>;
  /**
   * Ends the login (the session is regenerated; other sign-ins and pending logins stay) and redirects
   * to the server's end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0) or, without one, to
   * `returnTo`.
   *
   * @example
   * app.get('/bye', (req, res, next) => {
   *   res.oidc.logout({ returnTo: '/goodbye', logoutParams: { ui_locales: 'fr' } }).catch(next);
   * });
   */
  logout(options?: LogoutOptions): Promise<void>;
  /**
   * Completes the login on a callback route of the app's own (`routes.callback: false`), as the callback
   * route does: `redirectUri` is the one the login was started with (default baseURL + routes.callback).
   * Under parAuth() it rejects like the callback route fails (`.catch(next)`); under auth() errors go to
   * `next(err)`, as in express-openid-connect.
   *
   * @example
   * app.get('/auth/return', (req, res, next) => {
   *   res.oidc.callback({ redirectUri: 'https://app.example.com/auth/return' }).catch(next);
   * });
   */
  callback(options?: CallbackOptions): Promise<void>;
}

const LOGIN_OPTIONS = new Set(['returnTo', 'authorizationParams', 'silent']);

/** `res.oidc.login()`'s options as an object of known names (auth()'s login takes them too); else a TypeError. */
export function checkLoginOptionNames(options: unknown): LoginOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('login options must be an object: { returnTo?, authorizationParams?, silent? }');
  }
  for (const key of Object.keys(options)) {
    if (!LOGIN_OPTIONS.has(key)) {
      throw new TypeError(`"${key}" is not a login option (use returnTo, authorizationParams or silent)`);
    }
  }
  return options as LoginOptions;
}

function checkLoginOptions(options: unknown): LoginOptions {
  const { returnTo } = checkLoginOptionNames(options);
  if (returnTo !== undefined && typeof returnTo !== 'string') {
    throw new TypeError('"returnTo" must be a path string such as "/profile"');
  }
  return options as LoginOptions;
}

const CALLBACK_OPTIONS = new Set(['redirectUri', 'tokenEndpointParams']);

/** `res.oidc.callback()`'s options checked: a TypeError names a mistake before anything changes. */
export function checkCallbackOptions(options: unknown): CallbackOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('callback options must be an object: { redirectUri? }');
  }
  for (const key of Object.keys(options)) {
    if (!CALLBACK_OPTIONS.has(key)) throw new TypeError(`"${key}" is not a callback option (use redirectUri)`);
  }
  const { tokenEndpointParams } = options as CallbackOptions;
  if (tokenEndpointParams !== undefined && Object.keys(tokenEndpointParams).length > 0) {
    throw new TypeError('"tokenEndpointParams" is not supported: the token request carries what the specs name');
  }
  return options as CallbackOptions;
}

/** One object per request, its methods on the prototype (an object literal with two closures cost more). */
export function createResponseContext(req: Request, res: Response, engine: Engine): ResponseContext {
  return new OidcResponse(req, res, engine);
}

/** `res.oidc` of parAuth(); auth() (eoc/) extends it with express-openid-connect's behaviour. */
export class OidcResponse implements ResponseContext {
  readonly #req: Request;
  readonly #res: Response;
  readonly #engine: Engine;

  constructor(req: Request, res: Response, engine: Engine) {
    this.#req = req;
    this.#res = res;
    this.#engine = engine;
  }

  async login(options: LoginOptions = {}): Promise<void> {
    const url = await this.#engine.startLogin(this.#req, checkLoginOptions(options));
    redirect(this.#res, url);
  }

  async logout(options: LogoutOptions = {}): Promise<void> {
    const req = this.#req;
    const engine = this.#engine;
    const logout = resolveLogout(engine.config, options); // a TypeError before the session changes
    requireSession(req);
    const idToken = readStoredLogin(req, engine.signInKey)?.idToken;
    // Session fixation: a new id; other sign-ins, other tabs' pending logins and the silent-login mark stay.
    await rotateSession(req, engine.signInKey);
    // attemptSilentLogin() must not sign the user straight back in: the provider may have no
    // end_session_endpoint, or keep its session (the user did not confirm the logout there).
    if (idToken) markSilentAttempted(req, engine.signInKey);
    await saveSession(req);
    const remote = idToken ? await engine.logoutUrl(idToken, logout) : undefined;
    engine.emit({ type: 'logout', rpInitiated: remote !== undefined });
    redirect(this.#res, remote ?? logout.postLogoutRedirectUri);
  }

  async callback(options: CallbackOptions = {}): Promise<void> {
    const { redirectUri } = checkCallbackOptions(options);
    await callbackRoute(this.#engine, this.#req, this.#res, { redirectUri });
  }
}
