/**
 * express-openid-connect's session form, which its `afterCallback(req, res, session, decodedState)` takes
 * and returns: snake_case tokens (`id_token`, `access_token`, `refresh_token`, `token_type`, `expires_at`)
 * and the app's own keys, mapped from and back onto express-par's stored login.
 */
import type { Request, Response } from 'express';
import { isRecord } from '../core/assert.js';
import type { RequestWithSession } from '../core/model.js';
import type { LoginSession } from '../core/types.js';
import type { LoginResult } from '../engine/callback.js';
import { storeLogin } from '../state/login.js';
import type { EocConfig } from './config.js';
import type { Session } from './types.js';

/** The login as EOC's session: the tokens, `expires_at` (seconds, a number as in EOC), the ID token's `sid`. */
export function toEocSession(login: LoginSession): Session {
  const session: Record<string, unknown> = { id_token: login.idToken };
  if (login.accessToken !== undefined) session.access_token = login.accessToken;
  if (login.refreshToken !== undefined) session.refresh_token = login.refreshToken;
  session.token_type = /^bearer$/i.test(login.tokenType ?? 'Bearer') ? 'Bearer' : login.tokenType;
  if (login.expiresAt !== undefined) session.expires_at = login.expiresAt;
  if (typeof login.claims.sid === 'string') session.sid = login.claims.sid;
  return session as unknown as Session;
}

function setOrDrop<K extends keyof LoginSession>(
  login: LoginSession,
  field: K,
  value: unknown,
  ok: (v: unknown) => boolean,
): void {
  if (ok(value)) login[field] = value as LoginSession[K];
  else delete login[field];
}

/**
 * What afterCallback returned, back onto the login: its tokens (one left out is dropped, as EOC stores what
 * it returns) and its own keys, kept in `appSession` (read as `req.appSession`). The ID token is the one
 * express-par validated: a different one is a TypeError.
 */
export function fromEocSession(login: LoginSession, returned: unknown): LoginSession {
  if (!isRecord(returned)) throw new TypeError('afterCallback must return the session (an object)');
  const { id_token, access_token, refresh_token, token_type, expires_at, sid, sessionExpiresAt, ...own } = returned;
  void sid;
  void sessionExpiresAt;
  if (id_token !== undefined && id_token !== login.idToken) {
    throw new TypeError('afterCallback cannot replace session.id_token: express-par keeps the one it validated');
  }
  const string = (v: unknown) => typeof v === 'string' && v !== '';
  setOrDrop(login, 'accessToken', access_token, string);
  setOrDrop(login, 'refreshToken', refresh_token, string);
  if (string(token_type)) login.tokenType = token_type as string;
  const seconds = typeof expires_at === 'string' && /^\d+$/.test(expires_at) ? Number(expires_at) : expires_at;
  setOrDrop(login, 'expiresAt', seconds, (v) => typeof v === 'number' && Number.isFinite(v));
  login.appSession = JSON.parse(JSON.stringify(own)) as Record<string, unknown>;
  return login;
}

/**
 * The callback's shaping under auth(): afterCallback runs with EOC's session and the login's decoded
 * state, while `req.oidc` already describes the incoming login (as in EOC 3.x); the login then records
 * when it began (session.absoluteDuration).
 */
export function eocShape(eoc: EocConfig, signInKey: string, req: Request, res: Response) {
  return async (result: LoginResult, login: LoginSession): Promise<LoginSession> => {
    let shaped = login;
    if (eoc.afterCallback) {
      storeLogin(req as RequestWithSession, signInKey, login); // not saved: the session gets a new id first
      const decoded = result.appState ?? { returnTo: result.returnTo };
      shaped = fromEocSession(login, await eoc.afterCallback(req, res, toEocSession(login), { ...decoded }));
    }
    shaped.loginAt = Math.floor(Date.now() / 1000);
    return shaped;
  };
}
