/**
 * Pushed Authorization Requests (RFC 9126): build the parameters, push them with client
 * authentication, and check the answer (send and process kept apart so the checks are pure).
 */
import { SignJWT } from 'jose';
import type { ResolvedConfig } from '../core/model.js';
import { UpstreamError } from '../core/errors.js';
import { parseJsonObject, type HttpResponse } from '../net/http.js';
import { describeOAuthError, oauthErrorOf } from './endpoint.js';
import { randomToken } from '../core/random.js';

export interface PushedRequest {
  request_uri: string;
  expires_in: number;
}

export interface AuthorizationRequestInput {
  state: string;
  nonce: string;
  codeChallenge: string;
  dpopJkt?: string;
  /** This login's redirect_uri; default the configured one. */
  redirectUri?: string;
  /** The configured parameters merged with the per-request ones; default the configured ones. */
  authorizationParams?: URLSearchParams;
}

/** RFC 9126 §2: the pushed request carries every authorization request parameter. */
export function authorizationParameters(config: ResolvedConfig, input: AuthorizationRequestInput): URLSearchParams {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientID,
    redirect_uri: input.redirectUri ?? config.redirectUri,
    state: input.state,
    nonce: input.nonce,
    // RFC 7636 §4.3; RFC 9700 §2.1.1: S256 only.
    code_challenge: input.codeChallenge,
    code_challenge_method: 'S256',
  });
  for (const [key, value] of input.authorizationParams ?? config.authorizationParams) params.append(key, value);
  // RFC 9449 §10: bind the authorization code to the DPoP key.
  if (input.dpopJkt) params.set('dpop_jkt', input.dpopJkt);
  return params;
}

/**
 * RFC 9101 §4 / RFC 9126 §3: the parameters as a signed request object; `client_id` stays outside.
 * Repeated parameters (e.g. `resource`) become arrays.
 */
export async function requestObjectParameters(
  config: ResolvedConfig,
  issuer: string,
  params: URLSearchParams,
): Promise<URLSearchParams> {
  const claims: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    claims[key] = values.length > 1 ? values : jsonClaim(key, values[0]!);
  }
  const kid = config.requestObjectKid;
  // RFC 9101 §10.2: typ oauth-authz-req+jwt.
  const request = await new SignJWT(claims)
    .setProtectedHeader({ alg: config.requestObjectAlg!, typ: 'oauth-authz-req+jwt', ...(kid ? { kid } : {}) })
    .setIssuer(config.clientID)
    .setAudience(issuer)
    .setJti(randomToken(16))
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('60s')
    .sign(config.requestObjectKey!);
  return new URLSearchParams({ client_id: config.clientID, request });
}

/**
 * In a request object, JSON-valued parameters are JSON again (OIDC Core §5.5 `claims`, RFC 9396
 * `authorization_details`) and `max_age` a number.
 */
function jsonClaim(key: string, value: string): unknown {
  if (key === 'max_age' && /^\d{1,10}$/.test(value)) return Number(value);
  if (key === 'claims' || key === 'authorization_details') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

interface PushContext {
  endpoint: string;
  redirectUri: string;
  clientAuthMethod: string;
}

/** Pure: RFC 9126 §2.2/§2.3 — a 201 with `request_uri` and a positive `expires_in`, or an error. */
export function processPushedAuthorizationResponse(res: HttpResponse, context: PushContext): PushedRequest {
  const { endpoint, redirectUri, clientAuthMethod } = context;
  const details = { endpoint, redirect_uri: redirectUri, client_auth_method: clientAuthMethod };
  if (res.status !== 201) {
    const oauth = oauthErrorOf(res);
    const message =
      `The PAR endpoint ${endpoint} answered HTTP ${res.status} (${describeOAuthError(oauth)}); ` +
      `redirect_uri ${redirectUri}, client authentication ${clientAuthMethod}.`;
    throw new UpstreamError('par_failed', message, { ...oauth, upstreamStatus: res.status, details });
  }
  const invalid = (what: string) => {
    const message = `The PAR endpoint ${endpoint} answered ${what}.`;
    return new UpstreamError('par_response_invalid', message, { upstreamStatus: 201, details });
  };
  const body = parseJsonObject(res.body);
  if (!body) throw invalid('201 without a JSON object');
  const { request_uri, expires_in } = body;
  if (typeof request_uri !== 'string' || request_uri.length === 0 || request_uri.length > 2048) {
    throw invalid('without a valid "request_uri"');
  }
  if (typeof expires_in !== 'number' || !Number.isFinite(expires_in) || expires_in <= 0) {
    throw invalid('without a positive numeric "expires_in"');
  }
  return { request_uri, expires_in };
}
