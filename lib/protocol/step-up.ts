/**
 * Step-up authentication (RFC 9470): whether a login's authentication meets a requirement (an `acr` among
 * `acr_values`, an `auth_time` within `max_age`, OpenID Connect Core §2 and §3.1.2.1), the challenge an app
 * answers when it does not (§3), and the same challenge read back from an API's `401`. Pure functions.
 */
import { IdTokenError } from '../core/errors.js';
import { parseWwwAuthenticate } from './www-authenticate.js';

/** What a route or an API asks of the user's authentication. */
export interface AuthenticationRequirement {
  /** Acceptable `acr` values, most preferred first (RFC 9470 §3: any one of them will do). */
  acrValues?: readonly string[];
  /** Seconds since the user last authenticated actively (`auth_time`). */
  maxAge?: number;
}

/** Which part of a requirement a login falls short of. */
export type Shortfall = 'acr' | 'max_age';

/** RFC 9470 §3: the error code of a resource server's challenge. */
export const STEP_UP_ERROR = 'insufficient_user_authentication';

/**
 * What the claims (`acr`, `auth_time`) of a login lack for `required`, or undefined when they meet it. A
 * missing `auth_time` fails a `maxAge`; `clockTolerance` seconds of skew are allowed, as for the ID token.
 */
export function authenticationShortfall(
  claims: Record<string, unknown>,
  required: AuthenticationRequirement,
  now: number,
  clockTolerance: number,
): Shortfall | undefined {
  if (required.acrValues && !required.acrValues.includes(claims.acr as string)) return 'acr';
  if (required.maxAge !== undefined) {
    const authTime = claims.auth_time;
    if (typeof authTime !== 'number' || authTime + required.maxAge + clockTolerance < now) return 'max_age';
  }
  return undefined;
}

/**
 * The ID token of a login that asked for `max_age` carries `auth_time` (OpenID Connect Core §3.1.2.1: "the
 * ID Token returned MUST include an auth_time Claim Value"): without one the server answered wrongly (502).
 */
export function requireAuthTime(claims: Record<string, unknown>, required: AuthenticationRequirement): void {
  if (required.maxAge !== undefined && typeof claims.auth_time !== 'number') {
    throw new IdTokenError('The ID token has no "auth_time" although max_age was requested (Core §3.1.3.7).');
  }
}

/** RFC 9110 §11.2 quoted-string: `"` and `\` escaped. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * RFC 9470 §3: the `WWW-Authenticate` value that tells a client what authentication would do, e.g.
 * `Bearer error="insufficient_user_authentication", error_description="…", acr_values="gold", max_age=300`.
 */
export function stepUpChallenge(required: AuthenticationRequirement): string {
  const acr = required.acrValues !== undefined && required.acrValues.length > 0;
  const description = acr ? 'A different authentication level is required' : 'More recent authentication is required';
  const parts = [`error=${quoted(STEP_UP_ERROR)}`, `error_description=${quoted(description)}`];
  if (acr) parts.push(`acr_values=${quoted(required.acrValues!.join(' '))}`);
  if (required.maxAge !== undefined) parts.push(`max_age=${required.maxAge}`);
  return `Bearer ${parts.join(', ')}`;
}

/**
 * An `acr` value taken from an API's challenge: printable ASCII without the characters that start markup
 * or leave a quoted string (the app passes it back in `acr_values`, and may show it).
 */
const ACR_VALUE = /^[!#$%(-;=?-[\]-_a-z{|}~]{1,200}$/;
const MAX_ACR_VALUES = 10;

/** What an API's RFC 9470 challenge asks for, read from one challenge's parameters. */
function requirementOf(params: Record<string, string>): { acrValues: string[]; maxAge?: number } {
  const acrValues = (params.acr_values ?? '').split(' ').filter((v) => ACR_VALUE.test(v)).slice(0, MAX_ACR_VALUES);
  // Stryker disable next-line StringLiteral: any text that is not all digits is as good as '' here
  const maxAge = /^\d{1,9}$/.test(params.max_age ?? '') ? Number(params.max_age) : undefined;
  return maxAge === undefined ? { acrValues } : { acrValues, maxAge };
}

/**
 * RFC 9470 §3: an API's `401` whose challenge (Bearer or DPoP) has `error="insufficient_user_authentication"`:
 * what it asks for (`acrValues`, possibly empty; `maxAge` when it gives a number), or undefined for any
 * other answer. Values that are not plain `acr` tokens are left out.
 */
export function readStepUpChallenge(
  status: number,
  header: string | string[] | null | undefined,
): { acrValues: string[]; maxAge?: number } | undefined {
  if (status !== 401) return undefined;
  const challenge = parseWwwAuthenticate(header).find((c) => c.params.error === STEP_UP_ERROR);
  return challenge ? requirementOf(challenge.params) : undefined;
}
