/**
 * The token request (RFC 6749 §4.1.3 with RFC 7636 §4.5 `code_verifier`) and the check of its answer
 * (RFC 6749 §5.1, RFC 9449 §5). Send and process kept apart; `processTokenResponse` is pure.
 */
import { safeText, UpstreamError } from '../core/errors.js';
import { parseJsonObject, type HttpResponse } from '../net/http.js';
import { describeOAuthError, oauthErrorOf } from './endpoint.js';
import { processAuthorizationDetails } from './authorization-details.js';
import type { ApiTarget } from '../core/model.js';
import type { TokenSet } from '../core/types.js';

export function authorizationCodeParameters(code: string, redirectUri: string, codeVerifier: string): URLSearchParams {
  const params = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: codeVerifier };
  return new URLSearchParams(params);
}

/**
 * RFC 6749 §6; for an API's token, its `audience` (Auth0) or `resource` indicators (RFC 8707 §2: repeated
 * for several) and the `scope` asked for it.
 */
export function refreshParameters(refreshToken: string, target?: ApiTarget): URLSearchParams {
  const params = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
  if (target?.audience !== undefined) params.set('audience', target.audience);
  for (const resource of target?.resource ?? []) params.append('resource', resource);
  if (target?.scope !== undefined) params.set('scope', target.scope);
  return params;
}

interface TokenContext {
  endpoint: string;
  /** The request carried a DPoP proof: the token must come back DPoP-bound. */
  dpop: boolean;
  requireIdToken: boolean;
}

/** The optional members' types (RFC 6749 §5.1); `expires_in` as a number (a numeric string is taken). */
function optionalMembers(body: Record<string, unknown>, invalid: (what: string) => UpstreamError): number | undefined {
  if (body.id_token !== undefined && typeof body.id_token !== 'string') {
    throw invalid('answered a non-string "id_token"');
  }
  if (body.refresh_token !== undefined && typeof body.refresh_token !== 'string') {
    throw invalid('answered a non-string "refresh_token"');
  }
  if (body.scope !== undefined && typeof body.scope !== 'string') throw invalid('answered a non-string "scope"');
  let expiresIn = body.expires_in;
  if (typeof expiresIn === 'string' && /^\d{1,10}$/.test(expiresIn)) expiresIn = Number(expiresIn);
  if (expiresIn !== undefined && (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0)) {
    throw invalid('answered an invalid "expires_in"');
  }
  return expiresIn;
}

/** Pure: a 200 JSON object with `access_token`, a `token_type` that matches how we asked, and an `id_token`. */
export function processTokenResponse(res: HttpResponse, context: TokenContext): TokenSet {
  const { endpoint } = context;
  if (res.status !== 200) {
    const oauth = oauthErrorOf(res);
    const message = `The token endpoint ${endpoint} answered HTTP ${res.status} (${describeOAuthError(oauth)}).`;
    const extra = { ...oauth, upstreamStatus: res.status, details: { endpoint } };
    throw new UpstreamError('token_exchange_failed', message, extra);
  }
  const body = parseJsonObject(res.body);
  const invalid = (what: string) =>
    new UpstreamError('token_response_invalid', `The token endpoint ${endpoint} ${what}.`, { upstreamStatus: 200 });
  if (!body) throw invalid('did not answer with a JSON object');
  if (typeof body.access_token !== 'string' || body.access_token === '') {
    throw invalid('answered without an "access_token"');
  }
  if (typeof body.token_type !== 'string') throw invalid('answered without a "token_type"');
  const tokenType = body.token_type.toLowerCase(); // RFC 6749 §5.1: case insensitive
  const expected = context.dpop ? 'DPoP' : 'Bearer';
  // RFC 9449 §5: a DPoP-bound token comes back as token_type DPoP; a Bearer one only when we did not ask.
  if (tokenType !== expected.toLowerCase()) {
    throw invalid(`answered token_type "${safeText(body.token_type, 20)}" where ${expected} was expected`);
  }
  if (context.requireIdToken && (typeof body.id_token !== 'string' || body.id_token === '')) {
    throw invalid('answered without an "id_token"');
  }
  const expiresIn = optionalMembers(body, invalid);
  const tokens = { ...body, token_type: expected } as TokenSet;
  if (expiresIn !== undefined) tokens.expires_in = expiresIn;
  const details = processAuthorizationDetails(body.authorization_details, endpoint); // RFC 9396 §7
  if (details) tokens.authorization_details = details;
  else if (Object.hasOwn(tokens, 'authorization_details')) delete tokens.authorization_details; // [] or null: none
  return tokens;
}
