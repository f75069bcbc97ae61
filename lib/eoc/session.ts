/**
 * The session of auth(): express-openid-connect apps mount no express-session, so auth() mounts one itself
 * (from `secret` and `session`) when none ran before it; an app that mounts its own keeps it. Also the
 * absolute duration EOC enforces (`session.absoluteDuration`), which express-session has no option for,
 * and `req.appSession`, where EOC apps read what their afterCallback added to the session.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session, { type SessionOptions } from 'express-session';
import { createLogger } from '../core/log.js';
import type { Engine } from '../engine/engine.js';
import { clearLogin, readStoredLogin } from '../state/login.js';
import { MemoryStore } from './memory-store.js';
import type { EocSession } from './session-options.js';

const log = createLogger('auth');

/** express-session's options from EOC's (EOC's cookie lifetime: the rolling duration, else the absolute one). */
export function expressSessionOptions(eoc: EocSession): SessionOptions {
  const lifetime = eoc.rolling ? eoc.rollingDuration : eoc.absoluteDuration;
  const { transient, ...attributes } = eoc.cookie;
  const maxAge = transient || lifetime === false ? undefined : lifetime * 1000;
  return {
    name: eoc.name,
    secret: eoc.secret,
    resave: false,
    saveUninitialized: false,
    rolling: eoc.rolling,
    // EOC marks the cookie Secure from baseURL alone; behind a TLS proxy X-Forwarded-Proto says https.
    ...(attributes.secure ? { proxy: true } : {}),
    store: eoc.store ?? new MemoryStore({ ttlMs: (eoc.absoluteDuration || eoc.rollingDuration || 86400) * 1000 }),
    ...(eoc.genid ? { genid: syncGenid(eoc.genid) } : {}),
    cookie: { ...attributes, ...(maxAge !== undefined ? { maxAge } : {}) },
  };
}

/** EOC's `session.genid` may return a promise; express-session needs the id at once (a TypeError says so). */
function syncGenid(genid: (req: Request) => unknown): (req: Request) => string {
  return (req) => {
    const id = genid(req);
    if (typeof id !== 'string' || id === '') {
      throw new TypeError('"session.genid" must return a non-empty string, synchronously (express-session calls it)');
    }
    return id;
  };
}

/** express-session, run only when no session middleware ran before auth() (the app's own is kept). */
export function sessionUnlessMounted(eoc: EocSession, warn: (message: string) => void): RequestHandler {
  const middleware = session(expressSessionOptions(eoc));
  return function authSession(req: Request, res: Response, next: NextFunction) {
    if ((req as { session?: unknown }).session === undefined) {
      middleware(req, res, next);
      return;
    }
    if (eoc.given) warn('"session" options are ignored: the app mounts its own express-session before auth()');
    next();
  };
}

/**
 * `session.absoluteDuration`: a login lasts at most this long after it began, however active the session
 * (EOC's rule; the rolling duration is the cookie's lifetime). An older one ends on its next request.
 */
export function endIfTooOld(engine: Engine, eoc: EocSession, req: Request): void {
  if (eoc.absoluteDuration === false) return;
  const login = readStoredLogin(req, engine.signInKey);
  if (typeof login?.loginAt !== 'number') return;
  if (Date.now() / 1000 - login.loginAt > eoc.absoluteDuration) {
    clearLogin(req, engine.signInKey);
    log('login ended: older than session.absoluteDuration');
  }
}

/**
 * `req[session.name]` (EOC's `req.appSession`): the keys afterCallback added to the login, a live object
 * kept with it (changes are saved with the session); undefined when no one is logged in.
 */
export function exposeAppSession(req: Request, name: string, engine: Engine): void {
  if (Object.hasOwn(req, name)) return;
  Object.defineProperty(req, name, {
    configurable: true,
    enumerable: false,
    get: () => readStoredLogin(req, engine.signInKey)?.appSession,
  });
}
