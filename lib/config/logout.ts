/**
 * The options of `res.oidc.logout()` and `ParStrategy#logoutUrl()`, checked before anything changes:
 * where the browser goes back to after logout, and the application's extra end_session parameters
 * (OpenID Connect RP-Initiated Logout 1.0 §2).
 */
import { isRecord } from '../core/assert.js';
import type { ResolvedConfig, ResolvedLogout } from '../core/model.js';
import { joinUrl } from '../core/url.js';
import { safeReturnTo } from '../protocol/return-to.js';

export type LogoutParamValue = string | number | boolean;

/** What `res.oidc.logout()` (and `ParStrategy#logoutUrl`) accept. */
export interface LogoutOptions {
  /** A same-origin path; `post_logout_redirect_uri` = baseURL + returnTo. Default `routes.postLogoutRedirect`. */
  returnTo?: string;
  /**
   * Extra end_session parameters (`logout_hint`, `ui_locales`, `state`, …), over the configured
   * `logoutParams`; not the protocol ones. `null` leaves a parameter out; `id_token_hint: null` (as in
   * express-openid-connect) sends no `id_token_hint`.
   */
  logoutParams?: Record<string, LogoutParamValue | null | undefined>;
}

/** Set by express-par from the login and the configuration (RP-Initiated Logout 1.0 §2). */
const PROTOCOL_LOGOUT_PARAMS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri'];
const KNOWN = new Set(['returnTo', 'logoutParams']);

/**
 * Checks logout options before anything changes; a mistake (an unknown option, a protocol parameter in
 * `logoutParams`, a value that is not a string, number or boolean) throws a `TypeError` naming it.
 * A `returnTo` that is not a same-origin path (RFC 9700 §4.11) becomes `routes.postLogoutRedirect`.
 */
export function resolveLogout(config: ResolvedConfig, options: unknown = {}): ResolvedLogout {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('logout options must be an object: { returnTo?, logoutParams? }');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`"${key}" is not a logout option (use returnTo or logoutParams)`);
  }
  const { returnTo, logoutParams } = options as { returnTo?: unknown; logoutParams?: unknown };
  if (returnTo !== undefined && typeof returnTo !== 'string') {
    throw new TypeError('"returnTo" must be a path string such as "/goodbye"');
  }
  const path = returnTo === undefined ? '' : safeReturnTo(returnTo, '');
  const postLogoutRedirectUri = path ? joinUrl(config.baseURL, path) : config.postLogoutRedirectUri;
  const params = new URLSearchParams(config.logoutParams);
  for (const [key, value] of encodeLogoutParams(logoutParams)) params.set(key, value);
  // express-openid-connect's way to leave the hint out (Auth0 apps with long ID tokens use it).
  const noHint = isRecord(logoutParams) && logoutParams.id_token_hint === null;
  return { postLogoutRedirectUri, logoutParams: params, ...(noHint ? { idTokenHint: false as const } : {}) };
}

/**
 * The `logoutParams` option, or those of one logout, encoded: `undefined` and `null` values left out,
 * a protocol parameter (but `id_token_hint: null`) or a value that is not a string, number or boolean a
 * `TypeError` naming it.
 */
export function encodeLogoutParams(params: unknown): URLSearchParams {
  const out = new URLSearchParams();
  if (params === undefined) return out;
  if (!isRecord(params)) throw new TypeError('"logoutParams" must be an object');
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || (value === null && !PROTOCOL_LOGOUT_PARAMS.includes(key))) continue;
    if (key === 'id_token_hint' && value === null) continue;
    if (PROTOCOL_LOGOUT_PARAMS.includes(key)) {
      throw new TypeError(`"logoutParams.${key}" is set by express-par itself and cannot be overridden`);
    }
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw new TypeError(`"logoutParams.${key}" must be a string, number or boolean`);
    }
    out.set(key, String(value));
  }
  return out;
}
