/**
 * Public types: the options of `parAuth()` / `ParStrategy`, what is stored in the session, and what
 * `req.oidc` offers. Module augmentation for `express-session` and Express's `Request` lives in
 * `express/augment.ts`; the types the layers share inside the library are in `model.ts`.
 */
import type { KeyObject, webcrypto } from 'node:crypto';
import type { JWK } from 'jose';
import type { Request, Response } from 'express';

/** PEM text as a string or Buffer, as Node's `tls` options take it. */
export type PemInput = string | Buffer;

/** The `tls` option. */
export interface TlsOptions {
  /** The client certificate (PEM), optionally followed by its intermediates. */
  cert: PemInput;
  /** Its private key (unencrypted PEM). */
  key: PemInput;
  /** Roots trusted for the server's certificate, added to Node's bundled ones (PEM). */
  ca?: PemInput | PemInput[];
}

export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'none'
  // RFC 8705 §2.1 (PKI) and §2.2 (self-signed): the TLS client certificate authenticates; needs `tls`.
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth';

/**
 * A private key: a JWK object, a PEM (PKCS#8, PKCS#1 or SEC1) string or Buffer, a Node `KeyObject`, or a
 * WebCrypto `CryptoKey` (extractable).
 */
export type PrivateKeyInput = JWK | string | Buffer | KeyObject | webcrypto.CryptoKey;

export type AuthorizationParamValue =
  | string
  | number
  | boolean
  | string[]
  | Record<string, unknown>
  | Array<Record<string, unknown>>;

/**
 * One entry of `authorization_details` (RFC 9396 §2): an object with a string `type`; the other fields are
 * the type's own (`locations`, `actions`, `datatypes`, `identifier`, `privileges`, or anything it defines).
 */
export interface AuthorizationDetail {
  type: string;
  [field: string]: unknown;
}

export interface RoutesConfig {
  /** Starts a login. Default `/login`; `false` turns it off. */
  login?: string | false;
  /** The redirect_uri path. Default `/callback`; `false` turns it off. */
  callback?: string | false;
  /** Ends the login. Default `/logout`; `false` turns it off. */
  logout?: string | false;
  /**
   * Where the browser lands after logout: a path under baseURL, or an absolute URL (https:, or http: on a
   * loopback host). Register it with the provider as a post_logout_redirect_uri. Default `/`.
   */
  postLogoutRedirect?: string;
  /** `POST` route for back-channel logout (with `backchannelLogout: true`). Default `/backchannel-logout`. */
  backchannelLogout?: string | false;
}

/** A login as kept in the session and exposed through `req.oidc`. */
export interface LoginSession {
  idToken: string;
  accessToken?: string;
  refreshToken?: string;
  /** `Bearer` or `DPoP`. */
  tokenType?: string;
  /**
   * The access token is bound to the client certificate (RFC 8705 §3): its type stays `Bearer`, and it
   * works only over a connection that presents that certificate (`tls`).
   */
  certificateBound?: boolean;
  /** RFC 8705 §3.1: `x5t#S256` thumbprint of the certificate a certificate-bound token is bound to. */
  cnf?: { 'x5t#S256': string };
  /** Seconds since the epoch when the access token expires. */
  expiresAt?: number;
  scope?: string;
  /** The validated ID token claims. */
  claims: Record<string, unknown>;
  /** How many refreshes produced these tokens: the newest login wins when sessions are reconciled. */
  generation?: number;
  /** Milliseconds since the epoch when the tokens were last refreshed. */
  renewedAt?: number;
  /** RFC 9396 §7: what the server granted, from the last token response that had `authorization_details`. */
  authorizationDetails?: AuthorizationDetail[];
  /** The `type`s of the `authorization_details` this login asked for (what a granted entry must be). */
  authorizationDetailsTypes?: string[];
  /** Access tokens for other APIs (`getAccessToken({ audience | resource })`), by API and scope (api-tokens.ts). */
  apis?: Record<string, unknown>;
  [extra: string]: unknown;
}

/**
 * `backchannelLogout: { ... }`. `maxSessionAge` and `maxStaleness` (milliseconds) are express-par's; `store`,
 * `onLogoutToken`, `isLoggedOut` and `onLogin` are express-openid-connect's, taken by auth() only (and
 * ignored with a warning: logouts are recorded in the session store and checked on every request).
 */
export interface BackchannelLogoutOptions {
  /* eslint-disable @typescript-eslint/no-explicit-any -- EOC's hook signatures, as its typed apps write them */
  store?: unknown;
  onLogoutToken?: (decodedToken: object, config: any) => Promise<void> | void;
  isLoggedOut?: false | ((req: Request, config: any) => Promise<boolean> | boolean);
  onLogin?: false | ((req: Request, config: any) => Promise<void> | void);
  /* eslint-enable @typescript-eslint/no-explicit-any */
  /**
   * How long a login lasts in a session whose cookie has no `maxAge` (counted from the login), and the
   * least time logout records are kept (they are kept for the session cookie's `maxAge` when longer).
   * Set it to the longest `maxAge` any session gets when the app changes `req.session.cookie.maxAge`
   * per session. Default 7 days.
   */
  maxSessionAge?: number;
  /**
   * How long an instance may answer from its in-process cache of logout records: a logout recorded by
   * another instance ends a login there within this time. `0`: every authenticated request reads the
   * store. Default 1000.
   */
  maxStaleness?: number;
}

/** The token endpoint's answer, after validation. */
export interface TokenSet {
  access_token?: string;
  token_type?: string;
  id_token: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
  /** RFC 9396 §7: what the server granted (checked: an array of objects with a string `type`). */
  authorization_details?: AuthorizationDetail[];
  [extra: string]: unknown;
}

/** Events for logs and traces. They never carry secrets, tokens, codes or verifiers. */
export type ParEvent =
  | { type: 'login.started'; returnTo: string }
  | { type: 'par.pushed'; expires_in: number }
  /** The login could not start (discovery or the PAR endpoint failed, a refused request): the error's code, status. */
  | { type: 'login.failed'; code: string; status: number }
  | { type: 'callback.succeeded'; sub: string }
  | { type: 'callback.failed'; code: string; status: number }
  | { type: 'logout'; rpInitiated: boolean }
  /** `api`: the audience or resource(s) of an API's token (`getAccessToken({ audience | resource })`). */
  | { type: 'token.refreshed'; expiresAt?: number; api?: string };

export interface ParAuthConfig {
  /**
   * The issuer. Metadata comes from `/.well-known/openid-configuration`, else
   * `/.well-known/oauth-authorization-server`.
   */
  issuerBaseURL: string;
  /** Public origin (and optional path) of the app; `redirect_uri` = baseURL + routes.callback. */
  baseURL: string;
  clientID: string;
  clientSecret?: string;
  /** Default: `client_secret_basic` when a secret is set, `private_key_jwt` when a signing key is set, else `none`. */
  clientAuthMethod?: ClientAuthMethod;
  /** Private key for `private_key_jwt`. */
  clientAssertionSigningKey?: PrivateKeyInput;
  /** Default: derived from the key (RS256, ES256/384/512, EdDSA; PS256 under the `fapi2` profile). */
  clientAssertionSigningAlg?: string;
  /** Extra parameters pushed with every authorization request. Default `{ scope: 'openid profile email' }`. */
  authorizationParams?: Record<string, AuthorizationParamValue | undefined>;
  routes?: RoutesConfig;
  /** `true`: a fresh DPoP key for every login (kept in the session); or a private key for every login (RFC 9449). */
  dpop?: boolean | PrivateKeyInput;
  /** Milliseconds allowed for every call to the authorization server. Default 5000. */
  httpTimeout?: number;
  /** Seconds of clock skew allowed on `exp`/`iat`/`nbf`. Default 30. */
  clockTolerance?: number;
  /** ID token algorithms accepted. Default: the asymmetric algorithms the server advertises. */
  idTokenSigningAlgs?: string[];
  /**
   * Extra end_session parameters of every RP-initiated logout (`federated`, `ui_locales`, …), under those
   * given to `res.oidc.logout({ logoutParams })`. Not `id_token_hint`, `client_id`, `post_logout_redirect_uri`.
   */
  logoutParams?: Record<string, string | number | boolean | null | undefined>;
  /** Shapes what is stored in the session after a successful login. */
  afterCallback?: (req: Request, res: Response, session: LoginSession) => LoginSession | Promise<LoginSession>;
  /** Signs the pushed parameters as a request object (RFC 9101, pushed per RFC 9126 §3). */
  requestObjectSigningKey?: PrivateKeyInput;
  requestObjectSigningAlg?: string;
  /** `fapi2`: FAPI 2.0 Security Profile client rules. */
  profile?: 'fapi2';
  /** Receives one structured event per protocol step. Must not throw. */
  onEvent?: (event: ParEvent) => void;
  /**
   * Audiences besides `clientID` that may appear in an ID token's `aud`. Any other audience is refused
   * (OpenID Connect Core §3.1.3.7 step 3). Default: none.
   */
  trustedAudiences?: string[];
  /**
   * OpenID Connect Back-Channel Logout 1.0: mounts `POST routes.backchannelLogout`; a valid
   * `logout_token` ends the matching logins (by `sid`, else `sub`) on every instance that shares the
   * session store. Register `baseURL + routes.backchannelLogout` as the back-channel logout URI.
   * `true`, or an object to set how long logouts hold and how fresh the per-instance check is.
   */
  backchannelLogout?: boolean | Pick<BackchannelLogoutOptions, 'maxSessionAge' | 'maxStaleness'>;
  /**
   * Mutual TLS (RFC 8705): the client certificate presented on every connection to the authorization
   * server (discovery, JWKS, PAR, token, refresh), with extra trusted roots for the server's certificate.
   * Requests go to the server's `mtls_endpoint_aliases` (§5). Needed by `tls_client_auth` and
   * `self_signed_tls_client_auth`; with any other method it binds tokens to the certificate (§3).
   */
  tls?: TlsOptions;
}

// ---------------------------------------------------------------------------------------------
// Types shared with express-openid-connect (EOC) apps: names and shapes as EOC 3.4 declares them, so an
// app typed against EOC compiles after its import changes (auth()'s own ones are in eoc/types.ts).

/** Authorization request parameters, per login or configured (EOC's `AuthorizationParameters`). */
export interface AuthorizationParameters {
  acr_values?: string;
  audience?: string;
  claims?: string | Record<string, unknown>;
  claims_locales?: string;
  display?: string;
  id_token_hint?: string;
  login_hint?: string;
  max_age?: number | string;
  organization?: string;
  prompt?: string;
  /** auth() only: the login's own redirect_uri (a callback route of the app's own). */
  redirect_uri?: string;
  resource?: string | string[];
  /** `code` (EOC's ones with `id_token` are served by the code flow under auth()). */
  response_type?: string;
  /** `query` (auth() takes EOC's `form_post` and answers with `query`). */
  response_mode?: string;
  scope?: string;
  ui_locales?: string;
  [parameter: string]: unknown;
}

/** The ID token's claims, as validated when it was received (EOC's `IdTokenClaims`). */
export interface IdTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  iat: number;
  exp: number;
  nonce?: string;
  auth_time?: number;
  acr?: string;
  amr?: string[];
  azp?: string;
  sid?: string;
  /** IPSIE SL1: the latest the provider lets this login last (seconds since the epoch). */
  session_expiry?: number;
  [claim: string]: unknown;
}

/** The userinfo endpoint's claims (OpenID Connect Core §5.3.2; EOC's `UserInfoResponse`). */
export interface UserInfoResponse {
  sub: string;
  name?: string;
  given_name?: string;
  family_name?: string;
  nickname?: string;
  preferred_username?: string;
  picture?: string;
  email?: string;
  email_verified?: boolean;
  locale?: string;
  updated_at?: number;
  [claim: string]: unknown;
}

/** Extra token endpoint parameters (EOC's `TokenParameters`): express-par sends none, see auth(). */
export interface TokenParameters {
  [parameter: string]: unknown;
}

/** `accessToken.refresh(params)` (EOC's `RefreshParams`). */
export interface RefreshParams {
  tokenEndpointParams?: TokenParameters;
}

/**
 * The access token as express-openid-connect apps read it under auth(): a new object each time it is read,
 * its methods bound (so `const { isExpired, refresh } = req.oidc.accessToken` works).
 */
export interface AccessToken {
  access_token: string;
  /** `Bearer` or `DPoP`. */
  token_type: string;
  /** Seconds the token has left (0 once expired). */
  expires_in: number;
  /** Whether it has expired (no leeway). */
  isExpired(): boolean;
  /**
   * Redeems the refresh token now and stores the new tokens (the rotated refresh token too); resolves to
   * the new access token. Rejects like `req.oidc.refresh()`.
   */
  refresh(params?: RefreshParams): Promise<AccessTokenValue>;
}

/**
 * `req.oidc.accessToken`: a string under parAuth(), EOC's `AccessToken` object under auth(). Typed as
 * both, so an app typed for either compiles; each reads it the way its own middleware sets it.
 */
export type AccessTokenValue = string & AccessToken;

/** `res.oidc.callback()` (EOC's `CallbackOptions`). */
export interface CallbackOptions {
  /**
   * The redirect_uri the login was started with (absolute), for a callback route of the app's own:
   * `res.oidc.login({ authorizationParams: { redirect_uri } })` under auth(). Default: baseURL + routes.callback.
   */
  redirectUri?: string;
  /** Not supported: the token request carries what the specs name (a TypeError when given). */
  tokenEndpointParams?: TokenParameters;
}
