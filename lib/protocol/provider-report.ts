/**
 * Start-up self-check: what the authorization server lacks for the configured login, reported in one
 * readable error (PAR endpoint, S256, the client auth method, DPoP and request object algorithms).
 */
import type { ResolvedConfig, ServerMetadata } from '../core/model.js';
import { isLoopbackHost } from '../core/url.js';
import { UpstreamError } from '../core/errors.js';
import { assessMtls } from './mtls.js';

export interface ProviderReport {
  issuer: string;
  /** What stops the login from working. */
  problems: string[];
  /** What works but is weaker than it could be. */
  warnings: string[];
}

/** Pure: compares the metadata with the configuration. */
export function assessProvider(config: ResolvedConfig, metadata: ServerMetadata): ProviderReport {
  const problems: string[] = [];
  const warnings: string[] = [];
  const listed = (field: string, value: string) => {
    const list = metadata[field];
    return !Array.isArray(list) || list.includes(value); // not advertised: assume supported
  };
  for (const field of cleartextEndpoints(metadata)) {
    problems.push(`its ${field} is not https: (client credentials, codes and tokens would travel in the clear)`);
  }
  if (!metadata.pushed_authorization_request_endpoint) problems.push('it advertises no pushed_authorization_request_endpoint (RFC 9126 §5)');
  if (!listed('code_challenge_methods_supported', 'S256')) problems.push('its code_challenge_methods_supported lacks S256 (RFC 7636 §4.2)');
  if (!listed('token_endpoint_auth_methods_supported', config.clientAuthMethod)) {
    problems.push(`its token_endpoint_auth_methods_supported lacks "${config.clientAuthMethod}" (clientAuthMethod)`);
  }
  // resolveConfig sets clientAssertionAlg for private_key_jwt and client_secret_jwt only, dpopAlg only with DPoP.
  if (config.clientAssertionAlg && !listed('token_endpoint_auth_signing_alg_values_supported', config.clientAssertionAlg)) {
    problems.push(`its token_endpoint_auth_signing_alg_values_supported lacks "${config.clientAssertionAlg}" (clientAssertionSigningAlg)`);
  }
  if (config.dpopAlg && !listed('dpop_signing_alg_values_supported', config.dpopAlg)) {
    problems.push(`its dpop_signing_alg_values_supported lacks "${config.dpopAlg}" (dpop)`);
  }
  if (config.requestObjectAlg && !listed('request_object_signing_alg_values_supported', config.requestObjectAlg)) {
    problems.push(`its request_object_signing_alg_values_supported lacks "${config.requestObjectAlg}" (requestObjectSigningKey)`);
  }
  if (metadata.authorization_response_iss_parameter_supported !== true) {
    const msg = 'it does not advertise authorization_response_iss_parameter_supported (RFC 9207): mix-up protection relies on distinct redirect URIs';
    (config.profile === 'fapi2' ? problems : warnings).push(msg);
  }
  if (config.profile === 'fapi2' && config.dpop && !metadata.dpop_signing_alg_values_supported) problems.push('it advertises no dpop_signing_alg_values_supported (FAPI 2.0 needs sender-constrained tokens)');
  const mtls = assessMtls(config, metadata); // aliases, certificate-bound tokens, certificate expiry
  return { issuer: metadata.issuer, problems: [...problems, ...mtls.problems], warnings: [...warnings, ...mtls.warnings] };
}

/** Throws one error listing every problem; `par_not_supported` when PAR itself is missing. */
export function assertProviderReady(report: ProviderReport, metadata: ServerMetadata): void {
  if (report.problems.length === 0) return;
  const code = metadata.pushed_authorization_request_endpoint ? 'provider_unsupported' : 'par_not_supported';
  throw new UpstreamError(code, `The authorization server ${report.issuer} cannot be used as configured: ${report.problems.join('; ')}.`);
}

/** Endpoints that receive client credentials, codes, tokens or the browser. */
const ENDPOINT_FIELDS = [
  'authorization_endpoint', 'token_endpoint', 'pushed_authorization_request_endpoint', 'userinfo_endpoint', 'jwks_uri',
  'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint',
] as const;

/**
 * Pure: the metadata endpoint fields (RFC 8414 §2) whose URL is not https.
 * RFC 6749 §3.1, §3.2 and RFC 9126 §2 require TLS for these endpoints; plain http is allowed only for a
 * loopback issuer (development) talking to loopback endpoints.
 */
export function cleartextEndpoints(metadata: ServerMetadata): string[] {
  const devIssuer = isHttpLoopback(metadata.issuer);
  const found: string[] = [];
  const check = (field: string, value: unknown) => {
    if (typeof value !== 'string') return;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return; // malformed URLs are discovery's to refuse
    }
    if (url.protocol === 'https:' || (devIssuer && isHttpLoopback(value))) return;
    found.push(field);
  };
  for (const field of ENDPOINT_FIELDS) check(field, metadata[field]);
  return found; // mtls_endpoint_aliases (used only with a client certificate) are checked in tls.ts
}

function isHttpLoopback(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}
