/**
 * Authorization parameters, configured (`authorizationParams`) or per login (`res.oidc.login()`,
 * `passport.authenticate('par', { authorizationParams })`): encoded once for the pushed request, the
 * protocol parameters refused with a `TypeError` that names them.
 */
import { fail } from '../core/assert.js';
import type { AuthorizationParamValue } from '../core/types.js';
import { assertAuthorizationDetails } from '../protocol/authorization-details.js';

type Params = Record<string, AuthorizationParamValue | undefined>;

/** Parameters the library sets itself; letting options override them would break PKCE, state or nonce. */
const RESERVED_PARAMS = [
  'client_id', 'redirect_uri', 'response_type', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'request',
  'request_uri', 'dpop_jkt', 'client_secret', 'client_assertion', 'client_assertion_type',
];

/** Whether express-par sets `key` itself (the protocol parameters), so no option or request may. */
export function isReservedParam(key: string): boolean {
  return RESERVED_PARAMS.includes(key) || key.startsWith('client_assertion') || key.startsWith('code_challenge');
}

/** One parameter appended to `out`: a string array as repeated values, an object as JSON, a scalar as text. */
function appendParam(out: URLSearchParams, key: string, value: AuthorizationParamValue, label: string): void {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    for (const v of value as string[]) out.append(key, v);
  } else if (value !== null && typeof value === 'object') {
    out.set(key, JSON.stringify(value)); // e.g. authorization_details (RFC 9396)
  } else if (['string', 'number', 'boolean'].includes(typeof value)) {
    out.set(key, String(value));
  } else {
    fail(`"${label}.${key}" must be a string, number, boolean, string array or JSON object`);
  }
}

/**
 * Encodes authorization parameters (`authorizationParams` in the options, or per request), refusing the
 * protocol parameters with a `TypeError` that names them. `label` prefixes the name in messages.
 */
export function encodeParams(params: Params, label = 'authorizationParams', defaults = true): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    // "code" is the only response type, so asking for it (as express-openid-connect apps do) changes nothing.
    if (value === undefined || (key === 'response_type' && value === 'code')) continue;
    if (isReservedParam(key)) {
      fail(`"${label}.${key}" is set by express-par itself and cannot be ${defaults ? 'configured' : 'overridden'}`);
    }
    if (key === 'response_mode' && value !== 'query') {
      fail(`"${label}.response_mode" must be "query" (the callback route is GET)`);
    }
    if (key === 'authorization_details') assertAuthorizationDetails(value, `${label}.authorization_details`);
    appendParam(out, key, value, label);
  }
  if (defaults && !out.has('scope')) out.set('scope', 'openid profile email');
  if (out.has('scope') && !out.get('scope')!.split(' ').includes('openid')) {
    fail(`"${label}.scope" must include "openid"`);
  }
  return out;
}

/** The `authorizationParams` option, encoded (default `scope=openid profile email`). */
export function resolveAuthorizationParams(value: unknown): URLSearchParams {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    fail('"authorizationParams" must be an object');
  }
  return encodeParams((value ?? {}) as Params);
}

/**
 * The configured parameters with per-request ones (`res.oidc.login({ authorizationParams })`,
 * `passport.authenticate('par', { authorizationParams })`) merged over them: a parameter given per
 * request replaces the configured one. The protocol parameters (`state`, `nonce`, `redirect_uri`,
 * `code_challenge*`, `response_type`, `client_id`, `request_uri`, `request`, `dpop_jkt`, client
 * credentials) throw a `TypeError` naming the parameter.
 */
export function mergeAuthorizationParams(configured: URLSearchParams, perRequest: unknown): URLSearchParams {
  if (perRequest === undefined) return configured;
  if (perRequest === null || typeof perRequest !== 'object' || Array.isArray(perRequest)) {
    fail('"authorizationParams" must be an object');
  }
  const extra = encodeParams(perRequest as Params, 'authorizationParams', false);
  const merged = new URLSearchParams(configured);
  for (const key of new Set(extra.keys())) {
    merged.delete(key);
    for (const value of extra.getAll(key)) merged.append(key, value);
  }
  return merged;
}
