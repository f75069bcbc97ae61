/**
 * Validates `ParAuthConfig` once, at `parAuth()` / `new ParStrategy()` time, and resolves defaults.
 * Every mistake throws a `TypeError` whose message names the option and says how to fix it.
 */
import type { KeyObject } from 'node:crypto';
import { algFitsKey, algForKey, isAsymmetricAlg, isHmacAlg, jwkAlgOf, jwkKidOf, keyBits, toPrivateKey } from '../crypto/keys.js';
import { resolveTls, TLS_CLIENT_AUTH_METHODS } from '../protocol/tls.js';
import type { AuthorizationParamValue, ClientAuthMethod, ParAuthConfig } from '../core/types.js';
import type { ResolvedBackchannelLogout, ResolvedConfig, ResolvedRoutes, ResolvedTls } from '../core/model.js';
import { fail, nonEmptyString, numberInRange } from '../core/assert.js';
import { isLoopbackHost, joinUrl } from '../core/url.js';
import { normalizeIssuer } from '../protocol/issuer.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const BACKCHANNEL_OPTIONS = new Set(['maxSessionAge', 'maxStaleness']);

/** `backchannelLogout`: `true`, `false`, or `{ maxSessionAge?, maxStaleness? }` (ms). */
function resolveBackchannelLogout(value: unknown): ResolvedBackchannelLogout | undefined {
  if (value === undefined || value === false) return undefined;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    fail('"backchannelLogout" must be true, false or { maxSessionAge?, maxStaleness? }');
  }
  const options = (value === true ? {} : value) as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!BACKCHANNEL_OPTIONS.has(key)) fail(`"backchannelLogout.${key}" is not an option (use maxSessionAge or maxStaleness)`);
  }
  return {
    maxSessionAge: numberInRange(options.maxSessionAge, 'backchannelLogout.maxSessionAge', 7 * DAY_MS, 60_000, 400 * DAY_MS),
    maxStaleness: numberInRange(options.maxStaleness, 'backchannelLogout.maxStaleness', 1000, 0, 60_000),
  };
}

const KNOWN_OPTIONS = new Set([
  'issuerBaseURL', 'baseURL', 'clientID', 'clientSecret', 'clientAuthMethod', 'clientAssertionSigningKey',
  'clientAssertionSigningAlg', 'authorizationParams', 'routes', 'dpop', 'httpTimeout', 'clockTolerance',
  'idTokenSigningAlgs', 'afterCallback', 'requestObjectSigningKey', 'requestObjectSigningAlg', 'profile', 'onEvent', 'tls',
  'trustedAudiences', 'backchannelLogout',
]);
const AUTH_METHODS: ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none', ...TLS_CLIENT_AUTH_METHODS];
/** FAPI 2.0 §5.3.2.1: private_key_jwt or mutual TLS. */
const FAPI2_AUTH_METHODS: ClientAuthMethod[] = ['private_key_jwt', ...TLS_CLIENT_AUTH_METHODS];
/** Parameters the library sets itself; letting options override them would break PKCE, state or nonce. */
const RESERVED_PARAMS = ['client_id', 'redirect_uri', 'response_type', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'request', 'request_uri', 'dpop_jkt', 'client_secret', 'client_assertion', 'client_assertion_type'];
const FAPI2_ALGS = ['PS256', 'ES256', 'EdDSA', 'Ed25519'];

function parseHttpUrl(value: unknown, option: string, httpsOnlyOffLoopback: boolean): URL {
  const raw = nonEmptyString(value, option);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(`"${option}" must be an absolute URL, e.g. "https://tenant.auth0.com" (got "${raw}")`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`"${option}" must be an http(s) URL (got "${url.protocol}")`);
  if (url.protocol === 'http:' && httpsOnlyOffLoopback && !isLoopbackHost(url.hostname)) {
    fail(`"${option}" must use https: (http: is only allowed for loopback hosts such as localhost or 127.0.0.1)`);
  }
  if (url.search || url.hash) fail(`"${option}" must not have a query or fragment`);
  if (url.username || url.password) fail(`"${option}" must not contain credentials`);
  return url;
}

function routePath(value: unknown, option: string, fallback: string): string | false {
  if (value === undefined) return fallback;
  if (value === false) return false;
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || /[?#\s\\]/.test(value)) {
    fail(`"${option}" must be a path starting with "/" (or false to turn the route off)`);
  }
  return value;
}

/** Whether express-par sets `key` itself (the protocol parameters), so no option or request may. */
export function isReservedParam(key: string): boolean {
  return RESERVED_PARAMS.includes(key) || key.startsWith('client_assertion') || key.startsWith('code_challenge');
}

/**
 * Encodes authorization parameters (`authorizationParams` in the options, or per request), refusing the
 * protocol parameters with a `TypeError` that names them. `label` prefixes the name in messages.
 */
function encodeParams(params: Record<string, AuthorizationParamValue | undefined>, label = 'authorizationParams', defaults = true): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (isReservedParam(key)) fail(`"${label}.${key}" is set by express-par itself and cannot be ${defaults ? 'configured' : 'overridden'}`);
    if (key === 'response_mode' && value !== 'query') fail(`"${label}.response_mode" must be "query" (the callback route is GET)`);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      for (const v of value as string[]) out.append(key, v);
    } else if (value !== null && typeof value === 'object') {
      out.set(key, JSON.stringify(value)); // e.g. authorization_details (RFC 9396)
    } else if (['string', 'number', 'boolean'].includes(typeof value)) {
      out.set(key, String(value));
    } else {
      fail(`"${label}.${key}" must be a string, number, boolean, string array or JSON object`);
    }
  }
  if (defaults && !out.has('scope')) out.set('scope', 'openid profile email');
  if (out.has('scope') && !out.get('scope')!.split(' ').includes('openid')) fail(`"${label}.scope" must include "openid"`);
  return out;
}

/**
 * The configured parameters with per-request ones (`res.oidc.login({ authorizationParams })`,
 * `passport.authenticate('par', { authorizationParams })`) merged over them: a parameter given per
 * request replaces the configured one. The protocol parameters (`state`, `nonce`, `redirect_uri`,
 * `code_challenge*`, `response_type`, `client_id`, `request_uri`, `request`, `dpop_jkt`, client
 * credentials) throw a `TypeError` naming the parameter.
 */
export function mergeAuthorizationParams(configured: URLSearchParams, perRequest: unknown): URLSearchParams {
  if (perRequest === undefined) return configured;
  if (perRequest === null || typeof perRequest !== 'object' || Array.isArray(perRequest)) fail('"authorizationParams" must be an object');
  const extra = encodeParams(perRequest as Record<string, AuthorizationParamValue | undefined>, 'authorizationParams', false);
  const merged = new URLSearchParams(configured);
  for (const key of new Set(extra.keys())) {
    merged.delete(key);
    for (const value of extra.getAll(key)) merged.append(key, value);
  }
  return merged;
}

function resolveClientAuth(options: ParAuthConfig, fapi2: boolean, tls: ResolvedTls | undefined) {
  if (options.clientSecret !== undefined) nonEmptyString(options.clientSecret, 'clientSecret');
  const method: ClientAuthMethod =
    options.clientAuthMethod ??
    (options.clientAssertionSigningKey ? 'private_key_jwt' : options.clientSecret ? 'client_secret_basic' : 'none');
  if (!AUTH_METHODS.includes(method)) fail(`"clientAuthMethod" must be one of ${AUTH_METHODS.join(', ')}`);
  if (method.startsWith('client_secret') && !options.clientSecret) fail(`"clientSecret" is required for clientAuthMethod "${method}"`);
  if (method === 'client_secret_jwt' && Buffer.byteLength(options.clientSecret!) < 32) {
    fail('"clientSecret" must be at least 32 bytes for client_secret_jwt (HS256)');
  }
  if (fapi2 && !FAPI2_AUTH_METHODS.includes(method)) {
    fail('"clientAuthMethod" must be "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth" under profile "fapi2" (FAPI 2.0 §5.3.2.1)');
  }
  // RFC 8705 §2: the TLS connection is the client authentication, so it needs a certificate.
  if ((TLS_CLIENT_AUTH_METHODS as readonly string[]).includes(method) && !tls) fail(`"tls" (a client certificate and key) is required for clientAuthMethod "${method}"`);
  if (method !== 'private_key_jwt') {
    if (options.clientAssertionSigningKey !== undefined) fail(`"clientAssertionSigningKey" is only used with clientAuthMethod "private_key_jwt" (got "${method}")`);
    const alg = options.clientAssertionSigningAlg;
    if (alg !== undefined && !(method === 'client_secret_jwt' && isHmacAlg(alg))) {
      fail(`"clientAssertionSigningAlg" ${method === 'client_secret_jwt' ? 'must be HS256, HS384 or HS512 for client_secret_jwt' : `is not used with clientAuthMethod "${method}"`}`);
    }
    return { method, alg: method === 'client_secret_jwt' ? (alg ?? 'HS256') : undefined };
  }
  if (options.clientAssertionSigningKey === undefined) fail('"clientAssertionSigningKey" is required for clientAuthMethod "private_key_jwt"');
  const key = toPrivateKey(options.clientAssertionSigningKey, 'clientAssertionSigningKey');
  const requested = options.clientAssertionSigningAlg ?? jwkAlgOf(options.clientAssertionSigningKey);
  const alg = signingAlg(key, requested, 'clientAssertionSigningAlg', fapi2, 'clientAssertionSigningKey');
  return { method, key, alg, kid: jwkKidOf(options.clientAssertionSigningKey) };
}

function signingAlg(key: KeyObject, requested: string | undefined, option: string, fapi2: boolean, keyOption = option): string {
  // FAPI 2.0 §5.4.1: EdDSA with the Ed25519 variant only.
  if (fapi2 && key.asymmetricKeyType === 'ed448') fail(`"${keyOption}" must not be an Ed448 key under profile "fapi2" (EdDSA with Ed25519 only)`);
  let alg: string;
  try {
    alg = requested ?? algForKey(key, fapi2);
  } catch (err) {
    fail(`"${option}": ${(err as Error).message}`);
  }
  if (!isAsymmetricAlg(alg)) fail(`"${option}" must be an asymmetric algorithm (RS256, PS256, ES256, EdDSA, …), got "${alg}"`);
  if (!algFitsKey(alg, key)) fail(`"${option}" "${alg}" does not fit the ${key.asymmetricKeyType} key`);
  if (fapi2) {
    if (!FAPI2_ALGS.includes(alg)) fail(`"${option}" must be PS256, ES256 or EdDSA under profile "fapi2" (got "${alg}")`);
    const bits = keyBits(key);
    const rsa = key.asymmetricKeyType?.startsWith('rsa');
    if ((rsa && bits < 2048) || (!rsa && bits < 224)) fail(`"${option}": the key is too weak for profile "fapi2" (RSA ≥ 2048 bits, EC ≥ 224 bits)`);
  }
  return alg;
}

function resolveDpop(value: ParAuthConfig['dpop'], fapi2: boolean, mtls: boolean): { dpop: ResolvedConfig['dpop']; alg?: string } {
  if (value === undefined || value === false) {
    // FAPI 2.0 §5.3.2.2: sender-constrained access tokens, by DPoP or by the client certificate (RFC 8705 §3).
    if (fapi2 && value === false && !mtls) {
      fail('"dpop" cannot be false under profile "fapi2" without "tls": FAPI 2.0 requires sender-constrained tokens (DPoP, or mTLS with a client certificate)');
    }
    if (fapi2 && !mtls) return { dpop: 'per-session', alg: 'ES256' };
    return { dpop: false };
  }
  if (value !== true && (value === null || (typeof value !== 'object' && typeof value !== 'string'))) {
    fail('"dpop" must be true, false or a private key (JWK, PEM string or KeyObject)');
  }
  if (value === true) return { dpop: 'per-session', alg: 'ES256' };
  const key = toPrivateKey(value, 'dpop');
  return { dpop: key, alg: signingAlg(key, jwkAlgOf(value), 'dpop', fapi2) };
}

/** Validates options and resolves defaults; throws `TypeError` naming the option on any mistake. */
export function resolveConfig(input: ParAuthConfig, extra: { callbackPath?: string } = {}): ResolvedConfig {
  if (!input || typeof input !== 'object') fail('express-par options must be an object');
  for (const key of Object.keys(input)) {
    if (!KNOWN_OPTIONS.has(key)) fail(`"${key}" is not an express-par option`);
  }
  if (input.profile !== undefined && input.profile !== 'fapi2') fail('"profile" must be "fapi2" when set');
  const fapi2 = input.profile === 'fapi2';
  const issuerUrl = parseHttpUrl(input.issuerBaseURL, 'issuerBaseURL', true);
  const baseURL = parseHttpUrl(input.baseURL, 'baseURL', false);
  const clientID = nonEmptyString(input.clientID, 'clientID');
  const tls = resolveTls(input.tls);
  const auth = resolveClientAuth(input, fapi2, tls);

  if (input.routes !== undefined && (typeof input.routes !== 'object' || input.routes === null)) fail('"routes" must be an object');
  const routes: ResolvedRoutes = {
    login: routePath(input.routes?.login, 'routes.login', '/login'),
    callback: routePath(extra.callbackPath ?? input.routes?.callback, extra.callbackPath ? 'callbackPath' : 'routes.callback', '/callback'),
    logout: routePath(input.routes?.logout, 'routes.logout', '/logout'),
    postLogoutRedirect: routePath(input.routes?.postLogoutRedirect, 'routes.postLogoutRedirect', '/') || fail('"routes.postLogoutRedirect" cannot be false'),
    backchannelLogout: false,
  };
  const backchannelLogout = resolveBackchannelLogout(input.backchannelLogout);
  if (backchannelLogout) {
    routes.backchannelLogout = routePath(input.routes?.backchannelLogout, 'routes.backchannelLogout', '/backchannel-logout');
  }
  if (input.authorizationParams !== undefined && (typeof input.authorizationParams !== 'object' || input.authorizationParams === null)) {
    fail('"authorizationParams" must be an object');
  }
  const authorizationParams = encodeParams(input.authorizationParams ?? {});

  const idTokenSigningAlgs = input.idTokenSigningAlgs;
  if (idTokenSigningAlgs !== undefined) {
    if (!Array.isArray(idTokenSigningAlgs) || idTokenSigningAlgs.length === 0 || !idTokenSigningAlgs.every((a) => typeof a === 'string' && (isAsymmetricAlg(a) || isHmacAlg(a) || a === 'none'))) {
      fail('"idTokenSigningAlgs" must be a non-empty array of JWS algorithms, e.g. ["RS256"]');
    }
    if (idTokenSigningAlgs.some(isHmacAlg) && !input.clientSecret) fail('"idTokenSigningAlgs" lists an HMAC algorithm, which needs "clientSecret"');
    if (fapi2 && !idTokenSigningAlgs.every((a) => FAPI2_ALGS.includes(a))) fail('"idTokenSigningAlgs" may only hold PS256, ES256 or EdDSA under profile "fapi2"');
  }
  for (const fn of ['afterCallback', 'onEvent'] as const) {
    if (input[fn] !== undefined && typeof input[fn] !== 'function') fail(`"${fn}" must be a function`);
  }
  const dpop = resolveDpop(input.dpop, fapi2, tls !== undefined);
  let requestObjectKey: KeyObject | undefined;
  let requestObjectAlg: string | undefined;
  let requestObjectKid: string | undefined;
  if (input.requestObjectSigningKey !== undefined) {
    requestObjectKey = toPrivateKey(input.requestObjectSigningKey, 'requestObjectSigningKey');
    const requested = input.requestObjectSigningAlg ?? jwkAlgOf(input.requestObjectSigningKey);
    requestObjectAlg = signingAlg(requestObjectKey, requested, 'requestObjectSigningAlg', fapi2, 'requestObjectSigningKey');
    requestObjectKid = jwkKidOf(input.requestObjectSigningKey);
  } else if (input.requestObjectSigningAlg !== undefined) {
    fail('"requestObjectSigningAlg" needs "requestObjectSigningKey"');
  }

  const trustedAudiences = input.trustedAudiences;
  if (trustedAudiences !== undefined && (!Array.isArray(trustedAudiences) || !trustedAudiences.every((a) => typeof a === 'string' && a !== ''))) {
    fail('"trustedAudiences" must be an array of non-empty strings (audiences besides clientID accepted in an ID token)');
  }
  const issuer = normalizeIssuer(issuerUrl.href);
  return {
    issuer,
    baseURL,
    clientID,
    ...(input.clientSecret !== undefined ? { clientSecret: input.clientSecret } : {}),
    clientAuthMethod: auth.method,
    ...('key' in auth && auth.key ? { clientAssertionKey: auth.key } : {}),
    ...(auth.alg ? { clientAssertionAlg: auth.alg } : {}),
    ...('kid' in auth && auth.kid ? { clientAssertionKid: auth.kid } : {}),
    authorizationParams,
    routes,
    redirectUri: joinUrl(baseURL, routes.callback || '/callback'),
    postLogoutRedirectUri: joinUrl(baseURL, routes.postLogoutRedirect),
    dpop: dpop.dpop,
    ...(dpop.alg ? { dpopAlg: dpop.alg } : {}),
    httpTimeout: numberInRange(input.httpTimeout, 'httpTimeout', 5000, 1, 120_000),
    // FAPI 2.0 §5.3.2.1 asks clients to accept ~10 s of skew; keep the default 30 s otherwise.
    clockTolerance: numberInRange(input.clockTolerance, 'clockTolerance', 30, 0, 600),
    // FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA only, whatever else the server advertises.
    ...(idTokenSigningAlgs ? { idTokenSigningAlgs: [...idTokenSigningAlgs] } : fapi2 ? { idTokenSigningAlgs: [...FAPI2_ALGS] } : {}),
    ...(input.afterCallback ? { afterCallback: input.afterCallback } : {}),
    ...(requestObjectKey ? { requestObjectKey, requestObjectAlg: requestObjectAlg!, ...(requestObjectKid ? { requestObjectKid } : {}) } : {}),
    ...(fapi2 ? { profile: 'fapi2' as const } : {}),
    ...(input.onEvent ? { onEvent: input.onEvent } : {}),
    ...(trustedAudiences && trustedAudiences.length > 0 ? { trustedAudiences: [...trustedAudiences] } : {}),
    ...(tls ? { tls } : {}),
    ...(backchannelLogout ? { backchannelLogout } : {}),
  };
}
