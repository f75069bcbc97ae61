/**
 * Where express-par is reached, checked at start-up: the issuer's and the app's URLs (https: but for
 * loopback hosts), and the paths of the routes it answers.
 */
import { fail, nonEmptyString } from '../core/assert.js';
import type { ResolvedRoutes } from '../core/model.js';
import type { RoutesConfig } from '../core/types.js';
import { isLoopbackHost } from '../core/url.js';

/** An absolute http(s) URL, no query, fragment or credentials; `http:` only on loopback if `httpsOnlyOffLoopback`. */
export function parseHttpUrl(value: unknown, option: string, httpsOnlyOffLoopback: boolean): URL {
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
  if (url.search || url.hash) fail(`"${option}" must not have a query or fragment`);
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
    postLogoutRedirect: routePath(routes?.postLogoutRedirect, 'routes.postLogoutRedirect', '/') || noPostLogoutRoute(),
    backchannelLogout: false,
  };
}

function noPostLogoutRoute(): never {
  return fail('"routes.postLogoutRedirect" cannot be false');
}
