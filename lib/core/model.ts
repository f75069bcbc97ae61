/**
 * The model the layers share: the resolved configuration, the server's metadata and key set, a login
 * transaction, a validated logout token, what makes a token certificate-bound. Types only: each is made by
 * one module (named beside it) and read by the others.
 */
import type { KeyObject } from 'node:crypto';
import type { Agent } from 'node:https';
import type { Request, Response } from 'express';
import type { Session, SessionData } from 'express-session';
import type { FlattenedJWSInput, JWK, JWSHeaderParameters } from 'jose';
import type { ClientAuthMethod, LoginSession, ParEvent } from './types.js';

// ---------------------------------------------------------------------------------------------
// Configuration (made by resolveConfig, config/)

export interface ResolvedRoutes {
  login: string | false;
  callback: string | false;
  logout: string | false;
  postLogoutRedirect: string;
  backchannelLogout: string | false;
}

/** The `tls` option checked, with the agent that presents the client certificate (RFC 8705). */
export interface ResolvedTls {
  /** Keep-alive agent presenting the certificate; one per `parAuth()` / strategy. */
  agent: Agent;
  /** RFC 8705 §3.1: base64url SHA-256 thumbprint of the DER certificate (`cnf.x5t#S256`). */
  x5tS256: string;
  validFrom: Date;
  validTo: Date;
}

export interface ResolvedBackchannelLogout {
  /** ms: how long a login lasts in a session whose cookie has no maxAge, and the least time records are kept. */
  maxSessionAge: number;
  /** ms: how long an instance may answer from its cache of logout records. */
  maxStaleness: number;
}

export interface ResolvedConfig {
  issuer: string;
  baseURL: URL;
  clientID: string;
  clientSecret?: string;
  clientAuthMethod: ClientAuthMethod;
  clientAssertionKey?: KeyObject;
  clientAssertionAlg?: string;
  /** `kid` of the JWK given as clientAssertionSigningKey, sent in the assertion header. */
  clientAssertionKid?: string;
  authorizationParams: URLSearchParams;
  routes: ResolvedRoutes;
  redirectUri: string;
  /** `routes.postLogoutRedirect` under baseURL, or the absolute URL it is. */
  postLogoutRedirectUri: string;
  /** The configured `logoutParams`, under those of each logout. */
  logoutParams?: URLSearchParams;
  /** `false`, `'per-session'` (a fresh key for every login, kept in the session) or one key for all sessions. */
  dpop: false | 'per-session' | KeyObject;
  dpopAlg?: string;
  httpTimeout: number;
  clockTolerance: number;
  idTokenSigningAlgs?: string[];
  afterCallback?: (req: Request, res: Response, session: LoginSession) => LoginSession | Promise<LoginSession>;
  requestObjectKey?: KeyObject;
  requestObjectAlg?: string;
  requestObjectKid?: string;
  profile?: 'fapi2';
  onEvent?: (event: ParEvent) => void;
  /** Audiences besides the client_id accepted in an ID token's `aud`. */
  trustedAudiences?: string[];
  /** The client certificate (RFC 8705) and the agent that presents it. */
  tls?: ResolvedTls;
  /** Back-channel logout, when on (the route is `routes.backchannelLogout`). */
  backchannelLogout?: ResolvedBackchannelLogout;
  /** `false`: logout ends the local login only, never the provider's session (auth()'s `idpLogout: false`). */
  rpInitiatedLogout?: false;
  /**
   * What requiresAuth() does with an anonymous page load: redirect to the login route (undefined, parAuth()),
   * start the login there (`'login'`, auth()), or answer 401 (`'error'`, auth()'s `errorOnRequiredAuth`).
   */
  onRequiredAuth?: 'login' | 'error';
}

/** Logout options checked (made by resolveLogout, config/logout.ts). */
export interface ResolvedLogout {
  postLogoutRedirectUri: string;
  logoutParams: URLSearchParams;
  /** `false`: no `id_token_hint` on the end_session URL (`logoutParams: { id_token_hint: null }`). */
  idTokenHint?: false;
}

// ---------------------------------------------------------------------------------------------
// The authorization server (made by discovery and jwks, protocol/)

export interface ServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  pushed_authorization_request_endpoint?: string;
  jwks_uri?: string;
  end_session_endpoint?: string;
  require_pushed_authorization_requests?: boolean;
  authorization_response_iss_parameter_supported?: boolean;
  code_challenge_methods_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  id_token_signing_alg_values_supported?: string[];
  dpop_signing_alg_values_supported?: string[];
  request_object_signing_alg_values_supported?: string[];
  [key: string]: unknown;
}

/** The part of a JWS protected header that selects a key. */
export interface KeyHeader {
  alg?: unknown;
  kid?: unknown;
}

/**
 * A remote key set. Callable as jose's `JWTVerifyGetKey` (`jwtVerify(token, keySet)`), and `getKey()` for
 * a verifier of our own.
 */
export interface KeySet {
  (header: JWSHeaderParameters, token?: FlattenedJWSInput): Promise<KeyObject>;
  /**
   * The public key for a JWS header: by `alg` (key type and curve) and `kid` when present, skipping keys
   * whose `use`, `key_ops` or `alg` say they are not for verifying this algorithm.
   *
   * Rejects with a `ParError` when the set cannot be fetched (`jwks_failed`, `upstream_timeout`,
   * `upstream_unreachable`, `upstream_response_too_large`), with jose's `JWKSNoMatchingKey` when no key
   * matches even after a refetch (or when the refetch budget is spent), `JWKSMultipleMatchingKeys` when
   * several keys match a header without `kid`, and `JOSENotSupported` for an algorithm that does not use
   * the server's keys (`none`, HMAC).
   */
  getKey(header: KeyHeader): Promise<KeyObject>;
  readonly uri: string;
}

export interface Discovered {
  metadata: ServerMetadata;
  /** The key set at `jwks_uri`, shared by every request for this issuer. */
  jwks?: KeySet;
}

/** RFC 8705 §5: the endpoints a client with a certificate calls at their `mtls_endpoint_aliases`. */
export type MtlsEndpointName =
  | 'token_endpoint'
  | 'pushed_authorization_request_endpoint'
  | 'userinfo_endpoint'
  | 'revocation_endpoint'
  | 'introspection_endpoint';

/** What the stored login records about a certificate-bound access token (RFC 8705 §3; made by protocol/mtls.ts). */
export interface CertificateBinding {
  certificateBound: true;
  /** RFC 8705 §3.1: the thumbprint of the certificate the token is bound to. */
  cnf: { 'x5t#S256': string };
}

/**
 * The API an access token is asked for besides the login's own (made by config/api-target.ts): Auth0's
 * `audience` or RFC 8707 `resource` indicators, with an optional `scope`.
 */
export interface ApiTarget {
  audience?: string;
  /** RFC 8707 §2: absolute URIs without a fragment. */
  resource?: string[];
  scope?: string;
  /** What the session keys this API's token by: a short digest of the API and the scope. */
  key: string;
  /** The audience or the resources, space-separated: for events and messages (never a secret). */
  label: string;
}

/** A validated logout token: what names the logins to end (made by protocol/logout-token.ts). */
export interface LogoutClaims {
  sub?: string;
  sid?: string;
  jti: string;
  iat: number;
  /** Seconds since the epoch until which the token (and so its `jti`) is valid. */
  validUntil: number;
}

// ---------------------------------------------------------------------------------------------
// The browser's session (kept by state/)

/** A request that has been through express-session. */
export type RequestWithSession = Request & { session: Session & Partial<SessionData> };

/** One pending login (kept by state/transactions.ts). */
export interface Transaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** The redirect_uri pushed with this login: a callback on another route (another strategy) cannot use it. */
  redirectUri: string;
  /** ms since the epoch */
  createdAt: number;
  /** `max_age` pushed with the request, for the `auth_time` check. */
  maxAge?: number;
  /**
   * What this login asked for itself (`acr_values`, `max_age` given per login by `res.oidc.login()`, Passport or
   * a `requiresAuth()` step-up, not configured): an ID token that falls short is a 403
   * `insufficient_user_authentication` (RFC 9470), not a login.
   */
  required?: { acrValues?: string[]; maxAge?: number };
  /**
   * Started by `requiresAuth()` for a signed-in user whose login did not do for the page: the login that comes
   * back is marked (state/login.ts), so the page answers 403 rather than sending the user round again; with
   * `required`, it must be the same user's.
   */
  stepUp?: boolean;
  /** A `prompt=none` login (attemptSilentLogin): "the user must interact" brings the user back anonymous. */
  silent?: boolean;
  /** Per-session DPoP key (private JWK) the code is bound to. */
  dpopJwk?: JWK;
  /** The `type`s of the `authorization_details` pushed (RFC 9396): what a granted entry may be. */
  authorizationDetailsTypes?: string[];
  /** What the app keeps with this login until its callback (auth()'s getLoginState), JSON. */
  appState?: Record<string, unknown>;
}
