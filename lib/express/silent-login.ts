/**
 * `attemptSilentLogin()`: once per session, an anonymous browser navigation is sent through a
 * `prompt=none` login (OpenID Connect Core §3.1.2.1), so a user who is still signed in at the server
 * is signed in here without seeing anything. When the server needs the user, they come back anonymous.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { SetupError } from '../core/errors.js';
import { engineOf } from './request-keys.js';
import { isPageLoad, refusesCrossSiteLogin } from '../protocol/browser.js';
import { requireSession } from '../state/session.js';
import { markSilentAttempted, silentAttempted } from '../state/layout.js';

/**
 * Once per session (and per sign-in: a second `parAuth()` mount has its own attempt), a browser `GET`
 * by an anonymous user is sent through a `prompt=none` login with `returnTo` = the page. When the server
 * answers `login_required`, `consent_required`, `interaction_required` or
 * `account_selection_required`, the user comes back to the page anonymous, with no error; any other
 * error at the callback goes to `next(err)`. `HEAD`, scripts and signed-in users pass through.
 *
 * @example
 * app.use(parAuth(config));
 * app.get('/', attemptSilentLogin(), (req, res) => res.send(req.oidc.isAuthenticated() ? 'hello again' : 'hello'));
 */
export function attemptSilentLogin(): RequestHandler {
  return function attemptSilentLoginMiddleware(req: Request, res: Response, next: NextFunction) {
    const engine = engineOf(req);
    if (!engine || !req.oidc || !res.oidc) {
      const message = 'attemptSilentLogin() needs parAuth() to be mounted before it: app.use(parAuth({...})).';
      return next(new SetupError('middleware_missing', message));
    }
    if (!isPageLoad(req, { forSilentLogin: true }) || req.oidc.isAuthenticated()) return next();
    // profile fapi2: another site's link starts no login; the page loads anonymous, unmarked.
    if (refusesCrossSiteLogin(engine.config.profile, req)) return next();
    try {
      requireSession(req);
    } catch (err) {
      return next(err);
    }
    if (silentAttempted(req, engine.signInKey)) return next();
    // Marked before the redirect: whatever the server answers, the next page load is not redirected again.
    markSilentAttempted(req, engine.signInKey);
    res.oidc.login({ returnTo: req.originalUrl, silent: true }).catch(next);
  };
}
