/**
 * Where express-par is reached, checked at start-up: the issuer's and the app's URLs (https: but for
 * loopback hosts), and the paths of the routes it answers.
 */
import { fail, nonEmptyString } from '../core/assert.js';
import type { ResolvedRoutes } from '../core/model.js';
import type { RoutesConfig } from '../core/types.js';
import { isLoopbackHost } from '../core/url.js';

/**
 * An absolute http(s) URL, no fragment or credentials, no query unless `allowQuery`; `http:` only on
 * loopback if `httpsOnlyOffLoopback`.
 */
export function parseHttpUrl(value: unknown, option: string, httpsOnlyOffLoopback: boolean, allowQuery = false): URL {
  const raw = nonEmptyString(value, option);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(`"${option}" must be an absolute URL, e.g. "https://tenant.auth0.com" (got "${raw}")`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    fail(`"${option}" must be an http(s) URL (got "${url.protocol}")`);
  }
  if (url.protocol === 'http:' && httpsOnlyOffLoopback && !isLoopbackHost(url.hostname)) {
    fail(`"${option}" must use https: (http: is only allowed for loopback hosts such as localhost or 127.0.0.1)`);
  }
  if (url.hash || (url.search && !allowQuery)) fail(`"${option}" must not have a query or fragment`);
  if (url.username || url.password) fail(`"${option}" must not contain credentials`);
  return url;
}

/** A route's path (`fallback` when not given), or `false` for a route turned off. */
export function routePath(value: unknown, option: string, fallback: string): string | false {
  if (value === undefined) return fallback;
  if (value === false) return false;
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || /[?#\s\\]/.test(value)) {
    fail(`"${option}" must be a path starting with "/" (or false to turn the route off)`);
  }
  return value;
}

/**
 * `routes` (and the strategy's `callbackPath`, which names the callback route). The back-channel logout
 * route is off here: it is set once `backchannelLogout` is known to be on.
 */
export function resolveRoutes(routes: RoutesConfig | undefined, callbackPath: string | undefined): ResolvedRoutes {
  if (routes !== undefined && (typeof routes !== 'object' || routes === null)) fail('"routes" must be an object');
  const callback = callbackPath ?? routes?.callback;
  return {
    login: routePath(routes?.login, 'routes.login', '/login'),
    callback: routePath(callback, callbackPath ? 'callbackPath' : 'routes.callback', '/callback'),
    logout: routePath(routes?.logout, 'routes.logout', '/logout'),
    postLogoutRedirect: postLogoutRedirect(routes?.postLogoutRedirect),
    backchannelLogout: false,
  };
}

/**
 * A path under `baseURL`, or an absolute URL (https:, http: on loopback) of a page elsewhere, as
 * express-openid-connect takes it: configured by the app, never from a request, and registered with the
 * provider as a post_logout_redirect_uri.
 */
function postLogoutRedirect(value: unknown): string {
  if (value === false) fail('"routes.postLogoutRedirect" cannot be false');
  if (typeof value === 'string' && /^https?:\/\//i.test(value)) {
    return parseHttpUrl(value, 'routes.postLogoutRedirect', true, true).href;
  }
  return routePath(value, 'routes.postLogoutRedirect', '/') as string;
}

/** Whether `routes.postLogoutRedirect` names a page of its own (an absolute URL) rather than a path under baseURL. */
export function isAbsoluteUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/**
 * A redirect_uri given in code for one login and its callback (`res.oidc.callback({ redirectUri })`, a
 * callback route of the app's own): an absolute http(s) URL (http: on loopback only), no fragment (RFC
 * 6749 §3.1.2). Undefined: the configured one. The provider compares it with the registered ones.
 */
export function redirectUriOption(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  return parseHttpUrl(value, option, true, true).href;
}
