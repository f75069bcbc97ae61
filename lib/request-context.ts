/** `req.oidc`: what a route handler can ask about the current login. */
import type { Request } from 'express';
import type { Engine } from './engine.js';
import { createProof } from './dpop.js';
import { withTokens } from './login-session.js';
import { requireSession, saveSession } from './session.js';
import type { LoginSession } from './types.js';

export interface RequestContext {
  isAuthenticated(): boolean;
  /** ID token claims; undefined when not logged in. */
  readonly user: Record<string, unknown> | undefined;
  readonly idToken: string | undefined;
  readonly accessToken: string | undefined;
  readonly refreshToken: string | undefined;
  /** Seconds since the epoch when the access token expires. */
  readonly expiresAt: number | undefined;
  /** `Bearer` or `DPoP`. */
  readonly tokenType: string | undefined;
  /**
   * Headers for a resource request with the access token: `Authorization: Bearer …`, or with DPoP
   * (RFC 9449 §7) `Authorization: DPoP …` and a fresh `DPoP` proof bound to `method` and `url`.
   */
  authorizationHeaders(method: string, url: string | URL): Promise<Record<string, string>>;
  /**
   * Redeems the refresh token (RFC 6749 §6) and stores the new tokens in the session (a new ID token is
   * validated first, OpenID Connect Core §12.2). Rejects with a `ParError` when the server refuses.
   */
  refresh(): Promise<void>;
}

export const ENGINE = Symbol.for('express-par.engine');
export const MOUNT_PATH = Symbol.for('express-par.mountPath');

export type RequestWithContext = Request & { [ENGINE]?: Engine; [MOUNT_PATH]?: string };

function login(req: Request): LoginSession | undefined {
  const stored = (req as Request & { session?: { oidc?: LoginSession } }).session?.oidc;
  return stored && typeof stored.idToken === 'string' && stored.claims ? stored : undefined;
}

/**
 * One small object per request: the getters and methods live on the prototype (an object literal with
 * nine accessors and closures cost ~4 µs per request to build and read, this ~0.05 µs).
 */
export function createRequestContext(req: Request, engine: Engine): RequestContext {
  return new OidcContext(req, engine);
}

class OidcContext implements RequestContext {
  readonly #req: Request;
  readonly #engine: Engine;

  constructor(req: Request, engine: Engine) {
    this.#req = req;
    this.#engine = engine;
  }

  isAuthenticated(): boolean {
    return login(this.#req) !== undefined;
  }
  get user() {
    return login(this.#req)?.claims;
  }
  get idToken() {
    return login(this.#req)?.idToken;
  }
  get accessToken() {
    return login(this.#req)?.accessToken;
  }
  get refreshToken() {
    return login(this.#req)?.refreshToken;
  }
  get expiresAt() {
    return login(this.#req)?.expiresAt;
  }
  get tokenType() {
    return login(this.#req)?.tokenType;
  }
  async authorizationHeaders(method: string, url: string | URL): Promise<Record<string, string>> {
    const req = this.#req;
    const engine = this.#engine;
    const current = login(req);
    if (!current?.accessToken) throw new TypeError('req.oidc.authorizationHeaders() needs a logged-in user with an access token');
    if (current.tokenType !== 'DPoP') return { authorization: `Bearer ${current.accessToken}` };
    const key = await engine.dpopKey(current.dpopJwk as never);
    if (!key) throw new TypeError('the DPoP key of this login is missing');
    const proof = await createProof(key, method.toUpperCase(), url, { accessToken: current.accessToken, nonce: engine.dpopNonces.get(url) });
    return { authorization: `DPoP ${current.accessToken}`, dpop: proof };
  }
  async refresh() {
    const req = this.#req;
    const engine = this.#engine;
    const current = login(req);
    if (!current) throw new TypeError('req.oidc.refresh() needs a logged-in user');
    requireSession(req);
    const { tokens, claims } = await engine.refresh(current);
    const next = withTokens(current, tokens, claims);
    req.session.oidc = next;
    await saveSession(req);
    engine.emit({ type: 'token.refreshed', ...(next.expiresAt !== undefined ? { expiresAt: next.expiresAt } : {}) });
  }
}
