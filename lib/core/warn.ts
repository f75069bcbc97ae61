/**
 * Start-up warnings, printed without `DEBUG`: `process.emitWarning` with a stable code, so Node prints each
 * once to stderr (`(node:…) [EXPRESS_PAR_…] ExpressParWarning: …`), `process.on('warning')` can route it
 * to a logger, and `--no-warnings` silences it. Messages never carry a secret, token or key.
 */

/** The warnings express-par gives, one code each. */
export type WarningCode =
  /** The start-up self-check of the provider failed: logins will fail until it is fixed. */
  | 'EXPRESS_PAR_PROVIDER_NOT_READY'
  /** The `tls` client certificate has expired, is not valid yet, or expires within 14 days. */
  | 'EXPRESS_PAR_CLIENT_CERTIFICATE'
  /** `baseURL` is `http:` off loopback: the session cookie and the callback travel in the clear. */
  | 'EXPRESS_PAR_CLEARTEXT_BASE_URL'
  /** express-session is missing, mounted after parAuth(), or not express-session. */
  | 'EXPRESS_PAR_SESSION_SETUP';

export type Warn = (code: WarningCode, message: string) => void;

/** The `type` of every warning express-par emits. */
export const WARNING_TYPE = 'ExpressParWarning';

/** A warn function that gives each code at most once (one per `parAuth()` / `ParStrategy`). */
export function createWarnOnce(): Warn {
  const given = new Set<WarningCode>();
  return (code, message) => {
    if (given.has(code)) return;
    given.add(code);
    process.emitWarning(message, { type: WARNING_TYPE, code });
  };
}
