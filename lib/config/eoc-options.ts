/**
 * express-openid-connect's options that `parAuth()` does not take, each with what to use instead: an
 * app moving over is told at start-up, by name, rather than left with a bare "not an option".
 */

/** EOC option → what does its work with parAuth() (read as "…, or <this>"). */
const PARAUTH_EQUIVALENTS: Readonly<Record<string, string>> = {
  secret: "express-session's secret with parAuth()",
  session: "express-session's own options (name, cookie, store, rolling) with parAuth()",
  authRequired: 'requiresAuth() on the routes to protect with parAuth()',
  attemptSilentLogin: 'the attemptSilentLogin() middleware with parAuth()',
  errorOnRequiredAuth: 'requiresAuth() with parAuth(), which answers 401 to anything but a page load',
  idpLogout: "parAuth(), whose logout ends the provider's session through its end_session_endpoint",
  auth0Logout: "parAuth(), whose logout ends the provider's session through its end_session_endpoint",
  idTokenSigningAlg: 'idTokenSigningAlgs: [alg] with parAuth()',
  identityClaimFilter: 'afterCallback (shape session.claims) with parAuth()',
  getLoginState: 'res.oidc.login({ returnTo }) and your own data in req.session with parAuth()',
  pushedAuthorizationRequests: 'parAuth(), which always pushes the request (PAR)',
  transactionCookie: 'parAuth(), which keeps pending logins in the session (no cookie of their own)',
  legacySameSiteCookie: 'parAuth(), which keeps pending logins in the session (no cookie of their own)',
  tokenEndpointParams: 'parAuth(), whose token requests carry what the specs name',
  discoveryCacheMaxAge: 'parAuth(), which caches the metadata for an hour and checks it again in the background',
  enableTelemetry: 'parAuth(), which sends no telemetry',
  customFetch: 'httpTimeout and tls with parAuth() (its HTTP client is fixed)',
  httpAgent: 'httpTimeout and tls with parAuth() (its HTTP client is fixed)',
  httpUserAgent: 'parAuth() (its HTTP client is fixed)',
  useMtls: 'tls: { cert, key } with parAuth()',
  requestObjectSigningKeyId: 'a JWK with its "kid" as requestObjectSigningKey with parAuth()',
};

/**
 * The message for an option `parAuth()` does not know: when it is an express-openid-connect option,
 * `auth()` (which takes them) and the `parAuth()` way are named.
 */
export function unknownOptionMessage(key: string): string {
  const equivalent = Object.hasOwn(PARAUTH_EQUIVALENTS, key) ? PARAUTH_EQUIVALENTS[key] : undefined;
  if (!equivalent) return `"${key}" is not an express-par option`;
  return `"${key}" is an express-openid-connect option: use auth() for EOC options, or ${equivalent}`;
}
