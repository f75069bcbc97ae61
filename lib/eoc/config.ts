/**
 * `auth()`'s options: express-openid-connect's (EOC 3.4), with its defaults and environment variables,
 * checked once at start-up and mapped onto express-par's own configuration. A mistake throws a TypeError
 * naming the option; an option that cannot apply is refused or, when ignoring it changes nothing the app
 * relies on, taken with a warning said once.
 */
import { fail, isRecord, optionalFunction } from '../core/assert.js';
import type { ResolvedConfig } from '../core/model.js';
import type { ParAuthConfig } from '../core/types.js';
import { resolveConfig } from '../config/resolve.js';
import { parseHttpUrl } from '../config/routes.js';
import { eocLoginParams } from './params.js';
import { resolveEocSession, type EocSession } from './session-options.js';
import type { ConfigParams } from './types.js';

/** EOC's options auth() reads, and express-par's own that it takes too. */
const EOC_OPTIONS = new Set([
  'secret', 'session', 'auth0Logout', 'authorizationParams', 'logoutParams', 'baseURL', 'clientID', 'clientSecret',
  'clockTolerance', 'enableTelemetry', 'errorOnRequiredAuth', 'attemptSilentLogin', 'getLoginState', 'afterCallback',
  'identityClaimFilter', 'idpLogout', 'idTokenSigningAlg', 'issuerBaseURL', 'legacySameSiteCookie', 'authRequired',
  'pushedAuthorizationRequests', 'backchannelLogout', 'routes', 'transactionCookie', 'clientAuthMethod',
  'clientAssertionSigningKey', 'clientAssertionSigningAlg', 'requestObjectSigningKey', 'requestObjectSigningAlg',
  'requestObjectSigningKeyId', 'tokenEndpointParams', 'discoveryCacheMaxAge', 'httpTimeout', 'customFetch',
  'httpUserAgent', 'useMtls', 'httpAgent',
  'dpop', 'tls', 'profile', 'onEvent', 'trustedAudiences', 'idTokenSigningAlgs',
]);
/** express-par's options passed on as they are. */
const PASSED_ON = [
  'clientSecret', 'clientAuthMethod', 'clientAssertionSigningKey', 'clientAssertionSigningAlg',
  'requestObjectSigningKey', 'requestObjectSigningAlg', 'httpTimeout', 'logoutParams', 'dpop', 'tls', 'profile',
  'onEvent', 'trustedAudiences', 'idTokenSigningAlgs',
] as const;
const ROUTES = new Set(['login', 'logout', 'callback', 'postLogoutRedirect', 'backchannelLogout']);
const BACKCHANNEL_HOOKS = ['store', 'onLogoutToken', 'isLoggedOut', 'onLogin'];
const ENV = { secret: 'SECRET', issuerBaseURL: 'ISSUER_BASE_URL', baseURL: 'BASE_URL', clientID: 'CLIENT_ID' } as const;

/** EOC's default identityClaimFilter: protocol claims left out of `req.oidc.user`. */
export const DEFAULT_CLAIM_FILTER = [
  'aud', 'iss', 'iat', 'exp', 'nbf', 'nonce', 'azp', 'auth_time', 's_hash', 'at_hash', 'c_hash',
];

/** What auth() needs besides the engine's configuration. */
export interface EocConfig {
  /** The engine's configuration (EOC's defaults applied). */
  resolved: ResolvedConfig;
  /** baseURL as given (EOC joins paths to it as text). */
  baseURL: string;
  authRequired: boolean;
  attemptSilentLogin: boolean;
  identityClaimFilter: readonly string[];
  getLoginState?: ConfigParams['getLoginState'];
  afterCallback?: ConfigParams['afterCallback'];
  session: EocSession;
  /** Said once, at start-up. */
  warnings: string[];
}

/** The options with the environment under them: an option given (even as undefined) wins, as in EOC. */
export function withEnvironment(config: ConfigParams, env: NodeJS.ProcessEnv): Record<string, unknown> {
  if (!isRecord(config)) fail('auth() options must be an object');
  const fromEnv: Record<string, unknown> = {
    secret: env.SECRET, issuerBaseURL: env.ISSUER_BASE_URL, baseURL: env.BASE_URL, clientID: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
  };
  return { ...fromEnv, ...config };
}

function checkOptions(options: Record<string, unknown>): void {
  for (const key of Object.keys(options)) if (!EOC_OPTIONS.has(key)) fail(`"${key}" is not an auth() option`);
  for (const [key, variable] of Object.entries(ENV)) {
    if (options[key] === undefined || options[key] === '') {
      fail(`"${key}" is required (or the ${variable} environment variable)`);
    }
  }
  if (options.tokenEndpointParams !== undefined) {
    fail('"tokenEndpointParams" is not supported: express-par\'s token requests carry what the specs name');
  }
  if (options.customFetch !== undefined) {
    fail('"customFetch" is not supported: express-par\'s HTTP client is fixed (see httpTimeout, and tls)');
  }
  if (options.useMtls === true) fail('"useMtls" is not supported: give the client certificate as tls: { cert, key }');
  for (const flag of ['authRequired', 'attemptSilentLogin', 'errorOnRequiredAuth', 'idpLogout', 'auth0Logout']) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') fail(`"${flag}" must be a boolean`);
  }
  optionalFunction(options.getLoginState, 'getLoginState');
  optionalFunction(options.afterCallback, 'afterCallback');
}

/** Options that cannot apply and change nothing the app relies on: taken, each named in one warning. */
function ignoredWarnings(options: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (options.httpAgent !== undefined || options.httpUserAgent !== undefined) {
    out.push('"httpAgent" and "httpUserAgent" are ignored: express-par\'s HTTP client is fixed');
  }
  if (options.discoveryCacheMaxAge !== undefined) {
    out.push('"discoveryCacheMaxAge" is ignored: the metadata is cached for an hour and refreshed in the background');
  }
  const bcl = options.backchannelLogout;
  const hooks = isRecord(bcl) ? BACKCHANNEL_HOOKS.filter((hook) => bcl[hook] !== undefined) : [];
  if (hooks.length > 0) {
    out.push(
      `"backchannelLogout.${hooks.join('", "backchannelLogout.')}" ignored: express-par records logouts in the ` +
        'session store and ends the logins they name on their next request',
    );
  }
  return out;
}

/** `routes`: EOC's names; postLogoutRedirect joined to baseURL as EOC does (as text: no slash added). */
function routesOf(options: Record<string, unknown>): { routes: ParAuthConfig['routes']; postLogout: string } {
  const routes = options.routes ?? {};
  if (!isRecord(routes)) fail('"routes" must be an object');
  for (const key of Object.keys(routes)) if (!ROUTES.has(key)) fail(`"routes.${key}" is not a route`);
  const { postLogoutRedirect = '', ...rest } = routes as Record<string, unknown>;
  if (typeof postLogoutRedirect !== 'string') fail('"routes.postLogoutRedirect" must be a path or an absolute URL');
  if (/^https?:\/\//i.test(postLogoutRedirect)) {
    parseHttpUrl(postLogoutRedirect, 'routes.postLogoutRedirect', true, true); // https, or http on loopback
    return { routes: rest as ParAuthConfig['routes'], postLogout: postLogoutRedirect };
  }
  if (postLogoutRedirect !== '' && !postLogoutRedirect.startsWith('/')) {
    fail('"routes.postLogoutRedirect" must be a path starting with "/" or an absolute URL');
  }
  return { routes: rest as ParAuthConfig['routes'], postLogout: urlJoin(String(options.baseURL), postLogoutRedirect) };
}

/** EOC's url-join: the base without trailing slashes, then one slash and the path (nothing for an empty path). */
export function urlJoin(base: string, path: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return path ? `${trimmed}/${path.replace(/^\/+/, '')}` : trimmed;
}

/** `idTokenSigningAlg` (EOC, one algorithm, any case) as `idTokenSigningAlgs`; express-par's own wins. */
function idTokenAlgsOf(options: Record<string, unknown>): string[] | undefined {
  if (options.idTokenSigningAlgs !== undefined) return options.idTokenSigningAlgs as string[];
  const alg = options.idTokenSigningAlg;
  if (alg === undefined) return undefined;
  if (typeof alg !== 'string' || alg.toLowerCase() === 'none') fail('"idTokenSigningAlg" contains an invalid value');
  return [/^eddsa$/i.test(alg) ? 'EdDSA' : alg.toUpperCase()];
}

/** `backchannelLogout`: true, false, or EOC's object (its hooks ignored with a warning: see ignoredWarnings). */
function backchannelOf(value: unknown): boolean {
  if (value === undefined || typeof value === 'boolean') return value === true;
  if (!isRecord(value)) fail('"backchannelLogout" must be true, false or an object');
  return true;
}

/** express-par's configuration from EOC's options (EOC's defaults where express-par's differ). */
function parConfigOf(options: Record<string, unknown>, params: Record<string, unknown>): ParAuthConfig {
  const passed: Record<string, unknown> = {};
  for (const key of PASSED_ON) if (options[key] !== undefined) passed[key] = options[key];
  const { routes } = routesOf(options);
  const backchannel = backchannelOf(options.backchannelLogout);
  const algs = idTokenAlgsOf(options);
  return {
    ...(passed as Partial<ParAuthConfig>),
    issuerBaseURL: options.issuerBaseURL as string,
    baseURL: options.baseURL as string,
    clientID: options.clientID as string,
    authorizationParams: params as ParAuthConfig['authorizationParams'],
    routes,
    clockTolerance: (options.clockTolerance ?? 60) as number, // EOC's default
    ...(algs ? { idTokenSigningAlgs: algs } : {}),
    ...(backchannel ? { backchannelLogout: true } : {}),
  };
}

/** What EOC does that parAuth() does otherwise: the logout, requiresAuth(), the login's redirect_uri. */
function eocBehaviour(
  options: Record<string, unknown>,
  resolved: ResolvedConfig,
  redirectUri: string | undefined,
): ResolvedConfig {
  const idpLogout = options.idpLogout ?? options.auth0Logout === true;
  const kid = options.requestObjectSigningKeyId;
  if (kid !== undefined && (typeof kid !== 'string' || kid === '')) {
    fail('"requestObjectSigningKeyId" must be a non-empty string');
  }
  return {
    ...resolved,
    postLogoutRedirectUri: routesOf(options).postLogout,
    ...(redirectUri ? { redirectUri } : {}),
    ...(idpLogout ? {} : { rpInitiatedLogout: false as const }),
    onRequiredAuth: options.errorOnRequiredAuth === true ? 'error' : 'login',
    ...(kid !== undefined && resolved.requestObjectKey ? { requestObjectKid: kid as string } : {}),
  };
}

function claimFilterOf(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_CLAIM_FILTER;
  if (!Array.isArray(value) || !value.every((claim) => typeof claim === 'string')) {
    fail('"identityClaimFilter" must be an array of claim names');
  }
  return [...value];
}

/**
 * auth()'s options read from `config` over the environment, checked, EOC's defaults applied, and mapped
 * onto express-par's configuration. Throws a TypeError naming the option at the first mistake.
 */
export function resolveEocConfig(config: ConfigParams, env: NodeJS.ProcessEnv): EocConfig {
  const options = withEnvironment(config, env);
  checkOptions(options);
  const warnings = ignoredWarnings(options);
  const mapped = eocLoginParams(options.authorizationParams, 'authorizationParams');
  warnings.push(...mapped.notes);
  const resolved = eocBehaviour(options, resolveConfig(parConfigOf(options, mapped.params)), mapped.redirectUri);
  const session = resolveEocSession(options.session, options.secret, resolved.baseURL.protocol === 'https:', warnings);
  return {
    resolved,
    baseURL: options.baseURL as string,
    authRequired: options.authRequired !== false,
    attemptSilentLogin: options.attemptSilentLogin === true,
    identityClaimFilter: claimFilterOf(options.identityClaimFilter),
    ...(options.getLoginState ? { getLoginState: options.getLoginState as EocConfig['getLoginState'] } : {}),
    ...(options.afterCallback ? { afterCallback: options.afterCallback as EocConfig['afterCallback'] } : {}),
    session,
    warnings,
  };
}
