/** `requiresAuth()`: lets authenticated requests through; sends a browser to the login, answers anything else 401. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestError, SetupError } from '../core/errors.js';
import { crossSiteLoginError, isPageLoad, refusesCrossSiteLogin } from '../protocol/browser.js';
import { redirect } from './redirect.js';
import { engineOf, mountPathOf } from './request-keys.js';

/**
 * Lets authenticated requests through. Otherwise a page load (protocol/browser.ts: a `GET` that asks for
 * HTML, not a script or a frame) is redirected to the login route with `returnTo` set to the original
 * URL, and anything else (an API call, fetch() or curl with `Accept: *\/*`, a `HEAD`) gets a 401
 * `login_required` error.
 */
export function requiresAuth(): RequestHandler {
  return function requiresAuthMiddleware(req: Request, res: Response, next: NextFunction) {
    const engine = engineOf(req);
    if (!engine) {
      const message = 'requiresAuth() needs parAuth() to be mounted before it: app.use(parAuth({...})).';
      return next(new SetupError('middleware_missing', message));
    }
    if (req.oidc.isAuthenticated()) return next();
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
    next(new RequestError('login_required', 'Authentication required.', { status: 401 }));
  };
}
