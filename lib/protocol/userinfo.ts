/**
 * The UserInfo request (OpenID Connect Core 1.0 §5.3): the access token as a Bearer (RFC 6750 §2.1) or
 * DPoP-bound token (RFC 9449 §7, with a fresh proof and one retry on the server's `use_dpop_nonce`, §9),
 * and the check of the answer (§5.3.2): a JSON object or a signed JWT whose `sub` is the ID token's.
 * Send and process kept apart.
 */
import type { Request } from 'express';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { getAccessToken } from '../adapters/access-token.js';
import { createProof, type DpopKey, type DpopNonces } from './dpop.js';
import { oauthErrorOf } from './endpoint.js';
import type { Engine } from '../engine.js';
import { ParError, safeText, UpstreamError, UpstreamTimeoutError } from '../core/errors.js';
import { parseJsonObject, request, type HttpResponse } from '../net/http.js';
import { resolveIdTokenAlgs } from './id-token.js';
import { isHmacAlg } from '../crypto/keys.js';
import { readLogin, readStoredLogin } from '../state/login.js';
import { challengeError, isResourceNonceChallenge } from './www-authenticate.js';

export interface UserInfoCall {
  url: string;
  accessToken: string;
  /** Present when the token is DPoP-bound. */
  dpop?: { key: DpopKey; nonces: DpopNonces };
  timeout: number;
  /** The client certificate's agent (RFC 8705 §3: a certificate-bound token goes with its certificate). */
  agent?: import('node:https').Agent;
}

/** GET the userinfo endpoint with the access token; a DPoP nonce challenge is answered once (RFC 9449 §9). */
export async function userInfoRequest(call: UserInfoCall): Promise<HttpResponse> {
  let res = await attempt(call);
  if (call.dpop && isResourceNonceChallenge(res.status, res.headers['www-authenticate'], res.headers['dpop-nonce'])) {
    res = await attempt(call); // the nonce was remembered from the challenge
  }
  return res;
}

async function attempt(call: UserInfoCall): Promise<HttpResponse> {
  const headers: Record<string, string> = { accept: 'application/json, application/jwt' };
  if (call.dpop) {
    // RFC 9449 §7.1: `Authorization: DPoP <token>` and a proof with `ath` for this method and URL.
    headers.authorization = `DPoP ${call.accessToken}`;
    headers.dpop = await createProof(call.dpop.key, 'GET', call.url, { accessToken: call.accessToken, nonce: call.dpop.nonces.get(call.url) });
  } else {
    headers.authorization = `Bearer ${call.accessToken}`; // RFC 6750 §2.1
  }
  // Stryker disable next-line StringLiteral: node sends GET for an empty method too
  const res = await request({ method: 'GET', url: call.url, headers, timeout: call.timeout, step: 'userinfo endpoint', ...(call.agent ? { agent: call.agent } : {}) });
  call.dpop?.nonces.remember(call.url, res.headers);
  res.redact = [headers.authorization, call.accessToken, ...(headers.dpop ? [headers.dpop] : [])];
  return res;
}

/** Whether the userinfo endpoint refused the access token itself (RFC 6750 §3.1 `invalid_token`). */
export function isInvalidTokenResponse(res: { status: number; headers: Record<string, string | string[] | undefined> }): boolean {
  return res.status === 401 && challengeError(res.headers['www-authenticate']) === 'invalid_token';
}

export interface UserInfoExpectations {
  endpoint: string;
  /** The ID token's `sub` (Core §5.3.2). */
  sub: string;
  issuer: string;
  clientID: string;
  /** Accepted JWS algorithms for a signed response. */
  algorithms: string[];
  clockTolerance: number;
  jwks?: JWTVerifyGetKey;
  clientSecret?: string;
}

/**
 * Checks the userinfo answer and returns its claims, or throws: 401 `access_token_rejected` when the
 * token was refused, 502 `userinfo_failed` for another error status, 502 `userinfo_invalid` for a body
 * that is not a JSON object, a signed response that does not verify, or another user's `sub`.
 */
export async function processUserInfoResponse(res: HttpResponse, expected: UserInfoExpectations): Promise<Record<string, unknown>> {
  if (isInvalidTokenResponse(res)) {
    throw new ParError('access_token_rejected', 401, 'The userinfo endpoint refused the access token (invalid_token): it was revoked or has expired; log in again.', {
      error: 'invalid_token',
      upstreamStatus: 401,
    });
  }
  if (res.status !== 200) {
    const oauth = oauthErrorOf(res);
    const error = challengeError(res.headers['www-authenticate']) ?? oauth.error;
    throw new UpstreamError('userinfo_failed', `The userinfo endpoint ${expected.endpoint} answered HTTP ${res.status} (${error ?? 'no OAuth error'}).`, {
      ...oauth,
      ...(error ? { error } : {}),
      upstreamStatus: res.status,
      details: { endpoint: expected.endpoint },
    });
  }
  const invalid = (what: string) => new UpstreamError('userinfo_invalid', `The userinfo endpoint ${expected.endpoint} ${what}.`, { upstreamStatus: 200, details: { endpoint: expected.endpoint } });
  const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  let claims: Record<string, unknown>;
  if (type === 'application/jwt') {
    claims = await verifySignedUserInfo(res.body.trim(), expected, invalid);
  } else {
    const body = parseJsonObject(res.body);
    if (!body) throw invalid('did not answer with a JSON object');
    claims = body;
  }
  // Core §5.3.2: the sub MUST exactly match the ID token's; otherwise the response MUST NOT be used.
  if (typeof claims.sub !== 'string') throw invalid('answered without a "sub" (Core §5.3.2)');
  if (claims.sub !== expected.sub) throw invalid('answered about another "sub" than the ID token (Core §5.3.2)');
  return claims;
}

/** Core §5.3.2: a signed response is a JWS (alg allow-list, server key or client secret); its `iss` and `aud`, when present, must be the issuer and include the client. */
async function verifySignedUserInfo(jwt: string, expected: UserInfoExpectations, invalid: (what: string) => UpstreamError): Promise<JWTPayload> {
  if (jwt.split('.').length !== 3) throw invalid('sent an encrypted or malformed JWT (encrypted userinfo is not supported)');
  let alg: string;
  try {
    alg = String(decodeProtectedHeader(jwt).alg);
  } catch {
    throw invalid('sent an application/jwt body that is not a JWS');
  }
  if (alg === 'none' || !expected.algorithms.includes(alg)) throw invalid(`signed its answer with "${safeText(alg, 20)}", which is not in the allowed list (${expected.algorithms.join(', ')})`);
  let payload: JWTPayload;
  try {
    if (isHmacAlg(alg)) {
      payload = (await jwtVerify(jwt, new TextEncoder().encode(expected.clientSecret ?? ''), { algorithms: [alg], clockTolerance: expected.clockTolerance })).payload;
    } else {
      if (!expected.jwks) throw invalid('sent a signed answer, and the server publishes no jwks_uri to check it with');
      payload = (await jwtVerify(jwt, expected.jwks, { algorithms: [alg], clockTolerance: expected.clockTolerance })).payload;
    }
  } catch (err) {
    if (err instanceof ParError) throw err;
    if (err instanceof joseErrors.JWKSTimeout) throw new UpstreamTimeoutError('The JWKS endpoint did not answer within httpTimeout.', { cause: err });
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof ParError) throw cause; // our key set fetch failing, wrapped by jose
    throw invalid(`sent a signed answer that does not verify (${err instanceof joseErrors.JOSEError ? err.code : 'invalid'})`);
  }
  if (payload.iss !== undefined && payload.iss !== expected.issuer) throw invalid('sent a signed answer whose "iss" is not the issuer (Core §5.3.2)');
  if (payload.aud !== undefined) {
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audiences.includes(expected.clientID)) throw invalid('sent a signed answer whose "aud" does not include this client (Core §5.3.2)');
  }
  return payload;
}

/**
 * `req.oidc.fetchUserInfo()`: a token valid now (refreshed when it has expired), the request, and, when
 * the endpoint refuses the token (`invalid_token`) and the login can renew it, one renewal and retry.
 */
export async function fetchUserInfo(req: Request, engine: Engine): Promise<Record<string, unknown>> {
  let accessToken = await getAccessToken(req, engine, { minTtl: 0 }); // 401 login_required without a login
  const { metadata, jwks } = await engine.ready();
  // RFC 8705 §5: with a client certificate, the mTLS alias (certificate-bound tokens need it, §3).
  const endpoint = await engine.endpoint('userinfo_endpoint');
  if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint)) {
    throw new UpstreamError('userinfo_failed', 'The authorization server advertises no "userinfo_endpoint" in its metadata.');
  }
  const send = async (token: string) => {
    const login = readStoredLogin(req, engine.signInKey);
    // Stryker disable next-line OptionalChaining: getAccessToken() above threw without a login, so there is one
    const key = login?.tokenType === 'DPoP' ? await engine.dpopKey(login.dpopJwk as never) : undefined;
    // Stryker disable next-line OptionalChaining: getAccessToken() above threw without a login, so there is one
    if (login?.tokenType === 'DPoP' && !key) throw new TypeError('the DPoP key of this login is missing');
    return userInfoRequest({
      url: endpoint,
      accessToken: token,
      timeout: engine.config.httpTimeout,
      ...(engine.config.tls ? { agent: engine.config.tls.agent } : {}),
      ...(key ? { dpop: { key, nonces: engine.dpopNonces } } : {}),
    });
  };
  let res = await send(accessToken);
  // Stryker disable next-line OptionalChaining: getAccessToken() above threw without a login, so there is one
  if (isInvalidTokenResponse(res) && readStoredLogin(req, engine.signInKey)?.refreshToken) {
    accessToken = await getAccessToken(req, engine, { rejected: accessToken }); // RFC 6750 §3.1: renew once
    res = await send(accessToken);
  }
  const login = readLogin(req, engine.signInKey);
  const { config } = engine;
  return processUserInfoResponse(res, {
    endpoint,
    // Stryker disable next-line OptionalChaining: getAccessToken() above threw without a login, so there is one
    sub: String(login?.claims.sub),
    issuer: metadata.issuer,
    clientID: config.clientID,
    algorithms: resolveIdTokenAlgs(config.idTokenSigningAlgs, metadata.userinfo_signing_alg_values_supported ?? metadata.id_token_signing_alg_values_supported),
    clockTolerance: config.clockTolerance,
    ...(jwks ? { jwks } : {}),
    ...(config.clientSecret ? { clientSecret: config.clientSecret } : {}),
  });
}
