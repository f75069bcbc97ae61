/**
 * The token endpoint (RFC 6749 §3.2): one token request for the code exchange (§4.1.3, with the PKCE
 * verifier, RFC 7636 §4.5) and the refresh (§6), each with the login's DPoP key and the client
 * certificate; and the ID token checks both use (OpenID Connect Core §3.1.3.7, §12.2).
 */
import type { JWTPayload } from 'jose';
import type { ApiTarget, CertificateBinding, Discovered, ServerMetadata, Transaction } from '../core/model.js';
import type { UpstreamError } from '../core/errors.js';
import { audienceMismatch } from '../protocol/access-token-audience.js';
import { checkGrantedTypes } from '../protocol/authorization-details.js';
import type { LoginSession, TokenSet } from '../core/types.js';
import { resolveIdTokenAlgs, validateIdToken, type IdTokenExpectations } from '../protocol/id-token.js';
import { jwtExpectations } from '../protocol/jwt-expectations.js';
import { certificateBinding } from '../protocol/mtls.js';
import { processTokenResponse, refreshParameters } from '../protocol/token.js';
import { idTokenPayload } from '../state/login.js';
import { dpopKey, endpointOf, postToServer, ready, type EngineContext } from './context.js';

export interface TokenAnswer {
  tokens: TokenSet;
  /** Set when the access token is bound to the client certificate (RFC 8705 §3). */
  certificateBinding?: CertificateBinding;
}

/** What a refresh returns: the new tokens, a new ID token's claims, whether the access token is certificate-bound. */
export interface Refreshed {
  tokens: Partial<TokenSet>;
  claims?: JWTPayload;
  certificateBinding?: CertificateBinding;
  /**
   * An API's access token that names another audience (502 `access_token_audience_mismatch`): not to be used,
   * but the response's rotated refresh token is the live one and must be kept.
   */
  refused?: UpstreamError;
}

/**
 * POSTs `params` to the token endpoint (its mTLS alias with a certificate) with the client's
 * authentication and, for a DPoP login, a proof with the key of `dpopJwk`; checks the answer.
 */
export async function tokenRequest(
  ctx: EngineContext,
  metadata: ServerMetadata,
  params: URLSearchParams,
  dpopJwk: Transaction['dpopJwk'],
  requireIdToken: boolean,
): Promise<TokenAnswer> {
  const key = ctx.config.dpop ? await dpopKey(ctx, dpopJwk) : undefined;
  const url = endpointOf(ctx, metadata, 'token_endpoint')!;
  const res = await postToServer(ctx, { issuer: metadata.issuer, url, step: 'token endpoint', params, key });
  const tokens = processTokenResponse(res, { endpoint: url, dpop: !!key, requireIdToken });
  const binding = certificateBinding(ctx.config.tls, metadata, tokens.token_type);
  return binding ? { tokens, certificateBinding: binding } : { tokens };
}

/** What this client's ID tokens are checked against; callers assign their own fields (nonce, maxAge, refreshOf). */
export function idTokenExpectations(ctx: EngineContext, found: Discovered, accessToken?: string): IdTokenExpectations {
  const { metadata, jwks } = found;
  const algorithms = resolveIdTokenAlgs(ctx.config.idTokenSigningAlgs, metadata.id_token_signing_alg_values_supported);
  const expected: IdTokenExpectations = jwtExpectations(ctx.config, metadata.issuer, algorithms, jwks);
  if (accessToken) expected.accessToken = accessToken;
  return expected;
}

/**
 * Redeems the login's refresh token (RFC 6749 §6); returns the new tokens, when an ID token came back
 * its claims, and whether the new access token is certificate-bound. With `target`, for that API (its
 * `audience` or RFC 8707 `resource`, and `scope`), with the login's DPoP key and client certificate: a JWT
 * access token must name what was asked in its `aud`, and an ID token in the answer is not used.
 */
export async function refresh(ctx: EngineContext, login: LoginSession, target?: ApiTarget): Promise<Refreshed> {
  if (!login.refreshToken) {
    throw new TypeError('this login has no refresh token (ask for offline_access, or the server does not issue one)');
  }
  const discovered = await ready(ctx);
  const params = refreshParameters(login.refreshToken, target);
  const dpopJwk = login.dpopJwk as Transaction['dpopJwk'];
  const { tokens, certificateBinding: binding } = await tokenRequest(ctx, discovered.metadata, params, dpopJwk, false);
  // RFC 9396 §7: a refresh grants no type of authorization_details the login did not ask for.
  checkGrantedTypes(tokens.authorization_details, login.authorizationDetailsTypes);
  const bound = binding ? { certificateBinding: binding } : {};
  if (target) {
    const refused = audienceMismatch(tokens.access_token!, target.audience ? [target.audience] : target.resource!);
    return { tokens, ...bound, ...(refused ? { refused } : {}) };
  }
  if (!tokens.id_token) return { tokens, ...bound };
  const expected = idTokenExpectations(ctx, discovered, tokens.access_token);
  // Core §12.2: compared with the original ID token's claims, not with those an afterCallback shaped.
  expected.refreshOf = idTokenPayload(login);
  const claims = await validateIdToken(tokens.id_token, expected);
  return { tokens, claims, ...bound };
}
