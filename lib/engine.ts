/**
 * The engine shared by the Express middleware and the Passport strategy: start a login (transaction,
 * PKCE, PAR, redirect URL), complete it at the callback (state, iss, code exchange, ID token), and build
 * the logout URL. No Express routing and no Passport here; the adapters call these functions.
 */
import type { Request } from 'express';
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import { validateLogoutToken } from './protocol/logout-token.js';
import type { CertificateBinding, Discovered, LogoutClaims, MtlsEndpointName, ResolvedConfig, ResolvedLogout, Transaction } from './core/model.js';
import { authorizationUrl } from './protocol/authorize.js';
import { checkAuthorizationError, checkIss, parseCallbackParams, type CallbackParams } from './protocol/callback.js';
import { mergeAuthorizationParams } from './config/params.js';
import { createDiscovery } from './protocol/discovery.js';
import { DpopNonces, dpopKeyFromJwk, dpopKeyFromKeyObject, generateDpopKey, thumbprint, type DpopBinding, type DpopKey } from './protocol/dpop.js';
import { jwtExpectations } from './protocol/jwt-expectations.js';
import { processUserInfoResponse, userInfoRequest } from './protocol/userinfo.js';
import type { HttpResponse, Transport } from './net/http.js';
import { idTokenPayload, type StoredLogin } from './state/login.js';
import { postToEndpoint } from './protocol/endpoint.js';
import { CallbackError, ParError, SilentLoginDeclined, UpstreamError } from './core/errors.js';
import { endSessionUrl } from './protocol/end-session.js';
import { validateIdToken, resolveIdTokenAlgs, type IdTokenExpectations } from './protocol/id-token.js';
import { crossSiteLoginError, refusesCrossSiteLogin } from './plumbing/fetch-metadata.js';
import { createLogger } from './core/log.js';
import { authorizationParameters, processPushedAuthorizationResponse, requestObjectParameters } from './protocol/par.js';
import { codeChallengeS256, createCodeVerifier } from './protocol/pkce.js';
import { randomToken } from './core/random.js';
import { assertProviderReady, assessProvider, type ProviderReport } from './protocol/provider-report.js';
import { safeReturnTo } from './protocol/return-to.js';
import { limitPendingOnlySession, requireSession, saveSession } from './state/session.js';
import { signInKey } from './state/layout.js';
import { authorizationCodeParameters, processTokenResponse, refreshParameters } from './protocol/token.js';
import { certificateBinding, mtlsEndpoint } from './protocol/mtls.js';
import { saveTransaction, takeTransaction, TRANSACTION_TTL_MS } from './state/transactions.js';
import type { LoginSession, ParEvent, TokenSet } from './core/types.js';

const log = createLogger('engine');

export interface LoginResult {
  tokens: TokenSet;
  claims: JWTPayload & { sub: string };
  returnTo: string;
  /** The per-login DPoP key the tokens are bound to. */
  dpopJwk?: Transaction['dpopJwk'];
  /** Set when the access token is bound to the client certificate (RFC 8705 §3). */
  certificateBinding?: CertificateBinding;
}

export interface Engine {
  readonly config: ResolvedConfig;
  /** This sign-in's key in the session: its login and transactions live under it. */
  readonly signInKey: string;
  /** Validates a back-channel `logout_token` (Back-Channel Logout 1.0 §2.6); rejects with `LogoutTokenError` or a `ParError`. */
  checkLogoutToken(token: unknown): Promise<LogoutClaims>;
  /** Discovery plus the self-check; rejects with one error listing what the server lacks. */
  ready(): Promise<Discovered & { report: ProviderReport }>;
  /**
   * Creates the transaction, pushes the request, saves the session; returns the URL to redirect to.
   * `authorizationParams` are merged over the configured ones (a protocol parameter rejects with a
   * `TypeError` naming it); `silent` pushes `prompt=none` and marks the transaction silent.
   */
  startLogin(req: Request, options?: StartLoginOptions): Promise<string>;
  /** Validates the authorization response and redeems the code; consumes the transaction. */
  completeLogin(req: Request): Promise<LoginResult>;
  /**
   * RP-initiated logout URL, or undefined when the server has no end_session_endpoint (or is
   * unreachable). `logout` (from `resolveLogout()`) sets post_logout_redirect_uri and extra parameters.
   */
  logoutUrl(idToken: string | undefined, logout?: ResolvedLogout): Promise<string | undefined>;
  /**
   * Redeems the login's refresh token (RFC 6749 §6); returns the new tokens, when an ID token came back
   * its claims, and whether the new access token is certificate-bound.
   */
  refresh(login: LoginSession): Promise<{ tokens: Partial<TokenSet>; claims?: JWTPayload; certificateBinding?: CertificateBinding }>;
  /**
   * The URL of a server endpoint called with client credentials or the access token: its
   * `mtls_endpoint_aliases` entry when a client certificate is configured (RFC 8705 §5). Requests to it
   * go through `request()` with `agent: config.tls?.agent`.
   */
  endpoint(name: MtlsEndpointName): Promise<string | undefined>;
  /** The DPoP key for a stored login. */
  dpopKey(jwk: Transaction['dpopJwk']): Promise<DpopKey | undefined>;
  /** How a request presents this login's access token: its DPoP key and nonces, or undefined (Bearer). */
  dpopFor(login: StoredLogin): Promise<DpopBinding | undefined>;
  /** The userinfo request with `accessToken`; `login`, as stored, says whether it is DPoP-bound. */
  requestUserInfo(login: StoredLogin | undefined, accessToken: string): Promise<UserInfoAnswer>;
  /** Checks a userinfo answer (Core §5.3.2) and returns its claims. */
  processUserInfo(answer: UserInfoAnswer, sub: string): Promise<Record<string, unknown>>;
  readonly dpopNonces: DpopNonces;
  emit(event: ParEvent): void;
}

/** A userinfo answer, with what checking it needs. */
export interface UserInfoAnswer {
  res: HttpResponse;
  endpoint: string;
  metadata: Discovered['metadata'];
  jwks: Discovered['jwks'];
}

export interface StartLoginOptions {
  /** Where the browser goes after the login: a same-origin path, anything else becomes `/`. */
  returnTo?: unknown;
  /** Parameters for this login, merged over the configured `authorizationParams`. */
  authorizationParams?: unknown;
  /** `prompt=none`: the server answers without showing anything (attemptSilentLogin). */
  silent?: boolean;
}

/** The parameters of one login: the configured ones, the request's over them, `prompt=none` when silent. */
function loginParameters(configured: URLSearchParams, options: StartLoginOptions): URLSearchParams {
  if (options.silent !== undefined && typeof options.silent !== 'boolean') throw new TypeError('"silent" must be a boolean');
  const params = mergeAuthorizationParams(configured, options.authorizationParams);
  if (!options.silent) return params;
  const asked = (options.authorizationParams as Record<string, unknown> | undefined)?.prompt;
  if (asked !== undefined && asked !== 'none') throw new TypeError('"authorizationParams.prompt" cannot be combined with silent: true (a silent login is prompt=none)');
  const silent = new URLSearchParams(params);
  silent.set('prompt', 'none'); // OpenID Connect Core §3.1.2.1
  return silent;
}

/** Errors of callbacks that named no pending login of this sign-in (see isStrayCallback). */
const strayCallbacks = new WeakSet<object>();

/**
 * Whether a failed callback named no pending login of this sign-in (no state, an unknown one, unparseable
 * parameters): it cannot be a login in progress, and any site can link to it, so the adapters leave an
 * existing login alone. A failure of a real transaction ends the login.
 */
export function isStrayCallback(err: unknown): boolean {
  return typeof err === 'object' && err !== null && strayCallbacks.has(err);
}

/**
 * The callback's parameters and the pending transaction its state names, removed from the session.
 * RFC 6749 §10.12, RFC 9700 §2.1: the state must name a pending transaction of this browser; it is removed
 * before anything else is checked, so a response can be used once only. Only this sign-in's transactions,
 * started for this redirect_uri: another mount's are unknown here.
 */
function claimTransaction(req: Request, signIn: string, redirectUri: string): { params: CallbackParams; tx: Transaction } {
  try {
    const params = parseCallbackParams(req.originalUrl ?? req.url);
    requireSession(req);
    if (params.state === undefined) {
      checkAuthorizationError(params); // a server error without state is still worth showing
      throw new CallbackError('state_missing', 'The callback has no "state": start the login again.');
    }
    const tx = takeTransaction(req, signIn, params.state, redirectUri);
    if (!tx) {
      throw new CallbackError(
        'state_mismatch',
        'The callback "state" matches no pending login in this session (unknown, expired or already used). Start the login again; '
          + 'if this repeats, check that the session cookie survives the redirect (SameSite=Lax, secure cookies behind a proxy need '
          + 'app.set("trust proxy", 1)).',
      );
    }
    return { params, tx };
  } catch (err) {
    if (typeof err === 'object' && err !== null) strayCallbacks.add(err);
    throw err;
  }
}

export function createEngine(config: ResolvedConfig): Engine {
  // How every request of this configuration reaches the server: its deadline and, with `tls`, the client certificate.
  const transport: Transport = { timeout: config.httpTimeout, ...(config.tls ? { agent: config.tls.agent } : {}) };
  const discovery = createDiscovery(config.issuer, transport);
  // RFC 8705 §5: with a client certificate, PAR, token, userinfo and revocation go to the mTLS aliases.
  const endpointOf = (metadata: Discovered['metadata'], name: MtlsEndpointName) => mtlsEndpoint(metadata, name, config.tls !== undefined);
  const dpopNonces = new DpopNonces();
  // Contract, "Several sign-ins on one app": logins and transactions are bound to (issuer, client).
  const signIn = signInKey(config.issuer, config.clientID);
  /** The algorithms this client's ID tokens came with: what a logout token must use too. */
  const idTokenAlgsSeen = new Set<string>();
  const sharedDpopKey = config.dpop && config.dpop !== 'per-session' ? dpopKeyFromKeyObject(config.dpop, config.dpopAlg!) : undefined;
  let readyPromise: Promise<Discovered & { report: ProviderReport }> | undefined;
  let readyFor: Promise<Discovered> | undefined;

  const emit = (event: ParEvent) => {
    try {
      config.onEvent?.(event);
    } catch (err) {
      log('onEvent threw for %s: %s', event.type, (err as Error).message);
    }
  };

  const ready = () => {
    const current = discovery();
    if (readyFor !== current || !readyPromise) {
      readyFor = current;
      readyPromise = current.then((discovered) => {
        const report = assessProvider(config, discovered.metadata);
        for (const warning of report.warnings) log('provider warning: %s', warning);
        assertProviderReady(report, discovered.metadata);
        return { ...discovered, report };
      });
      // A refused server is asked again within seconds (PAR may be turned on any minute), not in an hour.
      readyPromise.catch(() => discovery.recheckSoon(current));
    }
    return readyPromise;
  };

  const dpopKey = async (jwk: Transaction['dpopJwk']): Promise<DpopKey | undefined> => {
    if (!config.dpop) return undefined;
    if (sharedDpopKey) return sharedDpopKey;
    return jwk ? dpopKeyFromJwk(jwk) : undefined;
  };

  /** A login that cannot start (discovery, PAR refused, unreachable, late) is logged and reported as `login.failed`. */
  async function startLogin(req: Request, options: StartLoginOptions = {}): Promise<string> {
    try {
      return await pushLogin(req, options);
    } catch (err) {
      const status = err instanceof ParError ? err.status : 500;
      const code = err instanceof ParError ? err.code : 'internal_error';
      log('login failed to start: %s (%d)', code, status);
      emit({ type: 'login.failed', code, status });
      throw err;
    }
  }

  async function pushLogin(req: Request, options: StartLoginOptions): Promise<string> {
    const loginParams = loginParameters(config.authorizationParams, options); // a TypeError before anything changes
    // FAPI 2.0 (client requirements): initiation only with the user's consent, protected against CSRF.
    if (refusesCrossSiteLogin(config.profile, req)) throw crossSiteLoginError();
    requireSession(req);
    const { metadata } = await ready();
    const codeVerifier = createCodeVerifier();
    // OpenID Connect Core §3.1.3.7 step 11: a per-request max_age drives the auth_time check too.
    const maxAge = loginParams.get('max_age');
    const tx: Transaction = {
      state: randomToken(32), // RFC 6749 §10.12: unguessable, bound to this session
      nonce: randomToken(32),
      codeVerifier,
      returnTo: safeReturnTo(options.returnTo),
      redirectUri: config.redirectUri,
      createdAt: Date.now(),
      ...(options.silent ? { silent: true } : {}),
      ...(maxAge !== null && /^\d+$/.test(maxAge) ? { maxAge: Number(maxAge) } : {}),
    };
    let key = sharedDpopKey;
    if (config.dpop === 'per-session') {
      // A fresh key for every login: whoever signs in next in this browser session (another user, without
      // a logout between) must not get tokens bound to the key of the login before.
      const fresh = await generateDpopKey();
      tx.dpopJwk = fresh.jwk;
      key = fresh.key;
    }
    let params = authorizationParameters(config, {
      state: tx.state,
      nonce: tx.nonce,
      codeChallenge: codeChallengeS256(codeVerifier),
      authorizationParams: loginParams,
      ...(key ? { dpopJkt: await thumbprint(key) } : {}),
    });
    if (config.requestObjectKey) params = await requestObjectParameters(config, metadata.issuer, params);
    const endpoint = endpointOf(metadata, 'pushed_authorization_request_endpoint')!;
    emit({ type: 'login.started', returnTo: tx.returnTo });
    const res = await postToEndpoint({ config, transport, issuer: metadata.issuer, url: endpoint, step: 'PAR endpoint', params, ...(key ? { dpop: { key, nonces: dpopNonces } } : {}) });
    const pushed = processPushedAuthorizationResponse(res, { endpoint, redirectUri: config.redirectUri, clientAuthMethod: config.clientAuthMethod });
    log('pushed authorization request, expires_in %d', pushed.expires_in);
    emit({ type: 'par.pushed', expires_in: pushed.expires_in });
    saveTransaction(req, signIn, tx);
    limitPendingOnlySession(req, TRANSACTION_TTL_MS);
    await saveSession(req);
    return authorizationUrl(metadata.authorization_endpoint, config.clientID, pushed.request_uri);
  }

  /** Every failed callback is logged and reported as `callback.failed`, whichever adapter called. */
  async function completeLogin(req: Request): Promise<LoginResult> {
    try {
      return await redeemCallback(req);
    } catch (err) {
      if (err instanceof SilentLoginDeclined) {
        log('silent login declined (%s): back to returnTo, anonymous', err.error ?? 'login_required');
        throw err;
      }
      const status = err instanceof ParError ? err.status : 500;
      const code = err instanceof ParError ? err.code : 'internal_error';
      log('callback failed: %s (%d)', code, status);
      emit({ type: 'callback.failed', code, status });
      throw err;
    }
  }

  async function redeemCallback(req: Request): Promise<LoginResult> {
    const { params, tx } = claimTransaction(req, signIn, config.redirectUri);
    const { metadata, jwks } = await ready();
    checkIss(params, metadata.issuer, metadata.authorization_response_iss_parameter_supported === true);
    try {
      checkAuthorizationError(params);
    } catch (err) {
      // OpenID Connect Core §3.1.2.6: a prompt=none login that needs the user is no failure for a
      // silent attempt; the adapter brings the user back to returnTo, anonymous.
      if (tx.silent && err instanceof CallbackError && err.code === 'login_required') throw new SilentLoginDeclined(tx.returnTo, err);
      throw err;
    }
    if (!params.code) throw new CallbackError('code_missing', 'The callback has no "code".');
    const key = config.dpop ? await dpopKey(tx.dpopJwk) : undefined;
    const tokenEndpoint = endpointOf(metadata, 'token_endpoint')!;
    const res = await postToEndpoint({
      config,
      transport,
      issuer: metadata.issuer,
      url: tokenEndpoint,
      step: 'token endpoint',
      // RFC 7636 §4.5: the verifier; RFC 6749 §4.1.3: the same redirect_uri
      params: authorizationCodeParameters(params.code, config.redirectUri, tx.codeVerifier),
      ...(key ? { dpop: { key, nonces: dpopNonces } } : {}),
    });
    const tokens = processTokenResponse(res, { endpoint: tokenEndpoint, dpop: !!key, requireIdToken: true });
    const expected = idTokenExpectations(metadata, jwks, tokens.access_token);
    expected.nonce = tx.nonce;
    if (tx.maxAge !== undefined) expected.maxAge = tx.maxAge;
    const claims = await validateIdToken(tokens.id_token, expected);
    idTokenAlgsSeen.add(String(decodeProtectedHeader(tokens.id_token).alg));
    log('login completed');
    const binding = certificateBinding(config.tls, metadata, tokens.token_type);
    return {
      tokens,
      claims: claims as LoginResult['claims'],
      returnTo: tx.returnTo,
      ...(tx.dpopJwk ? { dpopJwk: tx.dpopJwk } : {}),
      ...(binding ? { certificateBinding: binding } : {}),
    };
  }

  function idTokenExpectations(metadata: Discovered['metadata'], jwks: Discovered['jwks'], accessToken: string | undefined): IdTokenExpectations {
    const algorithms = resolveIdTokenAlgs(config.idTokenSigningAlgs, metadata.id_token_signing_alg_values_supported);
    const expected: IdTokenExpectations = jwtExpectations(config, metadata.issuer, algorithms, jwks);
    if (accessToken) expected.accessToken = accessToken;
    return expected;
  }

  async function refresh(login: LoginSession) {
    if (!login.refreshToken) throw new TypeError('this login has no refresh token (ask for offline_access, or the server does not issue one)');
    const { metadata, jwks } = await ready();
    const key = await dpopKey(login.dpopJwk as Transaction['dpopJwk']);
    const tokenEndpoint = endpointOf(metadata, 'token_endpoint')!;
    const res = await postToEndpoint({
      config,
      transport,
      issuer: metadata.issuer,
      url: tokenEndpoint,
      step: 'token endpoint',
      params: refreshParameters(login.refreshToken),
      ...(key ? { dpop: { key, nonces: dpopNonces } } : {}),
    });
    const tokens = processTokenResponse(res, { endpoint: tokenEndpoint, dpop: !!key, requireIdToken: false });
    const binding = certificateBinding(config.tls, metadata, tokens.token_type);
    const bound = binding ? { certificateBinding: binding } : {};
    if (!tokens.id_token) return { tokens, ...bound };
    const expected = idTokenExpectations(metadata, jwks, tokens.access_token);
    // Core §12.2: compared with the original ID token's claims, not with those an afterCallback shaped.
    expected.refreshOf = idTokenPayload(login);
    const claims = await validateIdToken(tokens.id_token, expected);
    return { tokens, claims, ...bound };
  }

  /**
   * Back-Channel Logout 1.0 §2.6: the logout token, validated like this client's ID tokens (its
   * algorithms: the configured ones, else those its ID tokens used, else the advertised asymmetric ones).
   */
  async function checkLogoutToken(token: unknown): Promise<LogoutClaims> {
    const { metadata, jwks } = await ready();
    const algorithms = config.idTokenSigningAlgs ?? (idTokenAlgsSeen.size > 0 ? [...idTokenAlgsSeen] : resolveIdTokenAlgs(undefined, metadata.id_token_signing_alg_values_supported));
    return validateLogoutToken(token, jwtExpectations(config, metadata.issuer, algorithms, jwks));
  }

  async function logoutUrl(idToken: string | undefined, logout?: ResolvedLogout): Promise<string | undefined> {
    let metadata;
    try {
      ({ metadata } = await ready()); // the self-check refuses a cleartext end_session_endpoint
    } catch (err) {
      log('logout without RP-initiated logout: %s', (err as Error).message);
      return undefined;
    }
    if (!metadata.end_session_endpoint) return undefined;
    // OpenID Connect RP-Initiated Logout 1.0 §2
    return endSessionUrl(metadata.end_session_endpoint, {
      idToken,
      clientID: config.clientID,
      ...(logout ?? { postLogoutRedirectUri: config.postLogoutRedirectUri, logoutParams: new URLSearchParams() }),
    });
  }

  async function endpoint(name: MtlsEndpointName): Promise<string | undefined> {
    const { metadata } = await ready();
    return endpointOf(metadata, name);
  }

  async function dpopFor(login: StoredLogin): Promise<DpopBinding | undefined> {
    if (login.tokenType !== 'DPoP') return undefined;
    const key = await dpopKey(login.dpopJwk as Transaction['dpopJwk']);
    if (!key) throw new TypeError('the DPoP key of this login is missing');
    return { key, nonces: dpopNonces };
  }

  /** GET the userinfo endpoint (its mTLS alias with a certificate, RFC 8705 §5) with `accessToken`, presented as `login` holds it. */
  async function requestUserInfo(login: StoredLogin | undefined, accessToken: string): Promise<UserInfoAnswer> {
    const { metadata, jwks } = await ready();
    const url = endpointOf(metadata, 'userinfo_endpoint');
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
      throw new UpstreamError('userinfo_failed', 'The authorization server advertises no "userinfo_endpoint" in its metadata.');
    }
    const dpop = login ? await dpopFor(login) : undefined;
    const res = await userInfoRequest({ url, accessToken, transport, ...(dpop ? { dpop } : {}) });
    return { res, endpoint: url, metadata, jwks };
  }

  /** The claims of a userinfo answer about `sub` (Core §5.3.2), a signed one verified like this client's ID tokens. */
  function processUserInfo(answer: UserInfoAnswer, sub: string): Promise<Record<string, unknown>> {
    const { metadata } = answer;
    const advertised = metadata.userinfo_signing_alg_values_supported ?? metadata.id_token_signing_alg_values_supported;
    const algorithms = resolveIdTokenAlgs(config.idTokenSigningAlgs, advertised);
    const base = jwtExpectations(config, metadata.issuer, algorithms, answer.jwks);
    return processUserInfoResponse(answer.res, Object.assign(base, { endpoint: answer.endpoint, sub }));
  }

  return {
    config, signInKey: signIn, checkLogoutToken, ready, startLogin, completeLogin, logoutUrl, refresh, endpoint, dpopKey, dpopFor,
    requestUserInfo, processUserInfo, dpopNonces, emit,
  };
}
