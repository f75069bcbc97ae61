/**
 * `res.oidc` without an own property on Express's response objects.
 *
 * Express gives every request and response its app's prototype (`Object.setPrototypeOf(res, app.response)`),
 * which leaves each of them with a hidden class of its own: every property then added to one copies that
 * class, ~1.5 KB and ~2 µs per property per request (bench/README.md, "Object shapes on the hot path").
 * `req.oidc` has to be one (it holds the request's state). `res.oidc` does not: it is made from `req.oidc`
 * when first read, through one accessor on Express's own `response` object (what every app's
 * `app.response` inherits from, the extension point Express documents), defined once per Express copy.
 * A signed-in page that never reads `res.oidc` then adds one property to the request and none to the response.
 *
 * It behaves as the plain property did: `res.oidc` is the response context of the sign-in whose `req.oidc`
 * the request has (the same object at every read, until another mount sets `req.oidc`); anyone can assign
 * it (an own property then); undefined when no parAuth() ran. A response whose prototype chain is not
 * Express's (Node's own objects, another framework), or whose chain has someone else's `oidc`, gets the
 * own property at once, as before.
 */
import { ServerResponse } from 'node:http';
import type { Response } from 'express';

/** What `req.oidc` offers for a lazy `res.oidc`: the response context of its sign-in for this response. */
export const RESPONSE_CONTEXT: unique symbol = Symbol.for('express-par.responseContext');

export interface MakesResponseContext {
  [RESPONSE_CONTEXT](res: Response): Response['oidc'];
}

/** Apps' `app.response` objects whose chain carries the accessor: one lookup per request. */
const ready = new WeakSet<object>();
/** Those that cannot carry it (not Express's chain, or `oidc` taken there): the own property. */
const refused = new WeakSet<object>();

/** Marks the accessor, so the ESM and CommonJS builds loaded in one app recognise each other's. */
const LAZY_RESPONSE_OIDC = Symbol.for('express-par.lazyResponseOidc');

const accessor: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: Response): Response['oidc'] | undefined {
    const context = (this.req as { oidc?: Partial<MakesResponseContext> } | undefined)?.oidc;
    return typeof context?.[RESPONSE_CONTEXT] === 'function' ? context[RESPONSE_CONTEXT](this) : undefined;
  },
  set(this: Response, value: unknown): void {
    Object.defineProperty(this, 'oidc', { value, writable: true, enumerable: true, configurable: true });
  },
};
Object.defineProperty(accessor.get, LAZY_RESPONSE_OIDC, { value: true });

/**
 * Whether `res`'s chain carries the accessor, defining it on Express's `response` object the first time:
 * res → app.response → Express's `response` → Node's `ServerResponse.prototype`. False for any other shape.
 */
function lazyOidcFor(res: object): boolean {
  const appResponse = Object.getPrototypeOf(res) as object | null;
  if (appResponse === null) return false;
  // The two sets only spare the checks below on the next request: they give the same answer.
  // Stryker disable next-line ConditionalExpression: see above
  if (ready.has(appResponse)) return true;
  // Stryker disable next-line ConditionalExpression: see above
  if (refused.has(appResponse)) return false;
  const express = Object.getPrototypeOf(appResponse) as object | null;
  const expressShaped = express !== null && Object.getPrototypeOf(express) === ServerResponse.prototype;
  const getter: unknown = expressShaped ? Object.getOwnPropertyDescriptor(express, 'oidc')?.get : undefined;
  const ours = typeof getter === 'function' && (getter as { [LAZY_RESPONSE_OIDC]?: true })[LAZY_RESPONSE_OIDC] === true;
  // Someone else's `oidc` on the chain (the app's `app.response`, Express's or Node's object) stays theirs.
  if (!expressShaped || Object.hasOwn(appResponse, 'oidc') || (!ours && 'oidc' in express)) {
    // Stryker disable next-line CallExpression: a cache (see above)
    refused.add(appResponse);
    return false;
  }
  if (!ours && !Reflect.defineProperty(express, 'oidc', accessor)) {
    // Stryker disable next-line CallExpression: a cache (see above)
    refused.add(appResponse); // a frozen or sealed Express object: the own property
    return false;
  }
  ready.add(appResponse);
  return true;
}

/**
 * Gives `res` its `res.oidc` for the request context just set as `req.oidc`: nothing to do when the
 * accessor will make it on first read; else made now, as an own property.
 */
export function provideResponseOidc(res: Response, context: MakesResponseContext): void {
  // An own `oidc` (an earlier mount's, or an assignment) hides the accessor: replace it, as before.
  if (!Object.hasOwn(res, 'oidc') && lazyOidcFor(res)) return;
  res.oidc = context[RESPONSE_CONTEXT](res);
}
