/**
 * The token endpoint (RFC 6749 §3.2): one token request for the code exchange (§4.1.3, with the PKCE
 * verifier, RFC 7636 §4.5) and the refresh (§6), each with the login's DPoP key and the client
 * certificate; and the ID token checks both use (OpenID Connect Core §3.1.3.7, §12.2).
 */
import type { JWTPayload } from 'jose';
import type { CertificateBinding, Discovered, ServerMetadata, Transaction } from '../core/model.js';
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
 * its claims, and whether the new access token is certificate-bound.
 */
export async function refresh(ctx: EngineContext, login: LoginSession): Promise<Refreshed> {
  if (!login.refreshToken) {
    throw new TypeError('this login has no refresh token (ask for offline_access, or the server does not issue one)');
  }
  const discovered = await ready(ctx);
  const params = refreshParameters(login.refreshToken);
  const dpopJwk = login.dpopJwk as Transaction['dpopJwk'];
  const { tokens, certificateBinding: binding } = await tokenRequest(ctx, discovered.metadata, params, dpopJwk, false);
  const bound = binding ? { certificateBinding: binding } : {};
  if (!tokens.id_token) return { tokens, ...bound };
  const expected = idTokenExpectations(ctx, discovered, tokens.access_token);
  // Core §12.2: compared with the original ID token's claims, not with those an afterCallback shaped.
  expected.refreshOf = idTokenPayload(login);
  const claims = await validateIdToken(tokens.id_token, expected);
  return { tokens, claims, ...bound };
}
