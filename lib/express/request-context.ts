/** `req.oidc`: what a route handler can ask about the current login. */
import type { Request } from 'express';
import type { Engine } from '../engine/engine.js';
import { getAccessToken, guardSessionSave, refreshNow } from './access-token.js';
import { accessTokenHeaders } from '../protocol/dpop.js';
import { fetchAsUser } from './resource-fetch.js';
import { idTokenPayload, readLogin, readStoredLogin, type StoredLogin } from '../state/login.js';
import type { AccessTokenValue, IdTokenClaims, UserInfoResponse } from '../core/types.js';
import { fetchUserInfo } from './userinfo.js';
import { CHECKED_CLAIMS, ENGINE, LOADED_ACCESS_TOKEN, MOUNT_PATH, type RequestRecord } from './request-keys.js';

/** Header names (lower case) and values. */
export type HeaderMap = Record<string, string>;

/** `dpopNonce`: the `DPoP-Nonce` the resource server last answered with (RFC 9449 §9). */
export interface DpopNonceOption {
  dpopNonce?: string;
}

/**
 * `req.oidc`, one type for parAuth() and auth() apps: where the two differ (`accessToken`, `user`), the
 * member says what each gives.
 */
export interface RequestContext {
  isAuthenticated(): boolean;
  /**
   * The login's claims; undefined when not logged in. parAuth(): the ID token's claims as stored
   * (afterCallback may shape them). auth(): the ID token's claims less `identityClaimFilter`'s.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EOC types it so; `unknown` breaks its typed apps
  readonly user: Record<string, any> | undefined;
  /** The claims of the ID token as it was validated, whatever afterCallback stored; undefined when not logged in. */
  readonly idTokenClaims: IdTokenClaims | undefined;
  readonly idToken: string | undefined;
  /**
   * The access token: **a string under parAuth()**; under auth(), express-openid-connect's object
   * (`access_token`, `token_type`, `expires_in`, `isExpired()`, `refresh()`), or undefined without an
   * expiry, as EOC does. Typed as both (see `AccessTokenValue`).
   */
  readonly accessToken: AccessTokenValue | undefined;
  readonly refreshToken: string | undefined;
  /** Seconds since the epoch when the access token expires. */
  readonly expiresAt: number | undefined;
  /** `Bearer` or `DPoP`. */
  readonly tokenType: string | undefined;
  /**
   * Headers for a resource request with the access token: `Authorization: Bearer …`, or with DPoP
   * (RFC 9449 §7) `Authorization: DPoP …` and a fresh `DPoP` proof bound to `method` and `url`. The
   * proof carries the latest nonce the resource server's origin handed out (RFC 9449 §9), as learnt by
   * `req.oidc.fetch()` or passed here as `dpopNonce` (the `DPoP-Nonce` header of its last answer).
   */
  authorizationHeaders(method: string, url: string | URL, options?: DpopNonceOption): Promise<HeaderMap>;
  /**
   * Redeems the refresh token (RFC 6749 §6) and stores the new tokens in the session (a new ID token is
   * validated first, OpenID Connect Core §12.2). Rejects with a `ParError` when the server refuses.
   */
  refresh(): Promise<void>;
  /**
   * An access token valid for at least `minTtl` (default 60) more seconds, refreshed when needed.
   * Parallel calls of one session share one refresh; the rotated refresh token is what stays stored.
   * Without a login, or when the server refuses the refresh token (the login then ends): 401
   * `login_required`. A failing server: 502/504, and the login stays.
   *
   * @example
   * const token = await req.oidc.getAccessToken({ minTtl: 120 });
   */
  getAccessToken(options?: { minTtl?: number }): Promise<string>;
  /**
   * The userinfo endpoint's claims (OpenID Connect Core §5.3), fetched with the access token (Bearer or
   * DPoP). Its `sub` must be the ID token's (§5.3.2); a signed answer is verified. Without a login: 401
   * `login_required`; a refused token: 401 `access_token_rejected`; a bad answer: 502 `userinfo_failed`
   * or `userinfo_invalid`; a silent server: 504 `upstream_timeout`.
   */
  fetchUserInfo(): Promise<UserInfoResponse>;
  /**
   * `fetch(url, init)` as the user: the access token is attached (Bearer, or DPoP with a proof and the
   * resource server's nonce, RFC 9449 §9), renewed once when the API answers 401 `invalid_token`.
   * Redirects are not followed unless `init.redirect` is `'follow'` (at most 20): the token and a fresh
   * proof go only to the URL's own origin, never to a hop elsewhere nor after one. The URL must be
   * `https:` (`http:` only for loopback hosts): a `TypeError` otherwise.
   */
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
}

/**
 * One small object per request: the getters and methods live on the prototype, not in an object literal of
 * accessors and closures built per request (bench/README.md, "Object shapes on the hot path"). It also
 * holds what the other middleware need about the request (request-keys.ts).
 */
export function createRequestContext(req: Request, engine: Engine): RequestContext {
  // A session loaded before another request rotated its tokens must not write the old ones back.
  const loaded = guardSessionSave(req, engine);
  return new OidcContext(req, engine, loaded);
}

/** `req.oidc` of parAuth(); auth() (eoc/) extends it with express-openid-connect's shapes. */
export class OidcContext implements RequestContext, RequestRecord {
  readonly #req: Request;
  readonly #engine: Engine;
  readonly [ENGINE]: Engine;
  readonly [MOUNT_PATH]: string;
  readonly [LOADED_ACCESS_TOKEN]: string | undefined | null;

  constructor(req: Request, engine: Engine, loaded: string | undefined | null) {
    this.#req = req;
    this.#engine = engine;
    this[ENGINE] = engine;
    this[MOUNT_PATH] = req.baseUrl ?? '';
    this[LOADED_ACCESS_TOKEN] = loaded;
  }

  /**
   * Only this mount's login (contract: "Several sign-ins on one app"), as stored: the tokens. The ID
   * token's payload is decoded only when the claims are read (`user`).
   */
  #stored(): StoredLogin | undefined {
    return readStoredLogin(this.#req, this.#engine.signInKey);
  }

  isAuthenticated(): boolean {
    return this.#stored() !== undefined;
  }
  get user(): Record<string, unknown> | undefined {
    return readLogin(this.#req, this.#engine.signInKey)?.claims;
  }
  get idTokenClaims(): IdTokenClaims | undefined {
    const login = this.#stored();
    return login ? ({ ...idTokenPayload(login) } as IdTokenClaims) : undefined;
  }
  get idToken() {
    return this.#stored()?.idToken;
  }
  get accessToken(): AccessTokenValue | undefined {
    return this.#stored()?.accessToken as AccessTokenValue | undefined;
  }
  /** The claims claimEquals(), claimIncludes() and claimCheck() test: `user`'s here. */
  get [CHECKED_CLAIMS](): Record<string, unknown> | undefined {
    return this.user;
  }
  get refreshToken() {
    return this.#stored()?.refreshToken;
  }
  get expiresAt() {
    return this.#stored()?.expiresAt;
  }
  get tokenType() {
    return this.#stored()?.tokenType;
  }
  async authorizationHeaders(method: string, url: string | URL, options: DpopNonceOption = {}): Promise<HeaderMap> {
    const engine = this.#engine;
    const current = this.#stored();
    if (options.dpopNonce !== undefined) engine.dpopNonces.remember(url, { 'dpop-nonce': options.dpopNonce });
    if (!current?.accessToken) {
      throw new TypeError('req.oidc.authorizationHeaders() needs a logged-in user with an access token');
    }
    return accessTokenHeaders(current.accessToken, method, url, await engine.dpopFor(current));
  }
  refresh(): Promise<void> {
    return refreshNow(this.#req, this.#engine);
  }
  getAccessToken(options?: { minTtl?: number }): Promise<string> {
    return getAccessToken(this.#req, this.#engine, { minTtl: options?.minTtl });
  }
  fetchUserInfo(): Promise<UserInfoResponse> {
    return fetchUserInfo(this.#req, this.#engine) as Promise<UserInfoResponse>;
  }
  fetch(url: string | URL, init?: RequestInit): Promise<Response> {
    return fetchAsUser(this.#req, this.#engine, url, init);
  }
}
