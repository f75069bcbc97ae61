/**
 * What `parAuth()` records about a request, kept on the request's own `req.oidc` object rather than as
 * extra properties of `req` or in a per-request WeakMap: an authenticated page then adds exactly one
 * property to `req` and one to `res` (`oidc`, the contract's), which keeps Express's and Node's request
 * objects in fewer shapes (bench/README.md, "Object shapes on the hot path").
 * `Symbol.for`: the ESM and CommonJS builds of express-par, both loaded in one app, read each other's.
 */
import type { Request } from 'express';
import type { Engine } from '../engine/engine.js';

export const ENGINE: unique symbol = Symbol.for('express-par.engine');
export const MOUNT_PATH: unique symbol = Symbol.for('express-par.mountPath');
/** The access token this sign-in's login held when the request began (null: the request had no session). */
export const LOADED_ACCESS_TOKEN: unique symbol = Symbol.for('express-par.loadedAccessToken');

/** The claims the claim checks test (`user` under parAuth(), the ID token's under auth(), as EOC does). */
export const CHECKED_CLAIMS: unique symbol = Symbol.for('express-par.checkedClaims');

export interface RequestRecord {
  readonly [ENGINE]: Engine;
  readonly [MOUNT_PATH]: string;
  readonly [LOADED_ACCESS_TOKEN]: string | undefined | null;
  readonly [CHECKED_CLAIMS]: Record<string, unknown> | undefined;
}

/** The claims the claim checks test for this request; undefined without a login. */
export function checkedClaims(req: Request): Record<string, unknown> | undefined {
  return recordOf(req)?.[CHECKED_CLAIMS];
}

function recordOf(req: Request): Partial<RequestRecord> | undefined {
  const context: unknown = (req as { oidc?: unknown }).oidc;
  return context !== null && typeof context === 'object' ? (context as Partial<RequestRecord>) : undefined;
}

/** The engine of the `parAuth()` that last handled this request; undefined without one. */
export function engineOf(req: Request): Engine | undefined {
  return recordOf(req)?.[ENGINE];
}

/** Where that `parAuth()` is mounted (`req.baseUrl` when it ran). */
export function mountPathOf(req: Request): string {
  return recordOf(req)?.[MOUNT_PATH] ?? '';
}

/**
 * The access token `engine`'s login held when this request began, as `{ accessToken }`; undefined when
 * that is not known (another sign-in's `parAuth()` handled the request last, or there was no session).
 */
export function loadedAccessToken(req: Request, engine: Engine): { accessToken: string | undefined } | undefined {
  const record = recordOf(req);
  if (record?.[ENGINE] !== engine) return undefined;
  const loaded = record[LOADED_ACCESS_TOKEN];
  return loaded === null ? undefined : { accessToken: loaded };
}
