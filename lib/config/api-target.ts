/**
 * The API of `req.oidc.getAccessToken({ audience | resource, scope })` and `req.oidc.fetch(url, init, { … })`,
 * checked when the call is made (a `TypeError` naming the option): Auth0's `audience` (one refresh token for
 * several APIs) or RFC 8707 `resource` indicators, and the `scope` asked for that API.
 */
import { createHash } from 'node:crypto';
import { fail } from '../core/assert.js';
import type { ApiTarget } from '../core/model.js';

export interface ApiTargetOptions {
  audience?: unknown;
  resource?: unknown;
  scope?: unknown;
}

/** RFC 6749 §3.3: scope tokens (NQCHAR) separated by single spaces. */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/;

function checkAudience(value: unknown, label: string): string {
  if (typeof value !== 'string' || value.trim() === '' || /[\x00-\x1f\x7f]/.test(value)) {
    fail(`${label}: "audience" must be a non-empty string (the API's identifier)`);
  }
  return value;
}

/** RFC 8707 §2: each value an absolute URI, without a fragment component. */
function checkResource(value: unknown, label: string): string[] {
  const values = typeof value === 'string' ? [value] : value;
  const message = `${label}: "resource" must be an absolute URI without a fragment, or a non-empty array of them`;
  if (!Array.isArray(values) || values.length === 0) fail(message);
  for (const uri of values as unknown[]) {
    if (typeof uri !== 'string' || !URL.canParse(uri) || uri.includes('#') || /[\s\x00-\x1f\x7f]/.test(uri)) {
      fail(message);
    }
  }
  return [...new Set(values as string[])];
}

function checkScope(value: unknown, label: string): string {
  if (typeof value !== 'string' || !SCOPE.test(value.trim())) {
    fail(`${label}: "scope" must be a space-separated string of scope values`);
  }
  return value.trim();
}

/**
 * The API asked for, or undefined for the login's own token (none of the three given). `label` names the
 * call in messages (`getAccessToken()`, `req.oidc.fetch()`).
 */
export function resolveApiTarget(options: ApiTargetOptions, label: string): ApiTarget | undefined {
  const { audience, resource, scope } = options;
  if (audience === undefined && resource === undefined) {
    if (scope !== undefined) fail(`${label}: "scope" asks for an API's token: give "audience" or "resource" with it`);
    return undefined;
  }
  if (audience !== undefined && resource !== undefined) fail(`${label}: give "audience" or "resource", not both`);
  const target: Omit<ApiTarget, 'key' | 'label'> = {};
  if (audience !== undefined) target.audience = checkAudience(audience, label);
  else target.resource = checkResource(resource, label);
  if (scope !== undefined) target.scope = checkScope(scope, label);
  const api = target.audience ?? target.resource!.join(' ');
  return { ...target, key: targetKey(target), label: api };
}

/** 66 bits of SHA-256 over the API and the scope (its values sorted): one stored token per (API, scope). */
function targetKey(target: Omit<ApiTarget, 'key' | 'label'>): string {
  const api = target.audience !== undefined ? `a ${target.audience}` : `r ${[...target.resource!].sort().join(' ')}`;
  const scope = target.scope ? [...new Set(target.scope.split(' '))].sort().join(' ') : '';
  return createHash('sha256').update(`${api}\n${scope}`).digest('base64url').slice(0, 11);
}
