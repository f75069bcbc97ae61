/**
 * Mutual TLS (RFC 8705): the `tls` option (client certificate, key and extra trusted roots) checked at
 * start-up; the keep-alive `https.Agent` that presents the certificate on every connection to the
 * authorization server; the mTLS endpoint aliases (§5); and what makes an access token certificate-bound
 * (§3). Key and certificate material never reaches a message or a log.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import * as nodeTls from 'node:tls';
import { fail } from '../core/assert.js';
import type { CertificateBinding, MtlsEndpointName, ResolvedTls, ServerMetadata } from '../core/model.js';
import type { TlsOptions } from '../core/types.js';
import { clientCertificateAgent } from '../net/agent.js';

/** RFC 8705 §2: the client authentication methods that are the TLS connection itself. */
export const TLS_CLIENT_AUTH_METHODS = ['tls_client_auth', 'self_signed_tls_client_auth'] as const;

const MTLS_ENDPOINTS: MtlsEndpointName[] = ['token_endpoint', 'pushed_authorization_request_endpoint', 'userinfo_endpoint', 'revocation_endpoint', 'introspection_endpoint'];
const TLS_KEYS = new Set(['cert', 'key', 'ca']);
const EXPIRY_NOTICE_MS = 14 * 24 * 3600 * 1000;

function pemText(value: unknown, option: string, kind: string): string {
  const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  if (text === undefined || !text.includes('-----BEGIN ')) fail(`"${option}" must be ${kind} in PEM form (a string or Buffer)`);
  return text;
}

function certificate(value: unknown, option: string): X509Certificate {
  const text = pemText(value, option, 'a certificate');
  try {
    return new X509Certificate(text);
  } catch {
    // Never echo the input: say what is wrong, not what was given.
    return fail(`"${option}" must be a certificate in PEM form (-----BEGIN CERTIFICATE-----)`);
  }
}

function privateKey(value: unknown): KeyObject {
  const text = pemText(value, 'tls.key', 'a private key');
  try {
    return createPrivateKey(text);
  } catch {
    return fail('"tls.key" must be an unencrypted private key in PEM form (PKCS#8, PKCS#1 or SEC1)');
  }
}

/** Each PEM certificate in `value` (a string, a Buffer, or an array of them); throws naming `tls.ca`. */
function caCertificates(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fail('"tls.ca" must hold at least one certificate in PEM form');
  const out: string[] = [];
  for (const item of list) {
    const text = pemText(item, 'tls.ca', 'one or more certificates');
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!blocks) fail('"tls.ca" must hold certificates in PEM form (-----BEGIN CERTIFICATE-----)');
    for (const block of blocks) {
      certificate(block, 'tls.ca');
      out.push(block);
    }
  }
  return out;
}

/** The roots Node trusts by default: with NODE_EXTRA_CA_CERTS where Node can say so (22.15+), else its bundle. */
function defaultRoots(): readonly string[] {
  const getCACertificates = (nodeTls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  return getCACertificates ? getCACertificates('default') : nodeTls.rootCertificates;
}

/**
 * Checks the `tls` option and builds its agent; throws a `TypeError` naming `tls` (never quoting it) when
 * the certificate or key is not PEM, or the key is not the certificate's.
 */
export function resolveTls(value: unknown): ResolvedTls | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('"tls" must be an object { cert, key, ca? } of PEM strings or Buffers');
  for (const key of Object.keys(value)) {
    if (!TLS_KEYS.has(key)) fail(`"tls.${key}" is not an express-par option (tls takes cert, key and ca)`);
  }
  const options = value as Partial<TlsOptions>;
  if (options.cert === undefined) fail('"tls.cert" is required: the client certificate in PEM form');
  if (options.key === undefined) fail('"tls.key" is required: the private key of "tls.cert" in PEM form');
  const cert = certificate(options.cert, 'tls.cert');
  const key = privateKey(options.key);
  if (!cert.checkPrivateKey(key)) fail('"tls.key" does not match "tls.cert": give the private key of that certificate');
  // Node's `ca` replaces the default roots; the contract adds to them.
  const ca = options.ca === undefined ? undefined : [...defaultRoots(), ...caCertificates(options.ca)];
  const agent = clientCertificateAgent({ cert: options.cert, key: options.key, ...(ca ? { ca } : {}) });
  return {
    agent,
    x5tS256: Buffer.from(cert.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url'),
    validFrom: new Date(cert.validFrom),
    validTo: new Date(cert.validTo),
  };
}

/** What to warn about the certificate at `now`: expired, not yet valid, or expiring within 14 days. */
export function certificateWarnings(tls: Pick<ResolvedTls, 'validFrom' | 'validTo'>, now = Date.now()): string[] {
  const until = tls.validTo.toISOString();
  if (tls.validTo.getTime() <= now) return [`the client certificate (tls.cert) expired on ${until}: the server will refuse it`];
  if (tls.validFrom.getTime() > now) return [`the client certificate (tls.cert) is not valid before ${tls.validFrom.toISOString()}`];
  if (tls.validTo.getTime() - now < EXPIRY_NOTICE_MS) return [`the client certificate (tls.cert) expires on ${until}: renew it and register the new one`];
  return [];
}

function isHttpsUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Pure: the URL to call for `name`. RFC 8705 §5: a client that uses mutual TLS (a certificate is
 * configured) calls the endpoint's `mtls_endpoint_aliases` entry when the server advertises one; any
 * other client, or an endpoint without an (https) alias, uses the plain metadata value.
 */
export function mtlsEndpoint(metadata: ServerMetadata, name: MtlsEndpointName, useAliases: boolean): string | undefined {
  const plain = typeof metadata[name] === 'string' ? (metadata[name] as string) : undefined;
  if (!useAliases) return plain;
  const aliases = metadata.mtls_endpoint_aliases;
  const alias = aliases !== null && typeof aliases === 'object' ? (aliases as Record<string, unknown>)[name] : undefined;
  return isHttpsUrl(alias) ? alias : plain;
}

/**
 * Pure: what the server's metadata lacks for the mTLS set-up. Aliases that are not https URLs are
 * problems (the certificate would go to the plain endpoint instead); under FAPI 2.0 with mTLS as the
 * sender constraint, the server must issue certificate-bound tokens (RFC 8705 §3.3 metadata).
 */
export function assessMtls(config: { tls?: ResolvedTls; dpop: unknown; profile?: string }, metadata: ServerMetadata): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  if (!config.tls) return { problems, warnings: [] };
  const aliases = metadata.mtls_endpoint_aliases;
  if (aliases !== undefined) {
    if (aliases === null || typeof aliases !== 'object' || Array.isArray(aliases)) problems.push('its mtls_endpoint_aliases is not an object (RFC 8705 §5)');
    else {
      for (const name of MTLS_ENDPOINTS) {
        const alias = (aliases as Record<string, unknown>)[name];
        if (alias !== undefined && !isHttpsUrl(alias)) problems.push(`its mtls_endpoint_aliases.${name} is not an https URL (RFC 8705 §5)`);
      }
    }
  }
  if (config.profile === 'fapi2' && !config.dpop && metadata.tls_client_certificate_bound_access_tokens !== true) {
    problems.push('it does not advertise tls_client_certificate_bound_access_tokens (FAPI 2.0 needs sender-constrained tokens: mTLS here, RFC 8705 §3)');
  }
  return { problems, warnings: certificateWarnings(config.tls) };
}

/**
 * Pure: the binding of tokens just issued. They are certificate-bound when a certificate is configured,
 * the server issues certificate-bound tokens (§3.3 `tls_client_certificate_bound_access_tokens`), and
 * the token is not DPoP-bound (a token has one proof-of-possession mechanism).
 */
export function certificateBinding(tls: ResolvedTls | undefined, metadata: ServerMetadata, tokenType: string | undefined): CertificateBinding | undefined {
  if (!tls || metadata.tls_client_certificate_bound_access_tokens !== true) return undefined;
  if (tokenType !== undefined && tokenType.toLowerCase() !== 'bearer') return undefined;
  return { certificateBound: true, cnf: { 'x5t#S256': tls.x5tS256 } };
}
