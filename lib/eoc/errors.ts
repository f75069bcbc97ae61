/**
 * express-openid-connect's exported error classes, for apps that test `err instanceof SessionExpiredError`
 * or `err.code` against `MtlsErrorCode` (without them the test itself would throw). express-par throws
 * neither: its errors are `ParError`s (`err.code`, `err.status`), and mTLS is configured with `tls`.
 */

/** EOC's error for an expired IdP session ceiling (`session_expiry`). Never thrown by express-par. */
export class SessionExpiredError extends Error {
  override readonly name = 'SessionExpiredError' as const;
  readonly code = 'ERR_SESSION_EXPIRED' as const;
  readonly status = 401 as const;
  readonly statusCode = 401 as const;
  constructor(message = 'The upstream IdP session has expired.') {
    super(message);
  }
}

/** EOC's mTLS configuration error codes. */
export const MtlsErrorCode = {
  MTLS_REQUIRES_CUSTOM_FETCH: 'mtls_requires_custom_fetch',
  MTLS_ENDPOINT_ALIASES_MISSING: 'mtls_endpoint_aliases_missing',
  MTLS_INCOMPATIBLE_CLIENT_AUTH: 'mtls_incompatible_client_auth',
} as const;

/** EOC's mTLS configuration error. Never thrown by express-par (a wrong `tls` option is a TypeError). */
export class MtlsError extends Error {
  override readonly name = 'MtlsError' as const;
  readonly code: (typeof MtlsErrorCode)[keyof typeof MtlsErrorCode];
  constructor(code: (typeof MtlsErrorCode)[keyof typeof MtlsErrorCode], message: string) {
    super(message);
    this.code = code;
  }
}
