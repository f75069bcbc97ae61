/**
 * The userinfo endpoint for an access token (OpenID Connect Core §5.3): its URL (the mTLS alias with a
 * certificate, RFC 8705 §5), the request with the token presented as the login holds it (Bearer or
 * DPoP), and the check of the answer. Which token, and its renewal, are express/userinfo.ts's.
 */
import { UpstreamError } from '../core/errors.js';
import type { Discovered } from '../core/model.js';
import type { HttpResponse } from '../net/http.js';
import { resolveIdTokenAlgs } from '../protocol/id-token.js';
import { jwtExpectations } from '../protocol/jwt-expectations.js';
import { processUserInfoResponse, userInfoRequest } from '../protocol/userinfo.js';
import type { StoredLogin } from '../state/login.js';
import { dpopFor, endpointOf, ready, type EngineContext } from './context.js';

/** A userinfo answer, with what checking it needs. */
export interface UserInfoAnswer extends Discovered {
  res: HttpResponse;
  endpoint: string;
}

/** GET the userinfo endpoint with `accessToken`; `login`, as stored, says whether it is DPoP-bound. */
export async function requestUserInfo(
  ctx: EngineContext,
  login: StoredLogin | undefined,
  accessToken: string,
): Promise<UserInfoAnswer> {
  const { metadata, jwks } = await ready(ctx);
  const url = endpointOf(ctx, metadata, 'userinfo_endpoint');
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
    const message = 'The authorization server advertises no "userinfo_endpoint" in its metadata.';
    throw new UpstreamError('userinfo_failed', message);
  }
  const dpop = login ? await dpopFor(ctx, login) : undefined;
  const res = await userInfoRequest({ url, accessToken, transport: ctx.transport, ...(dpop ? { dpop } : {}) });
  return { res, endpoint: url, metadata, ...(jwks ? { jwks } : {}) };
}

/** The claims of a userinfo answer about `sub` (Core §5.3.2); a signed one verified like this client's ID tokens. */
export function processUserInfo(
  ctx: EngineContext,
  answer: UserInfoAnswer,
  sub: string,
): Promise<Record<string, unknown>> {
  const { metadata } = answer;
  const advertised = metadata.userinfo_signing_alg_values_supported ?? metadata.id_token_signing_alg_values_supported;
  const algorithms = resolveIdTokenAlgs(ctx.config.idTokenSigningAlgs, advertised);
  const expected = jwtExpectations(ctx.config, metadata.issuer, algorithms, answer.jwks);
  return processUserInfoResponse(answer.res, Object.assign(expected, { endpoint: answer.endpoint, sub }));
}
