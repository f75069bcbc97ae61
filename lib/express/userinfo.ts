/**
 * `req.oidc.fetchUserInfo()`: a token valid now (refreshed when it has expired), the userinfo request,
 * and, when the endpoint refuses the token (RFC 6750 §3.1 `invalid_token`) and the login can renew it,
 * one renewal and one more request. The request and the check of the answer are the engine's.
 */
import type { Request } from 'express';
import type { Engine } from '../engine/engine.js';
import { isInvalidTokenResponse } from '../protocol/userinfo.js';
import { readLogin, readStoredLogin } from '../state/login.js';
import { getAccessToken } from './access-token.js';

export async function fetchUserInfo(req: Request, engine: Engine): Promise<Record<string, unknown>> {
  const key = engine.signInKey;
  let accessToken = await getAccessToken(req, engine, { minTtl: 0 }); // 401 login_required without a login
  let answer = await engine.requestUserInfo(readStoredLogin(req, key), accessToken);
  // Stryker disable next-line OptionalChaining: getAccessToken() above threw without a login, so there is one
  if (isInvalidTokenResponse(answer.res) && readStoredLogin(req, key)?.refreshToken) {
    accessToken = await getAccessToken(req, engine, { rejected: accessToken }); // RFC 6750 §3.1: renew once
    answer = await engine.requestUserInfo(readStoredLogin(req, key), accessToken);
  }
  // Stryker disable next-line OptionalChaining: getAccessToken() above threw without a login, so there is one
  return engine.processUserInfo(answer, String(readLogin(req, key)?.claims.sub));
}
