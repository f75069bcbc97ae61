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
import { resolveApiTarget } from '../config/api-target.js';
import { RESPONSE_CONTEXT, type MakesResponseContext } from './oidc-property.js';
import { createResponseContext, type ResponseContext } from './response-context.js';
import type { Response as ExpressResponse } from 'express';
import type { AuthorizationDetail } from '../core/types.js';

/** Header names (lower case) and values. */
export type HeaderMap = Record<string, string>;

/** `dpopNonce`: the `DPoP-Nonce` the resource server last answered with (RFC 9449 §9). */
export interface DpopNonceOption {
  dpopNonce?: string;
}

/**
 * Which API a token is for, besides the login's own: Auth0's `audience` (one refresh token for several APIs)
 * or RFC 8707 `resource` indicators (absolute URIs without a fragment), not both; and the `scope` for it.
 */
export interface ApiTokenOptions {
  audience?: string;
  resource?: string | string[];
  scope?: string;
}

export interface GetAccessTokenOptions extends ApiTokenOptions {
  /** Seconds the token must stay valid for. Default 60. */
  minTtl?: number;
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
   * What the server granted of the `authorization_details` asked for (RFC 9396 §7), from the last token
   * response that carried them; undefined when none did.
   */
  readonly authorizationDetails: AuthorizationDetail[] | undefined;
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
   * With `audience` or `resource` (and `scope`): a token for that API, obtained with the refresh token and
   * kept in the session per API and scope; the login's own `accessToken` is left as it was. A JWT whose
   * `aud` lacks what was asked: 502 `access_token_audience_mismatch`. Bad options: a `TypeError`.
   *
   * @example
   * const token = await req.oidc.getAccessToken({ minTtl: 120 });
   * const billing = await req.oidc.getAccessToken({ audience: 'https://billing.example.com', scope: 'read:invoices' });
   */
  getAccessToken(options?: GetAccessTokenOptions): Promise<string>;
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
   * `https:` (`http:` only for loopback hosts): a `TypeError` otherwise. With `api` (`{ audience | resource,
   * scope }`), that API's token from getAccessToken() goes instead of the login's.
   */
  fetch(url: string | URL, init?: RequestInit, api?: ApiTokenOptions): Promise<Response>;
}

/**
 * One small object per request: the getters and methods live on the prototype, not in an object literal of
 * accessors and closures built per request (bench/README.md, "Object shapes on the hot path"). It also
 * holds what the other middleware need about the request (request-keys.ts).
 */
export function createRequestContext(req: Request, engine: Engine): OidcContext {
  // A session loaded before another request rotated its tokens must not write the old ones back.
  const loaded = guardSessionSave(req, engine);
  return new OidcContext(req, engine, loaded);
}

/** `req.oidc` of parAuth(); auth() (eoc/) extends it with express-openid-connect's shapes. */
export class OidcContext implements RequestContext, RequestRecord, MakesResponseContext {
  readonly #req: Request;
  readonly #engine: Engine;
  #response: ResponseContext | undefined;
  readonly [ENGINE]: Engine;
  readonly [MOUNT_PATH]: string;
  readonly [LOADED_ACCESS_TOKEN]: string | undefined | null;

  constructor(req: Request, engine: Engine, loaded: string | undefined | null) {
    this.#req = req;
    this.#engine = engine;
    this[ENGINE] = engine;
    this[MOUNT_PATH] = req.baseUrl ?? '';
    this[LOADED_ACCESS_TOKEN] = loaded;
    this.#response = undefined;
  }

  /** `res.oidc` of this sign-in, made once, when first read (oidc-property.ts). */
  [RESPONSE_CONTEXT](res: ExpressResponse): ResponseContext {
    this.#response ??= this.makeResponseContext(res);
    return this.#response;
  }

  /** The response context this request context's `res.oidc` is (auth()'s makes express-openid-connect's). */
  protected makeResponseContext(res: ExpressResponse): ResponseContext {
    return createResponseContext(this.#req, res, this.#engine);
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
  get authorizationDetails() {
    const details = this.#stored()?.authorizationDetails;
    return Array.isArray(details) && details.length > 0 ? details : undefined;
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
  async getAccessToken(options: GetAccessTokenOptions = {}): Promise<string> {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('getAccessToken(options): "options" must be { minTtl?, audience?, resource?, scope? }');
    }
    const target = resolveApiTarget(options, 'getAccessToken()');
    return getAccessToken(this.#req, this.#engine, { minTtl: options.minTtl, ...(target ? { target } : {}) });
  }
  fetchUserInfo(): Promise<UserInfoResponse> {
    return fetchUserInfo(this.#req, this.#engine) as Promise<UserInfoResponse>;
  }
  async fetch(url: string | URL, init?: RequestInit, api?: ApiTokenOptions): Promise<Response> {
    return fetchAsUser(this.#req, this.#engine, url, init, apiTarget(api));
  }
}

const FETCH_API_OPTIONS = new Set(['audience', 'resource', 'scope']);

/** `req.oidc.fetch()`'s third argument: `{ audience | resource, scope }`, checked (a TypeError naming the option). */
function apiTarget(api: unknown) {
  if (api === undefined) return undefined;
  if (api === null || typeof api !== 'object' || Array.isArray(api)) {
    throw new TypeError('req.oidc.fetch(url, init, api): "api" must be an object: { audience?, resource?, scope? }');
  }
  for (const key of Object.keys(api)) {
    if (!FETCH_API_OPTIONS.has(key)) {
      throw new TypeError(`req.oidc.fetch(url, init, api): "${key}" is not an option (audience, resource, scope)`);
    }
  }
  return resolveApiTarget(api, 'req.oidc.fetch()');
}
