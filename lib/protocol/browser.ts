/**
 * Fetch Metadata (W3C): browsers say in `Sec-Fetch-Site` whether another site started a request. Under
 * `profile: 'fapi2'` it guards login initiation: FAPI 2.0 Security Profile (client requirements) asks that
 * the authorization process be started only with the user's consent, protected against CSRF.
 */
import type { Request } from 'express';
import { RequestError } from '../core/errors.js';

/** A navigation or request another site started. A browser without Fetch Metadata sends no header: not known. */
function isCrossSite(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  return typeof site === 'string' && site.trim().toLowerCase() === 'cross-site';
}

/**
 * Whether a login started by this request must be refused: profile `fapi2`, a `GET` (or `HEAD`) that
 * another site started. A `POST` is the app's own form, which it protects with its own CSRF token.
 */
export function refusesCrossSiteLogin(profile: string | undefined, req: Request): boolean {
  return profile === 'fapi2' && (req.method === 'GET' || req.method === 'HEAD') && isCrossSite(req);
}

export function crossSiteLoginError(): RequestError {
  const message = 'Another site started this login, which profile "fapi2" refuses (Sec-Fetch-Site: cross-site): start the login from a page of this app.';
  return new RequestError('cross_site_login', message, { status: 403 });
}
