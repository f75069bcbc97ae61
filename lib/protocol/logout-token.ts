/**
 * The `logout_token` of OpenID Connect Back-Channel Logout 1.0, validated per §2.6 (claims per §2.4).
 * Anyone can POST to the back-channel route, so nothing here trusts the token before its signature,
 * issuer and audience are checked, and every failure is one `LogoutTokenError` with a short reason.
 */
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { safeText } from '../core/errors.js';
import type { LogoutClaims } from '../core/model.js';
import { verificationError, type Verified } from '../crypto/jose-errors.js';
import { isAsymmetricAlg } from '../crypto/keys.js';
import type { JwtExpectations } from './jwt-expectations.js';

type Claims = Record<string, unknown>;

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token without `exp` is accepted for this long after its `iat` (and its `jti` remembered as long). */
export const LOGOUT_TOKEN_MAX_AGE_S = 10 * 60;

/** `algorithms`: this client's ID token algorithms, as a logout token is signed like its ID tokens (§2.6 step 3). */
export interface LogoutTokenExpectations extends JwtExpectations {
  /** Seconds since the epoch; tests freeze it. */
  now?: number;
}

/** A logout token the client refuses: 400 with an OAuth error body (§2.8). */
export class LogoutTokenError extends Error {
  override name = 'LogoutTokenError';
}

function refuse(reason: string): never {
  throw new LogoutTokenError(reason);
}

/** Every failure refuses the token (400), a key set that cannot be had too: the provider may send it again. */
const LOGOUT_TOKEN: Verified = {
  keyFailuresPassOn: false,
  refused: (failure) =>
    new LogoutTokenError(
      failure.kind === 'claim'
        ? `the logout_token "${failure.claim}" claim is invalid`
        : failure.kind === 'expired'
          ? 'the logout_token has expired'
          : 'the logout_token signature cannot be verified',
    ),
};

/** Validates a logout token (Back-Channel Logout 1.0 §2.6) and returns what names the logins to end. */
export async function validateLogoutToken(token: unknown, expected: LogoutTokenExpectations): Promise<LogoutClaims> {
  if (typeof token !== 'string' || token.length === 0 || token.length > 16 * 1024) {
    refuse('missing or malformed logout_token');
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    refuse('the logout_token is not a JWS');
  }
  const alg = String(header.alg);
  // §2.6 step 3: validated like an ID token (Core §3.1.3.7): the expected algorithms only, never none or HMAC.
  if (!isAsymmetricAlg(alg) || !expected.algorithms.includes(alg)) {
    refuse(`the logout_token is signed with "${safeText(alg, 20)}", not an expected algorithm`);
  }
  // §2.4: explicit typing, when present, is logout+jwt.
  if (header.typ !== undefined && !/^(application\/)?logout\+jwt$/i.test(String(header.typ))) {
    refuse('the logout_token typ is not logout+jwt');
  }
  if (!expected.jwks) refuse('the server publishes no jwks_uri');
  const now = expected.now ?? Math.floor(Date.now() / 1000);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, expected.jwks, {
      algorithms: [alg],
      issuer: expected.issuer, // §2.6 step 4: iss exactly
      audience: expected.clientID, // step 4: aud contains the client_id
      clockTolerance: expected.clockTolerance, // step 4: exp, when present
      currentDate: new Date(now * 1000),
      requiredClaims: ['iss', 'aud', 'iat', 'jti', 'events'],
    }));
  } catch (err) {
    throw verificationError(err, LOGOUT_TOKEN);
  }
  return checkLogoutClaims(payload, expected, now);
}

/** Pure: the claim rules of §2.4 and §2.6 once the signature, `iss` and `aud` are verified. */
export function checkLogoutClaims(
  payload: JWTPayload,
  expected: Pick<LogoutTokenExpectations, 'clientID' | 'clockTolerance' | 'trustedAudiences'>,
  now: number,
): LogoutClaims {
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const trusted = expected.trustedAudiences;
  if (audiences.some((aud) => aud !== expected.clientID && !trusted?.includes(String(aud)))) {
    refuse('the logout_token lists an audience this client does not trust');
  }
  if (audiences.length > 1 && payload.azp !== undefined && payload.azp !== expected.clientID) {
    refuse('the logout_token azp is not this client');
  }
  // §2.6 step 4 / Core §3.1.3.7: iat not in the future, and not so old that its jti could be forgotten.
  const iat = payload.iat;
  if (typeof iat !== 'number' || iat > now + expected.clockTolerance) {
    refuse('the logout_token iat is missing or in the future');
  }
  const expires = typeof payload.exp === 'number' ? payload.exp : iat + LOGOUT_TOKEN_MAX_AGE_S;
  const validUntil = expires + expected.clockTolerance;
  if (validUntil < now) refuse('the logout_token is too old');
  // §2.6 step 5: an events claim holding the back-channel logout event, whose value is a JSON object.
  const events = payload.events;
  // A string or number has no such property, so the event is undefined either way.
  // Stryker disable next-line ConditionalExpression,LogicalOperator: see above
  const holder = events && typeof events === 'object' && !Array.isArray(events) ? (events as Claims) : {};
  const event = holder[BACKCHANNEL_LOGOUT_EVENT];
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    refuse('the logout_token has no back-channel logout event');
  }
  // §2.6 step 6: sid and/or sub.
  // Stryker disable next-line ConditionalExpression,StringLiteral: an empty sub is falsy: it names nothing either way
  const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
  // Stryker disable next-line ConditionalExpression,StringLiteral: an empty sid is falsy: it names nothing either way
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
  if (!sub && !sid) refuse('the logout_token has neither sub nor sid');
  // §2.6 step 7: no nonce (so an ID token cannot pass as a logout token).
  if (payload.nonce !== undefined) refuse('the logout_token has a nonce');
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 512) {
    refuse('the logout_token has no jti');
  }
  return { ...(sub ? { sub } : {}), ...(sid ? { sid } : {}), jti: payload.jti, iat, validUntil };
}
