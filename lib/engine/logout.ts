/**
 * Logout: the RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0 §2) and the check of a
 * back-channel logout token (Back-Channel Logout 1.0 §2.6), validated like this client's ID tokens.
 */
import { createLogger } from '../core/log.js';
import type { LogoutClaims, ResolvedLogout } from '../core/model.js';
import { endSessionUrl } from '../protocol/end-session.js';
import { resolveIdTokenAlgs } from '../protocol/id-token.js';
import { jwtExpectations } from '../protocol/jwt-expectations.js';
import { validateLogoutToken } from '../protocol/logout-token.js';
import { ready, type EngineContext } from './context.js';

const log = createLogger('engine');

/**
 * Validates a back-channel `logout_token`; rejects with `LogoutTokenError` or a `ParError`. Its
 * algorithms: the configured ones, else those this client's ID tokens used, else the advertised
 * asymmetric ones (§2.6 step 3).
 */
export async function checkLogoutToken(ctx: EngineContext, token: unknown): Promise<LogoutClaims> {
  const { metadata, jwks } = await ready(ctx);
  const seen = ctx.idTokenAlgsSeen;
  const advertised = () => resolveIdTokenAlgs(undefined, metadata.id_token_signing_alg_values_supported);
  const algorithms = ctx.config.idTokenSigningAlgs ?? (seen.size > 0 ? [...seen] : advertised());
  return validateLogoutToken(token, jwtExpectations(ctx.config, metadata.issuer, algorithms, jwks));
}

function configuredParams(config: EngineContext['config']): URLSearchParams {
  return new URLSearchParams(config.logoutParams);
}

/**
 * The RP-initiated logout URL, or undefined when the server has no end_session_endpoint (or is
 * unreachable). `logout` (from `resolveLogout()`) sets post_logout_redirect_uri and extra parameters.
 */
export async function logoutUrl(
  ctx: EngineContext,
  idToken: string | undefined,
  logout?: ResolvedLogout,
): Promise<string | undefined> {
  if (ctx.config.rpInitiatedLogout === false) return undefined; // auth()'s idpLogout: false, a local logout
  let metadata;
  try {
    ({ metadata } = await ready(ctx)); // the self-check refuses a cleartext end_session_endpoint
  } catch (err) {
    log('logout without RP-initiated logout: %s', (err as Error).message);
    return undefined;
  }
  if (!metadata.end_session_endpoint) return undefined;
  const { config } = ctx;
  return endSessionUrl(metadata.end_session_endpoint, {
    idToken,
    clientID: config.clientID,
    ...(logout ?? { postLogoutRedirectUri: config.postLogoutRedirectUri, logoutParams: configuredParams(config) }),
  });
}
