/**
 * `auth()`: the drop-in for express-openid-connect (EOC) apps. It takes EOC's options with EOC's defaults
 * and environment variables, mounts express-session when the app has none, and gives `req.oidc` /
 * `res.oidc` EOC's shapes, on the same engine as `parAuth()` (PAR, PKCE, `iss`, signature checks).
 * In order, per request: the session; a login older than `session.absoluteDuration` ended; the sign-in
 * (its routes, back-channel logout); `authRequired`'s requiresAuth(); `attemptSilentLogin`'s middleware.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import { createEngine } from '../engine/engine.js';
import { guardSessionSave } from '../express/access-token.js';
import { signInMiddleware } from '../express/middleware.js';
import { provideResponseOidc } from '../express/oidc-property.js';
import { requiresAuth } from '../express/requires-auth.js';
import { attemptSilentLogin } from '../express/silent-login.js';
import { resolveEocConfig } from './config.js';
import { EocRequestContext } from './request-context.js';
import { endIfTooOld, exposeAppSession, sessionUnlessMounted } from './session.js';
import type { ConfigParams } from './types.js';

/** Says each warning once for this auth() (process.emitWarning, so `--no-warnings` silences them). */
function warnOnce(): (message: string) => void {
  const said = new Set<string>();
  return (message) => {
    if (said.has(message)) return;
    said.add(message);
    process.emitWarning(`auth(): ${message}`, { type: 'ExpressParWarning', code: 'EXPRESS_PAR_AUTH' });
  };
}

/** Runs `handlers` one after the other; the first error (or the end) goes to `done`. */
function chain(handlers: RequestHandler[]): (req: Request, res: Response, done: NextFunction) => void {
  return (req, res, done) => {
    let index = 0;
    const step = (err?: unknown): void => {
      if (err !== undefined && err !== null) return done(err);
      const handler = handlers[index++];
      if (!handler) return done();
      try {
        void handler(req, res, step);
      } catch (thrown) {
        done(thrown);
      }
    };
    step();
  };
}

/** The function `auth` with `auth.Store`: express-session's Store, so `require('memorystore')(auth)` works. */
export interface Auth {
  (config?: ConfigParams): RequestHandler;
  Store: typeof session.Store;
}

function createAuth(config: ConfigParams = {}): RequestHandler {
  const eoc = resolveEocConfig(config, process.env);
  const warn = warnOnce();
  eoc.warnings.forEach(warn);
  if (!eoc.session.store && process.env.NODE_ENV === 'production') {
    warn('sessions are kept in this process\'s memory: give session.store (e.g. connect-redis) in production');
  }
  const engine = createEngine(eoc.resolved);
  const signIn = signInMiddleware({ engine, loginReturnTo: eoc.resolved.baseURL.pathname });
  const after = chain([
    ...(eoc.authRequired ? [requiresAuth()] : []),
    ...(eoc.attemptSilentLogin ? [attemptSilentLogin()] : []),
  ]);
  const run = chain([
    sessionUnlessMounted(eoc.session, warn),
    (req, res, next) => {
      endIfTooOld(engine, eoc.session, req);
      exposeAppSession(req, eoc.session.name, engine);
      const context = new EocRequestContext(req, engine, guardSessionSave(req, engine), eoc, next, warn);
      req.oidc = context;
      provideResponseOidc(res, context); // res.oidc made when read (express/oidc-property.ts)
      next();
    },
    signIn,
    (req, res, next) => after(req, res, next),
  ]);
  return function authMiddleware(req: Request, res: Response, next: NextFunction) {
    run(req, res, next);
  };
}

/**
 * Mounts sign-in the way express-openid-connect's `auth()` does, configured from `config` over the
 * environment (`ISSUER_BASE_URL`, `BASE_URL`, `CLIENT_ID`, `CLIENT_SECRET`, `SECRET`).
 *
 * @example
 * const { auth, requiresAuth } = require('express-par'); // was: require('express-openid-connect')
 * app.use(auth({ authRequired: false, idpLogout: true }));
 * app.get('/profile', requiresAuth(), (req, res) => res.send(`hello ${req.oidc.user.sub}`));
 *
 * @throws TypeError naming the option when the configuration is wrong.
 */
export const auth: Auth = Object.assign(createAuth, { Store: session.Store });
