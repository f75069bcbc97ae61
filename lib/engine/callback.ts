/**
 * Completing a login at the callback (RFC 6749 §4.1.2, RFC 9207, OpenID Connect Core §3.1.3): the
 * pending transaction its `state` names (taken before anything is compared: single use), the `iss`
 * check, the server's error, the code exchange and the ID token.
 */
import type { Request } from 'express';
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import { CallbackError, SilentLoginDeclined } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { CertificateBinding, Transaction } from '../core/model.js';
import type { TokenSet } from '../core/types.js';
import { redirectUriOption } from '../config/routes.js';
import { checkAuthorizationError, checkIss, parseCallbackParams, type CallbackParams } from '../protocol/callback.js';
import { validateIdToken } from '../protocol/id-token.js';
import { authorizationCodeParameters } from '../protocol/token.js';
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
  const expected = idTokenExpectations(ctx, discovered, tokens.access_token);
  expected.nonce = tx.nonce;
  if (tx.maxAge !== undefined) expected.maxAge = tx.maxAge;
  const claims = await validateIdToken(tokens.id_token, expected);
  ctx.idTokenAlgsSeen.add(String(decodeProtectedHeader(tokens.id_token).alg));
  log('login completed');
  return {
    tokens,
    claims: claims as LoginResult['claims'],
    returnTo: tx.returnTo,
    ...(tx.dpopJwk ? { dpopJwk: tx.dpopJwk } : {}),
    ...(certificateBinding ? { certificateBinding } : {}),
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
