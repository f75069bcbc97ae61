/**
 * Completing a login at the callback (RFC 6749 §4.1.2, RFC 9207, OpenID Connect Core §3.1.3): the
 * pending transaction its `state` names (taken before anything is compared: single use), the `iss`
 * check, the server's error, the code exchange and the ID token.
 */
import type { Request } from 'express';
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import { CallbackError, RequestError, SilentLoginDeclined } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { CertificateBinding, Transaction } from '../core/model.js';
import type { TokenSet } from '../core/types.js';
import { redirectUriOption } from '../config/routes.js';
import { checkGrantedTypes } from '../protocol/authorization-details.js';
import { checkAuthorizationError, checkIss, parseCallbackParams, type CallbackParams } from '../protocol/callback.js';
import { validateIdToken } from '../protocol/id-token.js';
import { authenticationShortfall, requireAuthTime, type Shortfall } from '../protocol/step-up.js';
import { authorizationCodeParameters } from '../protocol/token.js';
import { idTokenPayload, readStoredLogin } from '../state/login.js';
import { requireSession } from '../state/session.js';
import { takeTransaction } from '../state/transactions.js';
import { emit, failureOf, ready, type EngineContext } from './context.js';
import { idTokenExpectations, tokenRequest } from './tokens.js';

const log = createLogger('engine');

export interface LoginResult {
  tokens: TokenSet;
  claims: JWTPayload & { sub: string };
  returnTo: string;
  /** The per-login DPoP key the tokens are bound to. */
  dpopJwk?: Transaction['dpopJwk'];
  /** Set when the access token is bound to the client certificate (RFC 8705 §3). */
  certificateBinding?: CertificateBinding;
  /** A `requiresAuth()` step-up brought this login back (the adapter marks the stored login). */
  stepUp?: true;
  /** The `type`s of the `authorization_details` this login asked for (RFC 9396). */
  authorizationDetailsTypes?: string[];
  /** What the app kept with the login when it started (auth()'s getLoginState). */
  appState?: Record<string, unknown>;
}

export interface CompleteLoginOptions {
  /** The redirect_uri the login was started with (absolute), when not the configured one. */
  redirectUri?: unknown;
}

/**
 * Whether a request to a callback path carries an authorization response (`state`, `code` or `error`), so
 * it completes a login rather than starting one. A malformed query does: completeLogin() reports it.
 */
export function carriesAuthorizationResponse(url: string): boolean {
  try {
    const params = parseCallbackParams(url);
    return params.state !== undefined || params.code !== undefined || params.error !== undefined;
  } catch {
    return true;
  }
}

/** The callback's parameters and the pending login they name. */
interface Claimed {
  params: CallbackParams;
  tx: Transaction;
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

/** Step-ups that came back short (RFC 9470): the user is who they were, so their login stays. */
const shortStepUps = new WeakSet<object>();

/**
 * Whether a failed callback leaves the session's existing login as it was: a stray callback (see
 * isStrayCallback), or a login that came back without the authentication it asked for (403
 * `insufficient_user_authentication`). Every other failure of a login in progress ends it.
 */
export function keepsLogin(err: unknown): boolean {
  return isStrayCallback(err) || (typeof err === 'object' && err !== null && shortStepUps.has(err));
}

const STATE_MISMATCH =
  'The callback "state" matches no pending login in this session (unknown, expired or already used). ' +
  'Start the login again; if this repeats, check that the session cookie survives the redirect (SameSite=Lax, ' +
  'secure cookies behind a proxy need app.set("trust proxy", 1)).';

/**
 * The callback's parameters and the pending transaction its state names, removed from the session.
 * RFC 6749 §10.12, RFC 9700 §2.1: the state must name a pending transaction of this browser; it is removed
 * before anything else is checked, so a response can be used once only. Only this sign-in's transactions,
 * started for this redirect_uri: another mount's are unknown here.
 */
function claimTransaction(req: Request, signIn: string, redirectUri: string): Claimed {
  try {
    const params = parseCallbackParams(req.originalUrl ?? req.url);
    requireSession(req);
    if (params.state === undefined) {
      checkAuthorizationError(params); // a server error without state is still worth showing
      throw new CallbackError('state_missing', 'The callback has no "state": start the login again.');
    }
    const tx = takeTransaction(req, signIn, params.state, redirectUri);
    if (!tx) throw new CallbackError('state_mismatch', STATE_MISMATCH);
    return { params, tx };
  } catch (err) {
    if (typeof err === 'object' && err !== null) strayCallbacks.add(err);
    throw err;
  }
}

/** RFC 6749 §4.1.2.1; OpenID Connect Core §3.1.2.6: a silent login that needs the user is declined, not failed. */
function checkServerError(params: CallbackParams, tx: Transaction): void {
  try {
    checkAuthorizationError(params);
  } catch (err) {
    // The adapter brings the user of a silent attempt back to returnTo, anonymous.
    if (tx.silent && err instanceof CallbackError && err.code === 'login_required') {
      throw new SilentLoginDeclined(tx.returnTo, err);
    }
    throw err;
  }
}

const SHORT: Record<Shortfall, string> = {
  acr: 'The login that came back is not at the authentication level asked for (its "acr" is none of the acr_values).',
  max_age: 'The login that came back is not recent enough (its "auth_time" is older than the max_age asked for).',
};

/** 403 `insufficient_user_authentication`: the server did not step the login up (RFC 9470 §4); no loop, no login. */
function insufficient(shortfall: Shortfall): RequestError {
  const err = new RequestError('insufficient_user_authentication', SHORT[shortfall], { status: 403 });
  shortStepUps.add(err);
  return err;
}

/**
 * RFC 9470 §4: a login that asked for `acr_values` or `max_age` itself must bring them back. A `requiresAuth()`
 * step-up must also be the signed-in user's (as a refresh must, OpenID Connect Core §12.2): another user at
 * the server is refused, and the login in this session ends, since the person at the browser has just shown
 * the server they are someone else.
 */
function checkRequired(ctx: EngineContext, req: Request, tx: Transaction, claims: JWTPayload): void {
  const { required } = tx;
  if (!required) return;
  requireAuthTime(claims, required);
  const current = tx.stepUp ? readStoredLogin(req, ctx.signIn) : undefined;
  if (current && idTokenPayload(current).sub !== claims.sub) {
    const message = 'The step-up login is another user\'s than the signed-in one: the session is logged out.';
    throw new RequestError('step_up_user_mismatch', message, { status: 403 });
  }
  const shortfall = authenticationShortfall(claims, required, Math.floor(Date.now() / 1000), ctx.config.clockTolerance);
  if (shortfall) throw insufficient(shortfall);
}

async function redeemCallback(ctx: EngineContext, req: Request, options: CompleteLoginOptions): Promise<LoginResult> {
  const { config } = ctx;
  const redirectUri = redirectUriOption(options.redirectUri, 'redirectUri') ?? config.redirectUri;
  const { params, tx } = claimTransaction(req, ctx.signIn, redirectUri);
  const discovered = await ready(ctx);
  const { metadata } = discovered;
  checkIss(params, metadata.issuer, metadata.authorization_response_iss_parameter_supported === true);
  checkServerError(params, tx);
  if (!params.code) throw new CallbackError('code_missing', 'The callback has no "code".');
  // RFC 7636 §4.5: the verifier; RFC 6749 §4.1.3: the same redirect_uri
  const grant = authorizationCodeParameters(params.code, redirectUri, tx.codeVerifier);
  const { tokens, certificateBinding } = await tokenRequest(ctx, metadata, grant, tx.dpopJwk, true);
  checkGrantedTypes(tokens.authorization_details, tx.authorizationDetailsTypes); // RFC 9396 §7
  const expected = idTokenExpectations(ctx, discovered, tokens.access_token);
  expected.nonce = tx.nonce;
  // A max_age this login asked for itself is a requirement: checkRequired() answers a stale auth_time with 403.
  if (tx.maxAge !== undefined && tx.required?.maxAge === undefined) expected.maxAge = tx.maxAge;
  const claims = await validateIdToken(tokens.id_token, expected);
  ctx.idTokenAlgsSeen.add(String(decodeProtectedHeader(tokens.id_token).alg));
  checkRequired(ctx, req, tx, claims);
  log('login completed');
  return {
    tokens,
    claims: claims as LoginResult['claims'],
    returnTo: tx.returnTo,
    ...(tx.dpopJwk ? { dpopJwk: tx.dpopJwk } : {}),
    ...(certificateBinding ? { certificateBinding } : {}),
    ...(tx.stepUp ? { stepUp: true as const } : {}),
    ...(tx.authorizationDetailsTypes ? { authorizationDetailsTypes: tx.authorizationDetailsTypes } : {}),
    ...(tx.appState ? { appState: tx.appState } : {}),
  };
}

/**
 * Validates the authorization response and redeems the code; consumes the transaction. Every failed
 * callback is logged and reported as `callback.failed`, whichever adapter called.
 */
export async function completeLogin(
  ctx: EngineContext,
  req: Request,
  options: CompleteLoginOptions = {},
): Promise<LoginResult> {
  try {
    return await redeemCallback(ctx, req, options);
  } catch (err) {
    if (err instanceof SilentLoginDeclined) {
      log('silent login declined (%s): back to returnTo, anonymous', err.error ?? 'login_required');
      throw err;
    }
    const { code, status } = failureOf(err);
    log('callback failed: %s (%d)', code, status);
    emit(ctx, { type: 'callback.failed', code, status });
    throw err;
  }
}
