/**
 * The token request (RFC 6749 §4.1.3 with RFC 7636 §4.5 `code_verifier`) and the check of its answer
 * (RFC 6749 §5.1, RFC 9449 §5). Send and process kept apart; `processTokenResponse` is pure.
 */
import { safeText, UpstreamError } from '../core/errors.js';
import { parseJsonObject, type HttpResponse } from '../net/http.js';
import { oauthErrorOf } from './endpoint.js';
import type { TokenSet } from '../core/types.js';

export function authorizationCodeParameters(code: string, redirectUri: string, codeVerifier: string): URLSearchParams {
  return new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: codeVerifier });
}

export function refreshParameters(refreshToken: string): URLSearchParams {
  return new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
}

/** Pure: a 200 JSON object with `access_token`, a `token_type` that matches how we asked, and an `id_token`. */
export function processTokenResponse(res: HttpResponse, context: { endpoint: string; dpop: boolean; requireIdToken: boolean }): TokenSet {
  if (res.status !== 200) {
    const oauth = oauthErrorOf(res);
    const what = oauth.error ? `${oauth.error}${oauth.error_description ? `: ${oauth.error_description}` : ''}` : 'no OAuth error in the body';
    throw new UpstreamError('token_exchange_failed', `The token endpoint ${context.endpoint} answered HTTP ${res.status} (${what}).`, {
      ...oauth,
      upstreamStatus: res.status,
      details: { endpoint: context.endpoint },
    });
  }
  const body = parseJsonObject(res.body);
  const invalid = (what: string) => new UpstreamError('token_response_invalid', `The token endpoint ${context.endpoint} ${what}.`, { upstreamStatus: 200 });
  if (!body) throw invalid('did not answer with a JSON object');
  if (typeof body.access_token !== 'string' || body.access_token === '') throw invalid('answered without an "access_token"');
  if (typeof body.token_type !== 'string') throw invalid('answered without a "token_type"');
  const tokenType = body.token_type.toLowerCase(); // RFC 6749 §5.1: case insensitive
  // RFC 9449 §5: a DPoP-bound token comes back as token_type DPoP; a Bearer one only when we did not ask.
  if (context.dpop ? tokenType !== 'dpop' : tokenType !== 'bearer') {
    throw invalid(`answered token_type "${safeText(body.token_type, 20)}" where ${context.dpop ? 'DPoP' : 'Bearer'} was expected`);
  }
  if (context.requireIdToken && (typeof body.id_token !== 'string' || body.id_token === '')) throw invalid('answered without an "id_token"');
  if (body.id_token !== undefined && typeof body.id_token !== 'string') throw invalid('answered a non-string "id_token"');
  if (body.refresh_token !== undefined && typeof body.refresh_token !== 'string') throw invalid('answered a non-string "refresh_token"');
  if (body.scope !== undefined && typeof body.scope !== 'string') throw invalid('answered a non-string "scope"');
  let expiresIn = body.expires_in;
  if (typeof expiresIn === 'string' && /^\d{1,10}$/.test(expiresIn)) expiresIn = Number(expiresIn);
  if (expiresIn !== undefined && (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0)) throw invalid('answered an invalid "expires_in"');
  return { ...body, token_type: context.dpop ? 'DPoP' : 'Bearer', ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}) } as TokenSet;
}
