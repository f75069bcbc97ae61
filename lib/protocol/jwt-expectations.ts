/**
 * What every JWT from the authorization server is checked against, built in one place: the ID token
 * (OpenID Connect Core §3.1.3.7), a logout token (Back-Channel Logout 1.0 §2.6, "validated like an ID
 * token") and a signed userinfo answer (Core §5.3.2): the issuer, this client as audience, the accepted
 * algorithms, the clock tolerance, and the keys (the server's key set, or the client secret for HMAC).
 */
import type { JWTVerifyGetKey } from 'jose';
import type { ResolvedConfig } from '../core/model.js';

export interface JwtExpectations {
  /** The issuer identifier from the metadata: `iss` exactly. */
  issuer: string;
  /** `aud` contains it. */
  clientID: string;
  /** Algorithms accepted (already resolved from options and server metadata). */
  algorithms: string[];
  clockTolerance: number;
  /** Audiences besides the client_id that may appear in `aud` (Core §3.1.3.7 step 3). */
  trustedAudiences?: readonly string[];
  jwks?: JWTVerifyGetKey;
  /** The key of HMAC algorithms (Core §10.1), when configured. */
  clientSecret?: string;
}

type Client = Pick<ResolvedConfig, 'clientID' | 'clockTolerance' | 'trustedAudiences' | 'clientSecret'>;

/**
 * A fresh object per JWT, its optional fields assigned: callers add theirs (nonce, refreshOf) the same
 * way. Assignment, not spread: a spread literal gets a new hidden class per added property (bench/README.md,
 * "Object shapes on the hot path").
 */
export function jwtExpectations(
  client: Client,
  issuer: string,
  algorithms: string[],
  jwks: JWTVerifyGetKey | undefined,
): JwtExpectations {
  const { clientID, clockTolerance } = client;
  const expected: JwtExpectations = { issuer, clientID, algorithms, clockTolerance };
  if (client.trustedAudiences) expected.trustedAudiences = client.trustedAudiences;
  if (jwks) expected.jwks = jwks;
  if (client.clientSecret) expected.clientSecret = client.clientSecret;
  return expected;
}
