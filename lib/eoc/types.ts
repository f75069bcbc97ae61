/**
 * The types of `auth()`, named and shaped as express-openid-connect (EOC) 3.4 declares them, so an app
 * typed against EOC compiles once its import names express-par. The types both middlewares share
 * (`AuthorizationParameters`, `IdTokenClaims`, `AccessToken`, `CallbackOptions`, …) are in core/types.ts;
 * `RequestContext`, `ResponseContext`, `LoginOptions`, `LogoutOptions` in express/.
 */
import type { KeyObject, webcrypto } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Store } from 'express-session';
import type { JWK } from 'jose';
import type {
  AuthorizationParameters, BackchannelLogoutOptions, ClientAuthMethod, TlsOptions, TokenParameters, ParEvent,
} from '../core/types.js';
import type { LoginOptions } from '../express/response-context.js';

/** An Express request under auth() (EOC's deprecated `OpenidRequest`: Express's `Request` has `oidc` already). */
export type OpenidRequest = Request;
/** An Express response under auth() (EOC's deprecated `OpenidResponse`). */
export type OpenidResponse = Response;

/** The login as `afterCallback` receives and returns it (EOC's `Session`): snake_case tokens, your own keys. */
export interface Session {
  id_token: string;
  access_token: string;
  refresh_token: string;
  token_type: string;
  /** Seconds since the epoch (a number at run time, as in EOC; typed as EOC types it). */
  expires_at: string;
  sessionExpiresAt?: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EOC's index signature: apps add their own keys
  [key: string]: any;
}

/** EOC's session store payload (`SessionStorePayload`); auth()'s stores are express-session stores. */
export interface SessionStorePayload<Data = Session> {
  header: { iat: number; uat: number; exp: number };
  data: Data;
  cookie: { expires: number; maxAge: number };
}

/** A session store (EOC's `SessionStore`): an express-session store, e.g. `new (require('memorystore')(auth))()`. */
export interface SessionStore<Data = Session> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EOC's callback signature
  get(sid: string, callback: (err: any, session?: SessionStorePayload<Data> | null) => void): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EOC's callback signature
  set(sid: string, session: SessionStorePayload<Data>, callback?: (err?: any) => void): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EOC's callback signature
  destroy(sid: string, callback?: (err?: any) => void): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EOC's index signature
  [key: string]: any;
}

/** The session cookie's attributes (EOC's `CookieConfigParams`). */
export interface CookieConfigParams {
  domain?: string;
  path?: string;
  /** A cookie without an expiry (gone when the browser closes). Default false. */
  transient?: boolean;
  /** Default true. */
  httpOnly?: boolean;
  /** Default: whether baseURL is https. */
  secure?: boolean;
  /** `Lax` (default), `Strict` or `None`. */
  sameSite?: string;
}

/** The session (EOC's `SessionConfigParams`), mapped onto express-session when auth() mounts it. */
export interface SessionConfigParams {
  /** The cookie's name. Default `appSession`. */
  name?: string;
  /** An express-session store. Default: in memory (one process; a warning under NODE_ENV=production). */
  store?: SessionStore | Store;
  /** express-session's `genid` (synchronous). */
  genid?: (req: OpenidRequest) => Promise<string> | string;
  /** Accepted: express-session always signs its cookie. */
  signSessionStoreCookie?: boolean;
  /** Accepted: express-session always requires a signed cookie. */
  requireSignedSessionStoreCookie?: boolean;
  /** Every response sets the cookie again with a new expiry. Default true. */
  rolling?: boolean;
  /** Seconds a session lives without a request (rolling). Default 86400. */
  rollingDuration?: number;
  /** Seconds a login lasts at most, however active (false: no limit when rolling). Default 604800. */
  absoluteDuration?: boolean | number;
  cookie?: CookieConfigParams;
}

/** `backchannelLogout` in EOC's object form; auth() records logouts in the session store itself. */
export type EocBackchannelLogoutOptions = BackchannelLogoutOptions;

/** The options of `auth()` (EOC's `ConfigParams`), with EOC's defaults; each is described in the migration page. */
export interface ConfigParams {
  /** Signs the session cookie (express-session's secret). Default env `SECRET`; required. */
  secret?: string | string[];
  session?: SessionConfigParams;
  auth0Logout?: boolean;
  authorizationParams?: AuthorizationParameters;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EOC's type
  logoutParams?: { [key: string]: any };
  /** Default env `BASE_URL`. */
  baseURL?: string;
  /** Default env `CLIENT_ID`. */
  clientID?: string;
  /** Default env `CLIENT_SECRET`. */
  clientSecret?: string;
  /** Seconds. Default 60. */
  clockTolerance?: number;
  /** Accepted: express-par sends no telemetry. */
  enableTelemetry?: boolean;
  /** 401 instead of a login for anonymous page loads. Default false. */
  errorOnRequiredAuth?: boolean;
  /** Once per session, a silent (`prompt=none`) login for anonymous page loads. Default false. */
  attemptSilentLogin?: boolean;
  /** State kept with the login until its callback; `returnTo` in it is where the login returns to. */
  getLoginState?: (req: OpenidRequest, options: LoginOptions) => object;
  afterCallback?: (
    req: OpenidRequest,
    res: OpenidResponse,
    session: Session,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EOC's type
    decodedState: { [key: string]: any },
  ) => Promise<Session> | Session;
  /** Claims left out of `req.oidc.user`. Default: aud, iss, iat, exp, nbf, nonce, azp, auth_time and the hashes. */
  identityClaimFilter?: string[];
  /** Logout ends the provider's session too (RP-initiated logout). Default false: a local logout. */
  idpLogout?: boolean;
  /** Default: the asymmetric algorithms the provider advertises (EOC: RS256). */
  idTokenSigningAlg?: string;
  /** Default env `ISSUER_BASE_URL`. */
  issuerBaseURL?: string;
  /** Accepted: pending logins live in the session, not in cookies. */
  legacySameSiteCookie?: boolean;
  /** Every route after auth() needs a login. Default true. */
  authRequired?: boolean;
  /** Accepted: express-par always pushes the request. */
  pushedAuthorizationRequests?: boolean;
  backchannelLogout?: boolean | EocBackchannelLogoutOptions;
  routes?: {
    login?: string | false;
    logout?: string | false;
    /** A path under baseURL or an absolute URL. Default baseURL. */
    postLogoutRedirect?: string;
    callback?: string | false;
    backchannelLogout?: string;
  };
  /** Accepted: pending logins live in the session, not in cookies. */
  transactionCookie?: Pick<CookieConfigParams, 'sameSite'> & { name?: string };
  clientAuthMethod?: ClientAuthMethod | string;
  clientAssertionSigningKey?: KeyObject | webcrypto.CryptoKey | JWK | string | Buffer;
  clientAssertionSigningAlg?: string;
  requestObjectSigningKey?: KeyObject | webcrypto.CryptoKey | JWK | string | Buffer;
  requestObjectSigningAlg?: string;
  requestObjectSigningKeyId?: string;
  /** Not supported (a TypeError): the token requests carry what the specs name. */
  tokenEndpointParams?: TokenParameters;
  /** Accepted and ignored (a warning): the metadata is cached for an hour. */
  discoveryCacheMaxAge?: number;
  /** Milliseconds. Default 5000. */
  httpTimeout?: number;
  /** Not supported (a TypeError): express-par's HTTP client is fixed; see `tls` for mTLS. */
  customFetch?: typeof fetch;
  /** Accepted and ignored (a warning). */
  httpUserAgent?: string;
  /** `true` is not supported (a TypeError): use `tls: { cert, key }`. */
  useMtls?: boolean;
  // express-par's own options, taken by auth() too
  dpop?: boolean | KeyObject | JWK | string;
  tls?: TlsOptions;
  profile?: 'fapi2';
  onEvent?: (event: ParEvent) => void;
  trustedAudiences?: string[];
  idTokenSigningAlgs?: string[];
}
