/**
 * What a browser's request says about itself. The one browser rule: whether a request is a page load,
 * which requiresAuth() (and so the claim checks) redirects to the login and attemptSilentLogin() sends
 * through a silent one, where anything else gets a 401. And Fetch Metadata (W3C): `Sec-Fetch-Dest` says
 * what the response is for, `Sec-Fetch-Site` whether another site started the request; under
 * `profile: 'fapi2'` that guards login initiation: FAPI 2.0 Security Profile (client requirements) asks
 * that the authorization process be started only with the user's consent, protected against CSRF.
 */
import type { Request } from 'express';
import { RequestError } from '../core/errors.js';

/** What these rules read of a request. */
type BrowserRequest = Pick<Request, 'method' | 'headers'>;

function header(req: BrowserRequest, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value.trim().toLowerCase() : undefined;
}

/**
 * A page load by a browser: a `GET` whose `Accept` names `text/html` (not `*\/*`: fetch() and curl send
 * that, and a 401 serves them better than a redirect to a login page), not XHR (`X-Requested-With`), and,
 * when the browser sends Fetch Metadata, for a document (a script's fetch() says `empty`, a frame
 * `iframe`). `Sec-Fetch-Mode` is not read: Node's own fetch always sends `cors`. With `forSilentLogin`, a
 * prefetch (`Sec-Purpose` or `Purpose: prefetch`) is none either: it would use up the one silent attempt
 * without the user ever seeing the page.
 */
export function isPageLoad(req: BrowserRequest, options: { forSilentLogin?: boolean } = {}): boolean {
  if (req.method !== 'GET') return false;
  if (header(req, 'x-requested-with') === 'xmlhttprequest') return false;
  // Stryker disable next-line StringLiteral: any text without text/html is as good as '' here
  if (!(header(req, 'accept') ?? '').includes('text/html')) return false;
  const dest = header(req, 'sec-fetch-dest');
  if (dest !== undefined && dest !== 'document') return false;
  if (!options.forSilentLogin) return true;
  const purpose = header(req, 'sec-purpose') ?? header(req, 'purpose');
  // Stryker disable next-line StringLiteral: any text without prefetch is as good as '' here
  return !(purpose ?? '').includes('prefetch');
}

/** A navigation or request another site started. A browser without Fetch Metadata sends no header: not known. */
function isCrossSite(req: BrowserRequest): boolean {
  return header(req, 'sec-fetch-site') === 'cross-site';
}

/**
 * Whether a login started by this request must be refused: profile `fapi2`, a `GET` (or `HEAD`) that
 * another site started. A `POST` is the app's own form, which it protects with its own CSRF token.
 */
export function refusesCrossSiteLogin(profile: string | undefined, req: BrowserRequest): boolean {
  return profile === 'fapi2' && (req.method === 'GET' || req.method === 'HEAD') && isCrossSite(req);
}

export function crossSiteLoginError(): RequestError {
  const message =
    'Another site started this login, which profile "fapi2" refuses (Sec-Fetch-Site: cross-site): ' +
    'start the login from a page of this app.';
  return new RequestError('cross_site_login', message, { status: 403 });
}
