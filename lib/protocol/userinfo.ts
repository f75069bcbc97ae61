/**
 * The UserInfo request (OpenID Connect Core 1.0 §5.3): the access token as a Bearer (RFC 6750 §2.1) or
 * DPoP-bound token (RFC 9449 §7, with a fresh proof and one retry on the server's `use_dpop_nonce`, §9),
 * and the check of the answer (§5.3.2): a JSON object or a signed JWT whose `sub` is the ID token's.
 * Send and process kept apart; which token, and its renewal, are the callers' (engine/, express/).
 */
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { ParError, safeText, UpstreamError } from '../core/errors.js';
import { verificationError, type Verified } from '../crypto/jose-errors.js';
import { isHmacAlg } from '../crypto/keys.js';
import { parseJsonObject, request, type HttpResponse, type Transport } from '../net/http.js';
import { accessTokenHeaders, retryOnNonceChallenge, type DpopBinding } from './dpop.js';
import { oauthErrorOf } from './endpoint.js';
import type { JwtExpectations } from './jwt-expectations.js';
import { challengeError, isResourceNonceChallenge } from './www-authenticate.js';

export interface UserInfoCall {
  url: string;
  accessToken: string;
  /** Present when the token is DPoP-bound. */
  dpop?: DpopBinding;
  /** With `tls`, the client certificate's agent (RFC 8705 §3: a certificate-bound token goes with its certificate). */
  transport: Transport;
}

/** GET the userinfo endpoint with the access token; a DPoP nonce challenge is answered once (RFC 9449 §9). */
export function userInfoRequest(call: UserInfoCall): Promise<HttpResponse> {
  const challenged = ({ status, headers }: HttpResponse) =>
    call.dpop !== undefined && isResourceNonceChallenge(status, headers['www-authenticate'], headers['dpop-nonce']);
  return retryOnNonceChallenge(() => attempt(call), challenged);
}

async function attempt(call: UserInfoCall): Promise<HttpResponse> {
  const presented = await accessTokenHeaders(call.accessToken, 'GET', call.url, call.dpop);
  const headers: Record<string, string> = { accept: 'application/json, application/jwt', ...presented };
  // Stryker disable next-line StringLiteral: node sends GET for an empty method too
  const res = await request({ ...call.transport, method: 'GET', url: call.url, headers, step: 'userinfo endpoint' });
  call.dpop?.nonces.remember(call.url, res.headers);
  res.redact = [presented.authorization, call.accessToken, ...('dpop' in presented ? [presented.dpop] : [])];
  return res;
}

/** Whether the userinfo endpoint refused the access token itself (RFC 6750 §3.1 `invalid_token`). */
export function isInvalidTokenResponse(res: Pick<HttpResponse, 'status' | 'headers'>): boolean {
  return res.status === 401 && challengeError(res.headers['www-authenticate']) === 'invalid_token';
}

/** `algorithms`: those accepted for a signed response; `trustedAudiences` play no part (Core §5.3.2). */
export interface UserInfoExpectations extends JwtExpectations {
  endpoint: string;
  /** The ID token's `sub` (Core §5.3.2). */
  sub: string;
}

/** The error for an answer that is not a 200: the token refused (401 `invalid_token`), or another failure (502). */
function refusal(res: HttpResponse, endpoint: string): ParError {
  if (isInvalidTokenResponse(res)) {
    const message =
      'The userinfo endpoint refused the access token (invalid_token): it was revoked or has expired; log in again.';
    return new ParError('access_token_rejected', 401, message, { error: 'invalid_token', upstreamStatus: 401 });
  }
  const oauth = oauthErrorOf(res);
  const error = challengeError(res.headers['www-authenticate']) ?? oauth.error;
  const message = `The userinfo endpoint ${endpoint} answered HTTP ${res.status} (${error ?? 'no OAuth error'}).`;
  const extra = { ...oauth, ...(error ? { error } : {}), upstreamStatus: res.status, details: { endpoint } };
  return new UpstreamError('userinfo_failed', message, extra);
}

/**
 * Checks the userinfo answer and returns its claims, or throws: 401 `access_token_rejected` when the
 * token was refused, 502 `userinfo_failed` for another error status, 502 `userinfo_invalid` for a body
 * that is not a JSON object, a signed response that does not verify, or another user's `sub`.
 */
export async function processUserInfoResponse(
  res: HttpResponse,
  expected: UserInfoExpectations,
): Promise<Record<string, unknown>> {
  const { endpoint } = expected;
  if (res.status !== 200) throw refusal(res, endpoint);
  const invalid = (what: string) =>
    new UpstreamError('userinfo_invalid', `The userinfo endpoint ${endpoint} ${what}.`, {
      upstreamStatus: 200,
      details: { endpoint },
    });
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

/** The JWS's algorithm, when it is a JWS signed with an allowed one. */
function allowedAlg(jwt: string, expected: UserInfoExpectations, invalid: (what: string) => UpstreamError): string {
  if (jwt.split('.').length !== 3) {
    throw invalid('sent an encrypted or malformed JWT (encrypted userinfo is not supported)');
  }
  let alg: string;
  try {
    alg = String(decodeProtectedHeader(jwt).alg);
  } catch {
    throw invalid('sent an application/jwt body that is not a JWS');
  }
  if (alg === 'none' || !expected.algorithms.includes(alg)) {
    const allowed = expected.algorithms.join(', ');
    throw invalid(`signed its answer with "${safeText(alg, 20)}", which is not in the allowed list (${allowed})`);
  }
  return alg;
}

/**
 * Core §5.3.2: a signed response is a JWS (alg allow-list, server key or client secret); its `iss` and
 * `aud`, when present, must be the issuer and include the client.
 */
async function verifySignedUserInfo(
  jwt: string,
  expected: UserInfoExpectations,
  invalid: (what: string) => UpstreamError,
): Promise<JWTPayload> {
  const alg = allowedAlg(jwt, expected, invalid);
  const options = { algorithms: [alg], clockTolerance: expected.clockTolerance };
  let payload: JWTPayload;
  try {
    if (isHmacAlg(alg)) {
      payload = (await jwtVerify(jwt, new TextEncoder().encode(expected.clientSecret ?? ''), options)).payload;
    } else {
      if (!expected.jwks) throw invalid('sent a signed answer, and the server publishes no jwks_uri to check it with');
      payload = (await jwtVerify(jwt, expected.jwks, options)).payload;
    }
  } catch (err) {
    // A key set that cannot be had is the server's failure (5xx); a refused answer is userinfo_invalid.
    const verified: Verified = {
      keyFailuresPassOn: true,
      refused: (failure) => invalid(`sent a signed answer that does not verify (${failure.code ?? 'invalid'})`),
    };
    throw verificationError(err, verified);
  }
  if (payload.iss !== undefined && payload.iss !== expected.issuer) {
    throw invalid('sent a signed answer whose "iss" is not the issuer (Core §5.3.2)');
  }
  const audiences = payload.aud === undefined ? [expected.clientID] : [payload.aud].flat();
  if (!audiences.includes(expected.clientID)) {
    throw invalid('sent a signed answer whose "aud" does not include this client (Core §5.3.2)');
  }
  return payload;
}
