/**
 * Starting a login (OpenID Connect Core §3.1.2 with RFC 9126): the transaction (state, nonce, PKCE
 * verifier, returnTo, DPoP key) kept in the session, the parameters pushed to the PAR endpoint, and the
 * authorization URL with only `client_id` and `request_uri` (§4) to send the browser to.
 */
import type { Request } from 'express';
import { isRecord } from '../core/assert.js';
import { createLogger } from '../core/log.js';
import type { ServerMetadata, Transaction } from '../core/model.js';
import { randomToken } from '../core/random.js';
import { mergeAuthorizationParams } from '../config/params.js';
import { redirectUriOption } from '../config/routes.js';
import { authorizationUrl } from '../protocol/authorize.js';
import { authorizationDetailsTypes } from '../protocol/authorization-details.js';
import { crossSiteLoginError, refusesCrossSiteLogin } from '../protocol/browser.js';
import { generateDpopKey, thumbprint, type DpopKey } from '../protocol/dpop.js';
import {
  authorizationParameters, processPushedAuthorizationResponse, requestObjectParameters, type PushedRequest,
} from '../protocol/par.js';
import { codeChallengeS256, createCodeVerifier } from '../protocol/pkce.js';
import { safeReturnTo } from '../protocol/return-to.js';
import { limitPendingOnlySession, requireSession, saveSession } from '../state/session.js';
import { MAX_APP_STATE_BYTES, saveTransaction, TRANSACTION_TTL_MS } from '../state/transactions.js';
import { emit, endpointOf, failureOf, postToServer, ready, type EngineContext } from './context.js';

const log = createLogger('engine');

export interface StartLoginOptions {
  /** Where the browser goes after the login: a same-origin path, anything else becomes `/`. */
  returnTo?: unknown;
  /** Parameters for this login, merged over the configured `authorizationParams`. */
  authorizationParams?: unknown;
  /** `prompt=none`: the server answers without showing anything (attemptSilentLogin). */
  silent?: boolean;
  /** A `requiresAuth()` step-up for a signed-in user (never from `res.oidc.login()`: its options are checked). */
  stepUp?: boolean;
  /** This login's redirect_uri (absolute), for a callback route of the app's own; default the configured one. */
  redirectUri?: unknown;
  /** JSON the app keeps with the login until its callback (auth()'s getLoginState); it never leaves the session. */
  appState?: unknown;
}

/** The parameters of one login: the configured ones, the request's over them, `prompt=none` when silent. */
function loginParameters(configured: URLSearchParams, options: StartLoginOptions): URLSearchParams {
  if (options.silent !== undefined && typeof options.silent !== 'boolean') {
    throw new TypeError('"silent" must be a boolean');
  }
  const params = mergeAuthorizationParams(configured, options.authorizationParams);
  if (!options.silent) return params;
  const asked = (options.authorizationParams as Record<string, unknown> | undefined)?.prompt;
  if (asked !== undefined && asked !== 'none') {
    const message = '"authorizationParams.prompt" cannot be combined with silent: true (a silent login is prompt=none)';
    throw new TypeError(message);
  }
  const silent = new URLSearchParams(params);
  silent.set('prompt', 'none'); // OpenID Connect Core §3.1.2.1
  return silent;
}

/**
 * RFC 9470 §4: the `acr_values` and `max_age` this login asked for itself (per login, not configured), which its
 * ID token must then meet; undefined when it asked for neither.
 */
function requiredBy(params: URLSearchParams, options: StartLoginOptions): Transaction['required'] {
  const own = options.authorizationParams as Record<string, unknown> | undefined;
  const asked = (name: string) => own !== undefined && own[name] !== undefined && params.has(name);
  const acrValues = asked('acr_values') ? params.getAll('acr_values').join(' ').split(' ').filter(Boolean) : [];
  const maxAge = asked('max_age') ? maxAgeOf(params) : undefined;
  if (acrValues.length === 0 && maxAge === undefined) return undefined;
  return { ...(acrValues.length > 0 ? { acrValues } : {}), ...(maxAge !== undefined ? { maxAge } : {}) };
}

function maxAgeOf(params: URLSearchParams): number | undefined {
  const maxAge = params.get('max_age');
  return maxAge !== null && /^\d+$/.test(maxAge) ? Number(maxAge) : undefined;
}

/** The app's state for this login as JSON (a copy), or a TypeError when it is not an object or too large. */
function appStateOf(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  const json = isRecord(value) ? JSON.stringify(value) : undefined;
  if (json === undefined || json.length > MAX_APP_STATE_BYTES) {
    throw new TypeError(`the login state must be a JSON object of at most ${MAX_APP_STATE_BYTES} bytes`);
  }
  return JSON.parse(json) as Record<string, unknown>;
}

/** A new pending login; the code verifier is the transaction's own. */
export function newTransaction(ctx: EngineContext, params: URLSearchParams, options: StartLoginOptions): Transaction {
  // OpenID Connect Core §3.1.3.7 step 11: a per-request max_age drives the auth_time check too.
  const maxAge = maxAgeOf(params);
  const required = requiredBy(params, options);
  const tx: Transaction = {
    state: randomToken(32), // RFC 6749 §10.12: unguessable, bound to this session
    nonce: randomToken(32),
    codeVerifier: createCodeVerifier(),
    returnTo: safeReturnTo(options.returnTo),
    redirectUri: redirectUriOption(options.redirectUri, 'redirectUri') ?? ctx.config.redirectUri,
    createdAt: Date.now(),
    ...(options.silent ? { silent: true } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
    ...(required ? { required } : {}),
    ...(options.stepUp ? { stepUp: true } : {}),
    ...(options.appState !== undefined ? { appState: appStateOf(options.appState) } : {}),
  };
  // RFC 9396 §7: what the server may grant is what this login asks for.
  const types = authorizationDetailsTypes(params.get('authorization_details'));
  if (types) tx.authorizationDetailsTypes = types;
  return tx;
}

/**
 * The login's DPoP key: the configured one, or a fresh key for every login (kept in the transaction), so
 * whoever signs in next in this browser session (another user, without a logout between) does not get
 * tokens bound to the key of the login before.
 */
export async function loginDpopKey(ctx: EngineContext, tx: Transaction): Promise<DpopKey | undefined> {
  if (ctx.config.dpop !== 'per-session') return ctx.sharedDpopKey;
  const fresh = await generateDpopKey();
  tx.dpopJwk = fresh.jwk;
  return fresh.key;
}

/** RFC 9126 §2: the authorization request's parameters, as a signed request object when configured (§3). */
async function pushedParameters(
  ctx: EngineContext,
  tx: Transaction,
  params: URLSearchParams,
  key: DpopKey | undefined,
  issuer: string,
): Promise<URLSearchParams> {
  const pushed = authorizationParameters(ctx.config, {
    state: tx.state,
    nonce: tx.nonce,
    codeChallenge: codeChallengeS256(tx.codeVerifier),
    redirectUri: tx.redirectUri,
    authorizationParams: params,
    ...(key ? { dpopJkt: await thumbprint(key) } : {}),
  });
  return ctx.config.requestObjectKey ? requestObjectParameters(ctx.config, issuer, pushed) : pushed;
}

/**
 * RFC 9126 §2: pushes the authorization request of `tx` (with client authentication and, with DPoP, a proof
 * binding the code to `key`); returns the server's `request_uri` and `expires_in` (§2.2).
 */
export async function pushAuthorizationRequest(
  ctx: EngineContext,
  tx: Transaction,
  params: URLSearchParams,
  metadata: ServerMetadata,
  key: DpopKey | undefined,
): Promise<PushedRequest> {
  const body = await pushedParameters(ctx, tx, params, key, metadata.issuer);
  const url = endpointOf(ctx, metadata, 'pushed_authorization_request_endpoint')!;
  const res = await postToServer(ctx, { issuer: metadata.issuer, url, step: 'PAR endpoint', params: body, key });
  const context = { endpoint: url, redirectUri: tx.redirectUri, clientAuthMethod: ctx.config.clientAuthMethod };
  return processPushedAuthorizationResponse(res, context);
}

async function pushLogin(ctx: EngineContext, req: Request, options: StartLoginOptions): Promise<string> {
  const { config } = ctx;
  const params = loginParameters(config.authorizationParams, options); // a TypeError before anything changes
  const tx = newTransaction(ctx, params, options); // so is a wrong redirectUri
  // FAPI 2.0 (client requirements): initiation only with the user's consent, protected against CSRF.
  if (refusesCrossSiteLogin(config.profile, req)) throw crossSiteLoginError();
  requireSession(req);
  const { metadata } = await ready(ctx);
  const key = await loginDpopKey(ctx, tx);
  emit(ctx, { type: 'login.started', returnTo: tx.returnTo });
  const pushed = await pushAuthorizationRequest(ctx, tx, params, metadata, key);
  log('pushed authorization request, expires_in %d', pushed.expires_in);
  emit(ctx, { type: 'par.pushed', expires_in: pushed.expires_in });
  saveTransaction(req, ctx.signIn, tx);
  limitPendingOnlySession(req, TRANSACTION_TTL_MS);
  await saveSession(req);
  return authorizationUrl(metadata.authorization_endpoint, config.clientID, pushed.request_uri);
}

/**
 * Creates the transaction, pushes the request, saves the session; returns the URL to redirect to. A login
 * that cannot start (discovery, PAR refused, unreachable, late) is logged and reported as `login.failed`.
 */
export async function startLogin(ctx: EngineContext, req: Request, options: StartLoginOptions = {}): Promise<string> {
  try {
    return await pushLogin(ctx, req, options);
  } catch (err) {
    const { code, status } = failureOf(err);
    log('login failed to start: %s (%d)', code, status);
    emit(ctx, { type: 'login.failed', code, status });
    throw err;
  }
}
