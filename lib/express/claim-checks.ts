/**
 * Route guards on the ID token claims: `claimEquals`, `claimIncludes`, `claimCheck`. Logged out, they
 * behave like `requiresAuth()`; logged in, a failed check is a 403 `insufficient_claims`, never a
 * redirect to the login (the same user would come back with the same claims: a loop).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestError } from '../core/errors.js';
import type { IdTokenClaims } from '../core/types.js';
import { checkedClaims } from './request-keys.js';
import { requiresAuth } from './requires-auth.js';

export type ClaimValue = string | number | boolean | null;
/**
 * `claims`: `req.oidc.user` under parAuth() (as afterCallback stored them), the ID token's claims under
 * auth() (as express-openid-connect passes them).
 */
export type ClaimCheckFunction = (req: Request, claims: IdTokenClaims) => boolean;

function claimName(claim: unknown, fn: string): string {
  if (typeof claim !== 'string' || claim === '') throw new TypeError(`${fn}(): "claim" must be a non-empty string`);
  return claim;
}

function claimValue(value: unknown, fn: string): ClaimValue {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value as ClaimValue;
  throw new TypeError(`${fn}(): expected values must be strings, numbers, booleans or null`);
}

function insufficient(): RequestError {
  const message = 'The signed-in user does not have the claims this route requires.';
  return new RequestError('insufficient_claims', message, { status: 403 });
}

/** The guard: logged out → `requiresAuth()`; logged in → `check`, 403 when it is not `true`. */
function guard(check: ClaimCheckFunction, fn: string): RequestHandler {
  const loginFirst = requiresAuth();
  return function claimCheckMiddleware(req: Request, res: Response, next: NextFunction) {
    if (!req.oidc?.isAuthenticated()) return loginFirst(req, res, next);
    let passed: unknown;
    try {
      passed = check(req, (checkedClaims(req) ?? {}) as IdTokenClaims);
    } catch (err) {
      return next(err);
    }
    if (passed !== null && typeof passed === 'object' && typeof (passed as Promise<unknown>).then === 'function') {
      return next(new TypeError(`${fn}(): the check must return a boolean, not a Promise`));
    }
    if (passed === true) return next();
    return next(insufficient());
  };
}

/**
 * Lets the user through when the claim equals `value` (strictly).
 *
 * @example
 * app.get('/admin', claimEquals('role', 'admin'), handler);
 */
export function claimEquals(claim: string, value: ClaimValue): RequestHandler {
  const name = claimName(claim, 'claimEquals');
  const expected = claimValue(value, 'claimEquals');
  return guard((_req, claims) => Object.hasOwn(claims, name) && claims[name] === expected, 'claimEquals');
}

/**
 * Lets the user through when the claim holds every one of `values`: the claim is an array, or a
 * space-separated string (such as `scope`).
 *
 * @example
 * app.get('/billing', claimIncludes('permissions', 'read:billing', 'write:billing'), handler);
 */
export function claimIncludes(claim: string, ...values: ClaimValue[]): RequestHandler {
  const name = claimName(claim, 'claimIncludes');
  if (values.length === 0) throw new TypeError('claimIncludes(): give at least one expected value');
  const expected = values.map((v) => claimValue(v, 'claimIncludes'));
  return guard((_req, claims) => {
    const actual = Object.hasOwn(claims, name) ? claims[name] : undefined;
    const words = typeof actual === 'string' ? actual.split(' ').filter(Boolean) : undefined;
    const held: unknown[] = words ?? (Array.isArray(actual) ? actual : []);
    return expected.every((v) => held.includes(v));
  }, 'claimIncludes');
}

/**
 * Lets the user through when `check(req, claims)` returns `true` (synchronously; a throw goes to
 * `next(err)`).
 *
 * @example
 * app.get('/reports', claimCheck((req, claims) => claims.org_id === req.params.org), handler);
 */
export function claimCheck(check: ClaimCheckFunction): RequestHandler {
  if (typeof check !== 'function') throw new TypeError('claimCheck(): give a function (req, claims) => boolean');
  return guard(check, 'claimCheck');
}
