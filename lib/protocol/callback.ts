/**
 * The authorization response at the callback (RFC 6749 §4.1.2, RFC 9207), read from the raw query
 * string so Express's query parser cannot turn a parameter into an array or object. Pure functions.
 */
import { CallbackError, oauthErrorCode, safeText } from '../core/errors.js';
import { rawQuery } from '../core/url.js';

export interface CallbackParams {
  state?: string;
  code?: string;
  iss?: string;
  error?: string;
  error_description?: string;
}

const SINGLE = ['state', 'code', 'iss', 'error', 'error_description'] as const;
const MAX_QUERY = 16 * 1024;

/** Parses `originalUrl`'s query; a repeated or over-long parameter is `callback_params_invalid`. */
export function parseCallbackParams(originalUrl: string): CallbackParams {
  const query = rawQuery(originalUrl);
  if (query.length > MAX_QUERY) {
    throw new CallbackError('callback_params_invalid', 'The callback query string is too long.');
  }
  let params: URLSearchParams;
  // Stryker disable all: URLSearchParams does not throw on a string today; the catch is kept in case it ever does
  try {
    params = new URLSearchParams(query);
  } catch {
    throw new CallbackError('callback_params_invalid', 'The callback query string could not be parsed.');
  }
  // Stryker restore all
  const out: CallbackParams = {};
  for (const name of SINGLE) {
    const values = params.getAll(name);
    // RFC 6749 §3.1: request and response parameters MUST NOT be included more than once.
    if (values.length > 1) {
      throw new CallbackError('callback_params_invalid', `The callback has more than one "${name}" parameter.`);
    }
    if (values.length === 1) out[name] = values[0]!;
  }
  return out;
}

/** RFC 9207 §2.4: compare `iss` exactly; require it when the server says it sends it. */
export function checkIss(params: CallbackParams, expectedIssuer: string, required: boolean): void {
  if (params.iss === undefined) {
    if (required) {
      const message =
        'The authorization response has no "iss" although the server advertises ' +
        'authorization_response_iss_parameter_supported (RFC 9207 §2.4).';
      throw new CallbackError('iss_missing', message);
    }
    return;
  }
  if (params.iss !== expectedIssuer) {
    // The received value is the browser's to choose: it is filtered before it is quoted.
    const received = safeText(params.iss, 200);
    const message = `The authorization response came from issuer "${received}", not "${expectedIssuer}"`;
    throw new CallbackError('iss_mismatch', `${message} (RFC 9207 §2.4; possible mix-up attack).`);
  }
}

/**
 * RFC 6749 §4.1.2.1: an `error` response becomes a 4xx CallbackError carrying the server's error. Anyone
 * can send a browser to the callback with any `error` and `error_description`, so the code is kept only
 * when it is a code (`[A-Za-z0-9_.-]`), and the description only filtered (no markup, printable ASCII).
 */
export function checkAuthorizationError(params: CallbackParams): void {
  if (params.error === undefined) return;
  const error = oauthErrorCode(params.error);
  const description = safeText(params.error_description);
  const extra = { ...(error ? { error } : {}), ...(description ? { error_description: description } : {}) };
  const text = `${error ?? 'an error code that is not a valid OAuth code'}${description ? `: ${description}` : ''}`;
  if (error === 'access_denied') {
    const message = `The user or the server denied the login (${text}).`;
    throw new CallbackError('access_denied', message, { ...extra, status: 403 });
  }
  // Stryker disable next-line ConditionalExpression: the undefined check is for the type; includes(undefined) is false
  if (error !== undefined && INTERACTION_REQUIRED.includes(error)) {
    const message = `The server needs the user to interact (${text}).`;
    throw new CallbackError('login_required', message, { ...extra, status: 401 });
  }
  throw new CallbackError('authorization_error', `The authorization server returned an error (${text}).`, extra);
}

/** OpenID Connect Core §3.1.2.6: the errors that mean "the user must interact" (prompt=none failed). */
export const INTERACTION_REQUIRED = [
  'login_required', 'consent_required', 'interaction_required', 'account_selection_required',
];
