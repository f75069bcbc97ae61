/**
 * TLS failures told apart from other network errors (RFC 8705 set-ups fail here first): an untrusted
 * server certificate, a client certificate the server refused or asked for. The message names the
 * OpenSSL code only, never certificate or key material.
 */
import type { TLSSocket } from 'node:tls';
import { UpstreamError } from '../core/errors.js';

/** OpenSSL's verification results for the server's certificate (as Node reports them in `err.code`). */
const UNTRUSTED_SERVER = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD', 'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
]);
/** TLS alerts by which a server turns a client certificate down (or asks for one). */
const REFUSED_ALERTS = [
  'BAD_CERTIFICATE', 'CERTIFICATE_REQUIRED', 'UNKNOWN_CA', 'CERTIFICATE_UNKNOWN', 'UNSUPPORTED_CERTIFICATE',
  'CERTIFICATE_EXPIRED', 'CERTIFICATE_REVOKED', 'ACCESS_DENIED', 'HANDSHAKE_FAILURE', 'DECRYPT_ERROR',
];
const REFUSED_CLIENT_CERT = new RegExp(`ALERT_(${REFUSED_ALERTS.join('|')})$`);

export interface FailedConnection {
  /** The request's socket, once it has one. */
  socket?: Pick<TLSSocket, 'authorized'> | null;
  /** Whether the socket had served an earlier request (keep-alive). */
  reusedSocket?: boolean;
  /** Whether a client certificate was presented. */
  clientCert: boolean;
  step: string;
  where: string;
}

/**
 * A `tls_failed` error when a request failed in TLS: the server's certificate is not trusted, the
 * server refused (or asked for) a client certificate, or, having accepted the handshake on a fresh
 * connection, the server hung up without a word (how Node and some proxies refuse a client certificate
 * under TLS 1.3). Undefined for other network errors. The message names the OpenSSL code only.
 */
export function tlsFailure(cause: unknown, conn: FailedConnection): UpstreamError | undefined {
  const rawCode = (cause as NodeJS.ErrnoException | undefined)?.code;
  const code = typeof rawCode === 'string' ? rawCode.replace(/[^A-Z0-9_]/gi, '').slice(0, 80) : '';
  const prefix = `TLS with the ${conn.step} (${conn.where}) failed`;
  const fixCert = conn.clientCert
    ? 'check that tls.cert is registered for this client (or issued by a CA the server trusts) and not expired'
    : 'the server wants a client certificate: configure tls';
  let message: string | undefined;
  if (UNTRUSTED_SERVER.has(code)) {
    const fix = 'If a private CA issued it, add that CA to tls.ca.';
    message = `${prefix}: the server certificate is not trusted (${code}). ${fix}`;
  } else if (REFUSED_CLIENT_CERT.test(code)) {
    message = `${prefix}: the server refused the TLS handshake (${code}); ${fixCert}.`;
  } else if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') {
    message = `${prefix} (${code}).`;
  } else if (code === 'ECONNRESET' && conn.clientCert && conn.socket?.authorized === true && !conn.reusedSocket) {
    const why = 'the server closed the connection right after the handshake without answering, which is how it ' +
      'refuses a client certificate';
    message = `${prefix}: ${why}; ${fixCert}.`;
  }
  if (message === undefined) return undefined;
  return new UpstreamError('tls_failed', message, { cause, details: { step: conn.step, endpoint: conn.where } });
}
