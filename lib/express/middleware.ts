/**
 * The Express adapter: `parAuth()` sets `req.oidc` and `res.oidc` on every request, ends a login that a
 * back-channel logout recorded, and answers its routes: `GET` login, callback and logout, and `POST`
 * back-channel logout. Plain `(req, res, next)` functions, so Express 4 and 5 behave alike. All protocol
 * work is the engine's.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ParError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { ResolvedRoutes } from '../core/model.js';
import type { ParAuthConfig } from '../core/types.js';
import { singleQueryValue } from '../core/url.js';
import { resolveConfig } from '../config/resolve.js';
import { createEngine, type Engine } from '../engine/engine.js';
import { readStoredLogin } from '../state/login.js';
import { backchannelLogout, endIfLoggedOut } from './backchannel-route.js';
import { createRequestContext } from './request-context.js';
import { provideResponseOidc } from './oidc-property.js';
import { sessionSetupCheck } from './session-setup.js';
import './augment.js';

const log = createLogger('middleware');

type Route = (req: Request, res: Response, loginReturnTo: string | undefined) => Promise<void>;

// Only returnTo comes from the query: every other parameter of a login comes from code
// (authorizationParams, res.oidc.login()), never from whoever sends the browser here.
const loginRoute: Route = (req, res, fallback) =>
  res.oidc.login({ returnTo: singleQueryValue(req.originalUrl ?? req.url, 'returnTo') ?? fallback });

const callbackRoute: Route = (_req, res) => res.oidc.callback();

const logoutRoute: Route = (_req, res) => res.oidc.logout();

/** The route `path` names; a disabled route is false, never equal to a path. */
function routeFor(routes: ResolvedRoutes, path: string): Route | undefined {
  if (path === routes.login) return loginRoute;
  if (path === routes.callback) return callbackRoute;
  if (path === routes.logout) return logoutRoute;
  return undefined;
}

/** The login, callback and logout routes answer `GET` only (contract, "Methods"); anything else goes on. */
function answerRoute(mount: SignInMount, req: Request, res: Response, next: NextFunction): void {
  // GET only: a HEAD (link prefetchers, monitors) must not push a request or consume a transaction.
  if (req.method !== 'GET') return next();
  const route = routeFor(mount.engine.config.routes, req.path);
  if (!route) return next();
  route(req, res, mount.loginReturnTo).catch((err: unknown) => {
    log('%s failed: %s', req.path, err instanceof ParError ? err.code : 'unexpected error');
    next(err);
  });
}

/**
 * With back-channel logout on, a logout recorded by any instance ends this request's login first:
 * answered from the cache (undefined), else from the store (a promise).
 */
function checkLoggedOut(engine: Engine, req: Request): Promise<void> | undefined {
  const login = engine.config.backchannelLogout ? readStoredLogin(req, engine.signInKey) : undefined;
  return login ? endIfLoggedOut(engine, req, login) : undefined;
}

/** What a middleware that mounts a sign-in needs: parAuth()'s or auth()'s `req.oidc` and `res.oidc`. */
export interface SignInMount {
  engine: Engine;
  /** Sets `req.oidc` and `res.oidc` for this request; absent: the caller (auth()) has set them. */
  contexts?(req: Request, res: Response): void;
  /** Where the login route returns to without `?returnTo=`; default `/`. */
  loginReturnTo?: string;
}

/**
 * The sign-in's middleware: `req.oidc` and `res.oidc` on every request, a login a back-channel logout
 * recorded ended, and its routes answered (through `res.oidc`, so auth()'s behaviour applies to them).
 */
export function signInMiddleware(mount: SignInMount): RequestHandler {
  const { engine } = mount;
  const { routes } = engine.config;
  const checkSession = sessionSetupCheck(engine.warn);
  return function parAuthMiddleware(req: Request, res: Response, next: NextFunction) {
    engine.checkOnFirstUse();
    mount.contexts?.(req, res);
    // express-session missing or mounted after parAuth(): the setup error on every route, not only /login.
    const setupError = checkSession(req, parAuthMiddleware);
    if (setupError) return next(setupError);
    // The back-channel logout route takes only POST (contract, "Methods").
    if (routes.backchannelLogout !== false && req.path === routes.backchannelLogout && req.method === 'POST') {
      backchannelLogout(engine, req, res).catch((err: unknown) => next(err));
      return;
    }
    const reading = checkLoggedOut(engine, req);
    if (!reading) return answerRoute(mount, req, res, next);
    reading.then(() => answerRoute(mount, req, res, next), (err: unknown) => next(err));
  };
}

/**
 * Mounts PAR sign-in on an Express app.
 *
 * @example
 * app.use(session({ secret, resave: false, saveUninitialized: false }));
 * app.use(parAuth({
 *   issuerBaseURL: 'https://tenant.auth0.com', baseURL: 'https://app.example.com', clientID, clientSecret,
 * }));
 * app.get('/profile', requiresAuth(), (req, res) => res.json(req.oidc.user));
 *
 * @throws TypeError naming the option when the configuration is wrong.
 * @see https://www.rfc-editor.org/rfc/rfc9126 Pushed Authorization Requests
 */
export function parAuth(options: ParAuthConfig): RequestHandler {
  const engine = createEngine(resolveConfig(options));
  return signInMiddleware({
    engine,
    // The only two properties parAuth() gives (request-keys.ts): the engine and mount path live in req.oidc;
    // res.oidc is made from it when read (oidc-property.ts).
    contexts(req, res) {
      const context = createRequestContext(req, engine);
      req.oidc = context;
      provideResponseOidc(res, context);
    },
  });
}
