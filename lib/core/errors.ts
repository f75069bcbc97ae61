/**
 * Runtime errors raised by express-par. Every error reaches Express through `next(err)` and carries a
 * stable `code`, an HTTP `status`, and (when the authorization server sent one) its OAuth `error` and
 * `error_description`. Messages never contain secrets, tokens or PKCE verifiers.
 *
 * Configuration mistakes are not `ParError`s: they throw `TypeError` from `parAuth()` at start-up.
 */

/** Stable error codes, documented in the README. */
export type ParErrorCode =
  // the browser's request is at fault (4xx)
  | 'state_missing'
  | 'state_mismatch'
  | 'callback_params_invalid'
  | 'iss_missing'
  | 'iss_mismatch'
  | 'code_missing'
  | 'access_denied'
  | 'authorization_error'
  | 'login_required'
  | 'access_token_rejected'
  | 'insufficient_claims'
  | 'step_up_required'
  | 'insufficient_user_authentication'
  | 'step_up_user_mismatch'
  | 'cross_site_login'
  // the application's setup is at fault (500)
  | 'session_unavailable'
  | 'middleware_missing'
  | 'session_save_failed'
  // the authorization server answered wrongly (502)
  | 'discovery_failed'
  | 'issuer_mismatch'
  | 'par_not_supported'
  | 'provider_unsupported'
  | 'par_failed'
  | 'par_response_invalid'
  | 'token_exchange_failed'
  | 'token_response_invalid'
  | 'id_token_invalid'
  | 'jwks_failed'
  | 'upstream_unreachable'
  | 'tls_failed'
  | 'upstream_response_too_large'
  | 'userinfo_failed'
  | 'userinfo_invalid'
  | 'access_token_audience_mismatch'
  | 'authorization_details_invalid'
  // the authorization server did not answer in time (504)
  | 'upstream_timeout';

export interface ParErrorDetails {
  /** OAuth error code sent by the authorization server, e.g. `invalid_client`. */
  error?: string;
  /** OAuth error description sent by the authorization server. */
  error_description?: string;
  /** HTTP status the authorization server answered with, when relevant. */
  upstreamStatus?: number;
  /** Non-secret context that helps diagnose the failure (endpoint, redirect_uri, client auth method). */
  details?: Record<string, string | number | boolean | undefined>;
  cause?: unknown;
}

/** Base class of every runtime error. */
export class ParError extends Error {
  override name = 'ParError';
  readonly code: ParErrorCode;
  readonly status: number;
  readonly error?: string;
  readonly error_description?: string;
  readonly upstreamStatus?: number;
  readonly details?: Record<string, string | number | boolean | undefined>;

  constructor(code: ParErrorCode, status: number, message: string, extra: ParErrorDetails = {}) {
    super(safeMessage(message), extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.status = status;
    if (extra.error !== undefined) this.error = extra.error;
    if (extra.error_description !== undefined) this.error_description = extra.error_description;
    if (extra.upstreamStatus !== undefined) this.upstreamStatus = extra.upstreamStatus;
    if (extra.details !== undefined) this.details = extra.details;
  }

  /** Express's default error handler reads `statusCode` too. */
  get statusCode(): number {
    return this.status;
  }

  /** Error handlers that expose errors to the client call this; keep it free of internals. */
  get expose(): boolean {
    return this.status < 500;
  }
}

/**
 * The browser's request is at fault: 4xx. A route that needs a login (`login_required`), a claim check
 * (`insufficient_claims`), a login another site started (`cross_site_login`), and, as `CallbackError`,
 * everything wrong with a callback.
 */
export class RequestError extends ParError {
  override name = 'RequestError';
  constructor(code: ParErrorCode, message: string, extra?: ParErrorDetails & { status?: number }) {
    super(code, extra?.status ?? 400, message, extra);
  }
}

/**
 * The browser's callback is at fault (state, iss, code, the server's error): a `RequestError`. Its first
 * name, kept for code written against it: `err instanceof CallbackError` holds for every RequestError
 * (as it did when CallbackError was the only 4xx class), and a CallbackError is a RequestError.
 */
export class CallbackError extends RequestError {
  override name = 'CallbackError';

  static [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses (SilentLoginDeclined) keep the ordinary test.
    if (this !== CallbackError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof RequestError;
  }
}

/**
 * RFC 9470: the user must authenticate again, more strongly (`acrValues`, any one of them) or more recently
 * (`maxAge` seconds), before this request can be served. 401 `step_up_required`, from `requiresAuth({ acrValues,
 * maxAge })` for a request that is no page load, and from `req.oidc.fetch()` when the API answers with the
 * RFC 9470 §3 challenge. `headers` carries that challenge (`WWW-Authenticate`), for error handlers that set
 * `err.headers` (Express's own does). Send the user through it with `res.oidc.login({ returnTo,
 * authorizationParams: { acr_values: err.acrValues.join(' '), max_age: err.maxAge } })`.
 */
export class StepUpRequiredError extends RequestError {
  override name = 'StepUpRequiredError';
  /** Acceptable `acr` values, most preferred first; empty when only a more recent login is asked for. */
  readonly acrValues: string[];
  /** Seconds since the last active authentication, when asked for. */
  readonly maxAge?: number;
  readonly headers: { 'WWW-Authenticate': string };

  constructor(message: string, required: { acrValues: string[]; maxAge?: number }, challenge: string) {
    super('step_up_required', message, { status: 401 });
    this.acrValues = [...required.acrValues];
    if (required.maxAge !== undefined) this.maxAge = required.maxAge;
    this.headers = { 'WWW-Authenticate': challenge };
  }
}

/** The application's setup is at fault at request time (e.g. no session middleware): 500. */
export class SetupError extends ParError {
  override name = 'SetupError';
  constructor(code: ParErrorCode, message: string, extra?: ParErrorDetails) {
    super(code, 500, message, extra);
  }
}

/** The authorization server answered wrongly: 502. */
export class UpstreamError extends ParError {
  override name = 'UpstreamError';
  constructor(code: ParErrorCode, message: string, extra?: ParErrorDetails) {
    super(code, 502, message, extra);
  }
}

/** The authorization server did not answer within `httpTimeout`: 504. */
export class UpstreamTimeoutError extends ParError {
  override name = 'UpstreamTimeoutError';
  constructor(message: string, extra?: ParErrorDetails) {
    super('upstream_timeout', 504, message, extra);
  }
}

/** The ID token failed validation (OpenID Connect Core §3.1.3.7): 502. */
export class IdTokenError extends UpstreamError {
  override name = 'IdTokenError';
  constructor(message: string, extra?: ParErrorDetails) {
    super('id_token_invalid', message, extra);
  }
}

/**
 * A silent login (`prompt=none`, attemptSilentLogin) that the server answered with "the user must
 * interact" (OpenID Connect Core §3.1.2.6). Not a failure: the Express adapter brings the user back to
 * `returnTo`, anonymous. Code `login_required`, 401, should it reach an error handler.
 */
export class SilentLoginDeclined extends CallbackError {
  override name = 'SilentLoginDeclined';
  readonly returnTo: string;
  constructor(returnTo: string, cause: CallbackError) {
    super('login_required', 'The silent login needs the user to interact; the user stays anonymous.', {
      status: 401,
      cause,
      ...(cause.error !== undefined ? { error: cause.error } : {}),
    });
    this.returnTo = returnTo;
  }
}

/** Control characters, including Unicode line separators and bidirectional overrides. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** Characters that start markup or leave an HTML attribute, a script string or a template literal. */
const MARKUP = /[<>"'&`]/g;

/**
 * Text that came from the browser or the authorization server (an `error_description`, an `iss`, a body),
 * made safe to quote in a message that an app may show (contract: "Error text is safe to show"):
 * printable ASCII only (RFC 6749 §5.2's character set), without markup characters, truncated.
 */
export function safeText(value: unknown, max = 300): string | undefined {
  if (typeof value !== 'string') return undefined;
  const cleaned = value.replace(/[^\x20-\x7e]/g, '?').replace(MARKUP, '?');
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}

/** RFC 6749 §5.2 / §4.1.2.1: an OAuth `error` is a code; anything outside `[A-Za-z0-9_.-]` is not one. */
export function oauthErrorCode(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,100}$/.test(value) ? value : undefined;
}

/**
 * The last line of defence for `err.message`: whatever a message quotes, it leaves with no markup
 * character and no control character. The library's own quotes become typographic ones.
 */
export function safeMessage(message: string): string {
  let open = true;
  return message
    .replace(CONTROL, ' ')
    .replace(/"/g, () => {
      open = !open;
      return open ? '\u201d' : '\u201c';
    })
    .replace(/'/g, '\u2019')
    .replace(/[<>&`]/g, '');
}
