/**
 * Mutual TLS (RFC 8705) as the protocol sees it, pure: the client authentication methods that are the
 * TLS connection (§2), the mTLS endpoint aliases (§5), what makes an access token certificate-bound (§3),
 * and what the server's metadata and the certificate lack. The `tls` option itself is checked by
 * config/tls.ts; its agent presents the certificate (net/agent.ts).
 */
import type { CertificateBinding, MtlsEndpointName, ResolvedTls, ServerMetadata } from '../core/model.js';
import type { Found } from './provider-fixes.js';

/** RFC 8705 §2: the client authentication methods that are the TLS connection itself. */
export const TLS_CLIENT_AUTH_METHODS = ['tls_client_auth', 'self_signed_tls_client_auth'] as const;

const MTLS_ENDPOINTS: MtlsEndpointName[] = [
  'token_endpoint', 'pushed_authorization_request_endpoint', 'userinfo_endpoint', 'revocation_endpoint',
  'introspection_endpoint',
];
const EXPIRY_NOTICE_MS = 14 * 24 * 3600 * 1000;

type Named = Record<string, unknown>;

/** What to warn about the certificate at `now`: expired, not yet valid, or expiring within 14 days. */
export function certificateWarnings(tls: Pick<ResolvedTls, 'validFrom' | 'validTo'>, now = Date.now()): string[] {
  const until = tls.validTo.toISOString();
  if (tls.validTo.getTime() <= now) {
    return [`the client certificate (tls.cert) expired on ${until}: the server will refuse it`];
  }
  if (tls.validFrom.getTime() > now) {
    return [`the client certificate (tls.cert) is not valid before ${tls.validFrom.toISOString()}`];
  }
  if (tls.validTo.getTime() - now < EXPIRY_NOTICE_MS) {
    return [`the client certificate (tls.cert) expires on ${until}: renew it and register the new one`];
  }
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
export function mtlsEndpoint(metadata: ServerMetadata, name: MtlsEndpointName, aliased: boolean): string | undefined {
  const plain = typeof metadata[name] === 'string' ? (metadata[name] as string) : undefined;
  if (!aliased) return plain;
  const aliases = metadata.mtls_endpoint_aliases;
  const alias = aliases !== null && typeof aliases === 'object' ? (aliases as Named)[name] : undefined;
  return isHttpsUrl(alias) ? alias : plain;
}

const ALIASES = 'mtls_endpoint_aliases';

/** RFC 8705 §5: aliases that are not https URLs (the certificate would go to the plain endpoint instead). */
function aliasProblems(aliases: unknown): Found[] {
  if (aliases === undefined) return [];
  const found = (message: string): Found => ({ id: 'mtls_alias_invalid', message, field: ALIASES });
  if (aliases === null || typeof aliases !== 'object' || Array.isArray(aliases)) {
    return [found('its mtls_endpoint_aliases is not an object (RFC 8705 §5)')];
  }
  const named = aliases as Named;
  const broken = MTLS_ENDPOINTS.filter((name) => named[name] !== undefined && !isHttpsUrl(named[name]));
  return broken.map((name) => found(`its mtls_endpoint_aliases.${name} is not an https URL (RFC 8705 §5)`));
}

/**
 * Pure: what the server's metadata lacks for the mTLS set-up. Aliases that are not https URLs are
 * problems (the certificate would go to the plain endpoint instead); under FAPI 2.0 with mTLS as the
 * sender constraint, the server must issue certificate-bound tokens (RFC 8705 §3.3 metadata). No aliases
 * at all, and a certificate about to expire, are warnings.
 */
export function assessMtls(
  config: { tls?: ResolvedTls; dpop: unknown; profile?: string },
  metadata: ServerMetadata,
): { problems: Found[]; warnings: Found[] } {
  if (!config.tls) return { problems: [], warnings: [] };
  const problems = aliasProblems(metadata.mtls_endpoint_aliases);
  if (config.profile === 'fapi2' && !config.dpop && metadata.tls_client_certificate_bound_access_tokens !== true) {
    const message =
      'it does not advertise tls_client_certificate_bound_access_tokens ' +
      '(FAPI 2.0 needs sender-constrained tokens: mTLS here, RFC 8705 §3)';
    problems.push({ id: 'mtls_bound_tokens_missing', message, field: 'tls_client_certificate_bound_access_tokens' });
  }
  const warnings = certificateWarnings(config.tls).map(
    (message): Found => ({ id: 'client_certificate', message, option: 'tls.cert' }),
  );
  if (metadata.mtls_endpoint_aliases === undefined) {
    const message =
      'it advertises no mtls_endpoint_aliases: the client certificate goes to the plain endpoints (RFC 8705 §5)';
    warnings.unshift({ id: 'mtls_aliases_missing', message, field: ALIASES });
  }
  return { problems, warnings };
}

/**
 * Pure: the binding of tokens just issued. They are certificate-bound when a certificate is configured,
 * the server issues certificate-bound tokens (§3.3 `tls_client_certificate_bound_access_tokens`), and
 * the token is not DPoP-bound (a token has one proof-of-possession mechanism).
 */
export function certificateBinding(
  tls: ResolvedTls | undefined,
  metadata: ServerMetadata,
  tokenType: string | undefined,
): CertificateBinding | undefined {
  if (!tls || metadata.tls_client_certificate_bound_access_tokens !== true) return undefined;
  if (tokenType !== undefined && tokenType.toLowerCase() !== 'bearer') return undefined;
  return { certificateBound: true, cnf: { 'x5t#S256': tls.x5tS256 } };
}
