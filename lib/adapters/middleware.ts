/**
 * The Express adapter: `parAuth()` answers the login, callback and logout routes and sets `req.oidc`;
 * `requiresAuth()` guards routes. Plain `(req, res, next)` functions, so Express 4 and 5 behave alike.
 * All protocol work is the engine's.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resolveConfig } from '../config/resolve.js';
import { createEngine } from '../engine/engine.js';
import { isStrayCallback, type LoginResult } from '../engine/callback.js';
import { CallbackError, ParError, SetupError, SilentLoginDeclined } from '../core/errors.js';
import { crossSiteLoginError, refusesCrossSiteLogin } from '../protocol/browser.js';
import { createLogger } from '../core/log.js';
import { singleQueryValue } from '../core/url.js';
import { createRequestContext } from './request-context.js';
import { engineOf, mountPathOf } from './request-keys.js';
import { createResponseContext } from './response-context.js';
import { redirect } from './redirect.js';
import { rotateSession, saveSession } from '../state/session.js';
import type { RequestWithSession } from '../core/model.js';
import { clearLogin, readStoredLogin, storeLogin, withTokens } from '../state/login.js';
import { backchannelLogout, endIfLoggedOut } from './backchannel-route.js';
import type { LoginSession, ParAuthConfig } from '../core/types.js';
import '../plumbing/augment.js';

const log = createLogger('middleware');

/**
 * Mounts PAR sign-in on an Express app.
 *
 * @example
 * app.use(session({ secret, resave: false, saveUninitialized: false }));
 * app.use(parAuth({ issuerBaseURL: 'https://tenant.auth0.com', baseURL: 'https://app.example.com', clientID, clientSecret }));
 * app.get('/profile', requiresAuth(), (req, res) => res.json(req.oidc.user));
 *
 * @throws TypeError naming the option when the configuration is wrong.
 * @see https://www.rfc-editor.org/rfc/rfc9126 Pushed Authorization Requests
 */
export function parAuth(options: ParAuthConfig): RequestHandler {
  const engine = createEngine(resolveConfig(options));
  const { routes } = engine.config;

  return function parAuthMiddleware(req: Request, res: Response, next: NextFunction) {
    // The only two properties parAuth() adds (request-keys.ts): the engine and mount path live in req.oidc.
    req.oidc = createRequestContext(req, engine);
    res.oidc = createResponseContext(req, res, engine);
    // The back-channel logout route takes only POST (contract, "Methods").
    if (routes.backchannelLogout !== false && req.path === routes.backchannelLogout && req.method === 'POST') {
      backchannelLogout(engine, req, res).catch((err: unknown) => next(err));
      return;
    }
    // A logout recorded by any instance ends this login: answered from the cache, else from the store.
    const login = engine.config.backchannelLogout ? readStoredLogin(req, engine.signInKey) : undefined;
    if (login) {
      const reading = endIfLoggedOut(engine, req, login);
      if (reading) {
        reading.then(() => route(req, res, next), (err: unknown) => next(err));
        return;
      }
    }
    route(req, res, next);
  };

  function route(req: Request, res: Response, next: NextFunction): void {
    // GET only: a HEAD (link prefetchers, monitors) must not push a request or consume a transaction.
    if (req.method !== 'GET') return next();
    const path = req.path; // a disabled route is false: never equal to a path
    const handler = path === routes.login ? login : path === routes.callback ? callback : path === routes.logout ? logout : undefined;
    if (!handler) return next();
    handler(req, res).catch((err: unknown) => {
      log('%s failed: %s', req.path, err instanceof ParError ? err.code : 'unexpected error');
      next(err);
    });
  }

  // Only returnTo comes from the query: every other parameter of a login comes from code
  // (authorizationParams, res.oidc.login()), never from whoever sends the browser here.
  async function login(req: Request, res: Response): Promise<void> {
    const url = await engine.startLogin(req, { returnTo: singleQueryValue(req.originalUrl ?? req.url, 'returnTo') });
    redirect(res, url);
  }

  async function callback(req: Request, res: Response): Promise<void> {
    let result: LoginResult;
    let stored: LoginSession;
    try {
      result = await engine.completeLogin(req);
      stored = toLoginSession(result);
      // A hook that throws fails the callback like any other step: the earlier login ends too.
      if (engine.config.afterCallback) stored = await engine.config.afterCallback(req, res, stored);
      // a logout ends the logins that began before it; a session without maxAge is bounded from here
      if (engine.config.backchannelLogout) stored.loginAt = Math.floor(Date.now() / 1000);
    } catch (err) {
      if (err instanceof SilentLoginDeclined) {
        // attemptSilentLogin(): the server needs the user; back to the page, anonymous, no error. The
        // transaction is consumed and the session remembers the attempt, so there is no loop.
        await saveSession(req as RequestWithSession);
        redirect(res, err.returnTo);
        return;
      }
      // A link to the callback that names no pending login (any site can plant one) is no login in
      // progress: the existing login stays. A failure of a real transaction ends it.
      if (!isStrayCallback(err)) await forgetLogin(req, engine.signInKey);
      throw err;
    }
    const r = req as RequestWithSession;
    // Session fixation: a new session id for the logged-in session; other tabs' logins stay pending and
    // other sign-ins (another mount's issuer and client) keep their state.
    await rotateSession(r, engine.signInKey);
    // Without afterCallback the claims are the validated ID token's payload itself: no second parse.
    storeLogin(r, engine.signInKey, stored, { claimsFromIdToken: !engine.config.afterCallback });
    try {
      await saveSession(r);
    } catch (err) {
      clearLogin(r, engine.signInKey); // never leave the session half logged in
      throw err;
    }
    engine.emit({ type: 'callback.succeeded', sub: result.claims.sub });
    redirect(res, result.returnTo);
  }

  async function logout(_req: Request, res: Response): Promise<void> {
    await res.oidc.logout();
  }
}

function toLoginSession(result: LoginResult): LoginSession {
  const base: LoginSession = { idToken: result.tokens.id_token, claims: result.claims, ...(result.dpopJwk ? { dpopJwk: result.dpopJwk } : {}) };
  return withTokens(base, result.tokens, result.claims, result.certificateBinding);
}

/** A failed callback of a pending login never leaves a login behind (the contract); pending tabs are kept. */
async function forgetLogin(req: Request, key: string): Promise<void> {
  if (clearLogin(req, key)) {
    try {
      await saveSession(req as RequestWithSession);
    } catch (err) {
      log('could not save the session after a failed callback: %s', (err as Error).message);
    }
  }
}

/**
 * Lets authenticated requests through. Otherwise a browser `GET` is redirected to the login route with
 * `returnTo` set to the original URL, and anything else gets a 401 `login_required` error.
 */
export function requiresAuth(): RequestHandler {
  return function requiresAuthMiddleware(req: Request, res: Response, next: NextFunction) {
    const engine = engineOf(req);
    if (!engine) {
      return next(new SetupError('middleware_missing', 'requiresAuth() needs parAuth() to be mounted before it: app.use(parAuth({...})).'));
    }
    if (req.oidc.isAuthenticated()) return next();
    const loginRoute = engine.config.routes.login;
    const accept = String(req.headers.accept ?? '');
    const browser = (req.method === 'GET' || req.method === 'HEAD') && req.headers['x-requested-with'] !== 'XMLHttpRequest' && (accept === '' || accept.includes('text/html') || accept.includes('*/*'));
    if (loginRoute !== false && browser) {
      // profile fapi2: no redirect into a login that another site started (FAPI 2.0, CSRF at initiation).
      if (refusesCrossSiteLogin(engine.config.profile, req)) return next(crossSiteLoginError());
      const target = `${mountPathOf(req)}${loginRoute}?returnTo=${encodeURIComponent(req.originalUrl)}`;
      return redirect(res, target);
    }
    next(new CallbackError('login_required', 'Authentication required.', { status: 401 }));
  };
}
