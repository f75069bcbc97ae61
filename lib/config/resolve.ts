/**
 * Validates `ParAuthConfig` once, at `parAuth()` / `new ParStrategy()` time, and resolves defaults.
 * Every mistake throws a `TypeError` whose message names the option and says how to fix it. The options
 * are checked in a fixed order (the first mistake is the one reported), each group by its module.
 */
import { fail, nonEmptyString, numberInRange, optionalFunction } from '../core/assert.js';
import type { ResolvedBackchannelLogout, ResolvedConfig } from '../core/model.js';
import type { ParAuthConfig } from '../core/types.js';
import { joinUrl } from '../core/url.js';
import { normalizeIssuer } from '../protocol/issuer.js';
import { resolveClientAuth, type ResolvedClientAuth } from './client-auth.js';
import { resolveAuthorizationParams } from './params.js';
import { isAbsoluteUrl, parseHttpUrl, resolveRoutes, routePath } from './routes.js';
import { unknownOptionMessage } from './eoc-options.js';
import { encodeLogoutParams } from './logout.js';
import { resolveDpop, resolveIdTokenSigningAlgs, resolveRequestObject } from './signing.js';
import { resolveTls } from './tls.js';

const KNOWN_OPTIONS = new Set([
  'issuerBaseURL', 'baseURL', 'clientID', 'clientSecret', 'clientAuthMethod', 'clientAssertionSigningKey',
  'clientAssertionSigningAlg', 'authorizationParams', 'routes', 'dpop', 'httpTimeout', 'clockTolerance',
  'idTokenSigningAlgs', 'afterCallback', 'requestObjectSigningKey', 'requestObjectSigningAlg', 'profile', 'onEvent',
  'tls', 'trustedAudiences', 'backchannelLogout', 'logoutParams',
]);

const DAY_MS = 24 * 60 * 60 * 1000;
const BACKCHANNEL_OPTIONS = new Set(['maxSessionAge', 'maxStaleness']);

function checkKnownOptions(input: unknown): void {
  if (!input || typeof input !== 'object') fail('express-par options must be an object');
  for (const key of Object.keys(input)) {
    if (!KNOWN_OPTIONS.has(key)) fail(unknownOptionMessage(key));
  }
}

/** `backchannelLogout`: `true`, `false`, or `{ maxSessionAge?, maxStaleness? }` (ms). */
function resolveBackchannelLogout(value: unknown): ResolvedBackchannelLogout | undefined {
  if (value === undefined || value === false) return undefined;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    fail('"backchannelLogout" must be true, false or { maxSessionAge?, maxStaleness? }');
  }
  const options = (value === true ? {} : value) as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!BACKCHANNEL_OPTIONS.has(key)) {
      fail(`"backchannelLogout.${key}" is not an option (use maxSessionAge or maxStaleness)`);
    }
  }
  return {
    maxSessionAge: numberInRange(
      options.maxSessionAge,
      'backchannelLogout.maxSessionAge',
      7 * DAY_MS,
      60_000,
      400 * DAY_MS,
    ),
    maxStaleness: numberInRange(options.maxStaleness, 'backchannelLogout.maxStaleness', 1000, 0, 60_000),
  };
}

/** `routes.backchannelLogout`: its path when back-channel logout is on; a path without it is a mistake. */
function backchannelRoute(path: unknown, on: boolean): string | false {
  if (on) return routePath(path, 'routes.backchannelLogout', '/backchannel-logout');
  if (path !== undefined && path !== false) {
    fail('"routes.backchannelLogout" is set but "backchannelLogout" is off: turn it on, or remove the route');
  }
  return false;
}

function resolveTrustedAudiences(value: unknown): string[] | undefined {
  if (value !== undefined && (!Array.isArray(value) || !value.every((a) => typeof a === 'string' && a !== ''))) {
    fail(
      '"trustedAudiences" must be an array of non-empty strings (audiences besides clientID accepted in an ID token)',
    );
  }
  return value && value.length > 0 ? [...(value as string[])] : undefined;
}

/** The client authentication of resolveConfig's result. */
type ClientAuthFields = Pick<
  ResolvedConfig,
  'clientAuthMethod' | 'clientAssertionKey' | 'clientAssertionAlg' | 'clientAssertionKid'
>;

function clientAuthFields(auth: ResolvedClientAuth): ClientAuthFields {
  return {
    clientAuthMethod: auth.method,
    ...(auth.key ? { clientAssertionKey: auth.key } : {}),
    ...(auth.alg ? { clientAssertionAlg: auth.alg } : {}),
    ...(auth.kid ? { clientAssertionKid: auth.kid } : {}),
  };
}

/** Validates options and resolves defaults; throws `TypeError` naming the option on any mistake. */
export function resolveConfig(input: ParAuthConfig, extra: { callbackPath?: string } = {}): ResolvedConfig {
  checkKnownOptions(input);
  if (input.profile !== undefined && input.profile !== 'fapi2') fail('"profile" must be "fapi2" when set');
  const fapi2 = input.profile === 'fapi2';
  const issuer = normalizeIssuer(parseHttpUrl(input.issuerBaseURL, 'issuerBaseURL', true).href);
  const baseURL = parseHttpUrl(input.baseURL, 'baseURL', false);
  const clientID = nonEmptyString(input.clientID, 'clientID');
  const tls = resolveTls(input.tls);
  const auth = resolveClientAuth(input, fapi2, tls);
  const routes = resolveRoutes(input.routes, extra.callbackPath);
  const backchannelLogout = resolveBackchannelLogout(input.backchannelLogout);
  routes.backchannelLogout = backchannelRoute(input.routes?.backchannelLogout, backchannelLogout !== undefined);
  const authorizationParams = resolveAuthorizationParams(input.authorizationParams);
  const idTokenSigningAlgs = resolveIdTokenSigningAlgs(input, fapi2);
  optionalFunction(input.afterCallback, 'afterCallback');
  optionalFunction(input.onEvent, 'onEvent');
  const dpop = resolveDpop(input.dpop, fapi2, tls !== undefined);
  const requestObject = resolveRequestObject(input, fapi2);
  const trustedAudiences = resolveTrustedAudiences(input.trustedAudiences);
  return {
    issuer,
    baseURL,
    clientID,
    ...(input.clientSecret !== undefined ? { clientSecret: input.clientSecret } : {}),
    ...clientAuthFields(auth),
    authorizationParams,
    routes,
    redirectUri: joinUrl(baseURL, routes.callback || '/callback'),
    postLogoutRedirectUri: isAbsoluteUrl(routes.postLogoutRedirect)
      ? routes.postLogoutRedirect
      : joinUrl(baseURL, routes.postLogoutRedirect),
    ...(input.logoutParams !== undefined ? { logoutParams: encodeLogoutParams(input.logoutParams) } : {}),
    dpop: dpop.dpop,
    ...(dpop.alg ? { dpopAlg: dpop.alg } : {}),
    httpTimeout: numberInRange(input.httpTimeout, 'httpTimeout', 5000, 1, 120_000),
    // FAPI 2.0 §5.3.2.1 asks clients to accept ~10 s of skew; keep the default 30 s otherwise.
    clockTolerance: numberInRange(input.clockTolerance, 'clockTolerance', 30, 0, 600),
    ...(idTokenSigningAlgs ? { idTokenSigningAlgs } : {}),
    ...(input.afterCallback ? { afterCallback: input.afterCallback } : {}),
    ...requestObject,
    ...(fapi2 ? { profile: 'fapi2' as const } : {}),
    ...(input.onEvent ? { onEvent: input.onEvent } : {}),
    ...(trustedAudiences ? { trustedAudiences } : {}),
    ...(tls ? { tls } : {}),
    ...(backchannelLogout ? { backchannelLogout } : {}),
  };
}
