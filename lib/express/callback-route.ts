/**
 * `GET routes.callback` (and `res.oidc.callback()` on a route of the app's own): the engine completes the
 * login, `afterCallback` (or auth()'s hook) shapes it, and the logged-in session gets a new id before the
 * login is stored and saved, then the browser goes to returnTo. A silent login the server declined goes
 * back to returnTo, anonymous.
 */
import type { Request, Response } from 'express';
import { SilentLoginDeclined } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { RequestWithSession } from '../core/model.js';
import type { LoginSession } from '../core/types.js';
import { keepsLogin, type LoginResult } from '../engine/callback.js';
import type { Engine } from '../engine/engine.js';
import { clearLogin, storeLogin, withTokens } from '../state/login.js';
import { rotateSession, saveSession } from '../state/session.js';
import { markStepUp } from '../state/step-up.js';
import { redirect } from './redirect.js';

const log = createLogger('middleware');

function toLoginSession(result: LoginResult): LoginSession {
  const { tokens, claims, dpopJwk, authorizationDetailsTypes } = result;
  const base: LoginSession = { idToken: tokens.id_token, claims, ...(dpopJwk ? { dpopJwk } : {}) };
  // RFC 9396: what was asked (a refresh's grant is checked against it) and what was granted.
  if (authorizationDetailsTypes) base.authorizationDetailsTypes = authorizationDetailsTypes;
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

/** How a callback is completed: with the login's own redirect_uri, and shaped by auth()'s hook. */
export interface CallbackRouteOptions {
  /** The redirect_uri the login was started with (absolute); default the configured one. */
  redirectUri?: unknown;
  /** Shapes the completed login in place of `afterCallback` (auth(): express-openid-connect's session form). */
  shape?: (result: LoginResult, login: LoginSession) => LoginSession | Promise<LoginSession>;
}

/** The completed login as it will be stored: afterCallback's shape, and when it began for back-channel logout. */
async function shapedLogin(
  engine: Engine,
  req: Request,
  res: Response,
  result: LoginResult,
  options: CallbackRouteOptions,
): Promise<LoginSession> {
  let stored = toLoginSession(result);
  // A hook that throws fails the callback like any other step: the earlier login ends too.
  if (options.shape) stored = await options.shape(result, stored);
  else if (engine.config.afterCallback) stored = await engine.config.afterCallback(req, res, stored);
  // a logout ends the logins that began before it; a session without maxAge is bounded from here
  if (engine.config.backchannelLogout) stored.loginAt = Math.floor(Date.now() / 1000);
  // requiresAuth() answers 403 rather than a second round when this login still does not do for the page.
  if (result.stepUp) markStepUp(stored, result.returnTo);
  return stored;
}

/** Stores the login in a session with a new id; a session the store cannot save is left logged out. */
async function storeInNewSession(
  engine: Engine,
  req: RequestWithSession,
  stored: LoginSession,
  shaped: boolean,
): Promise<void> {
  // Session fixation: a new session id for the logged-in session; other tabs' logins stay pending and
  // other sign-ins (another mount's issuer and client) keep their state.
  await rotateSession(req, engine.signInKey);
  // Without afterCallback the claims are the validated ID token's payload itself: no second parse.
  storeLogin(req, engine.signInKey, stored, { claimsFromIdToken: !engine.config.afterCallback && !shaped });
  try {
    await saveSession(req);
  } catch (err) {
    clearLogin(req, engine.signInKey); // never leave the session half logged in
    throw err;
  }
}

export async function callbackRoute(
  engine: Engine,
  req: Request,
  res: Response,
  options: CallbackRouteOptions = {},
): Promise<void> {
  let result: LoginResult;
  let stored: LoginSession;
  try {
    result = await engine.completeLogin(req, { redirectUri: options.redirectUri });
    stored = await shapedLogin(engine, req, res, result, options);
  } catch (err) {
    if (err instanceof SilentLoginDeclined) {
      // attemptSilentLogin(): the server needs the user; back to the page, anonymous, no error. The
      // transaction is consumed and the session remembers the attempt, so there is no loop.
      await saveSession(req as RequestWithSession);
      redirect(res, err.returnTo);
      return;
    }
    // A link to the callback that names no pending login (any site can plant one) is no login in
    // progress, and a step-up the server did not grant leaves the user who they were: the existing login
    // stays. Any other failure of a real transaction ends it.
    if (!keepsLogin(err)) await forgetLogin(req, engine.signInKey);
    throw err;
  }
  await storeInNewSession(engine, req as RequestWithSession, stored, options.shape !== undefined);
  engine.emit({ type: 'callback.succeeded', sub: result.claims.sub });
  redirect(res, result.returnTo);
}
