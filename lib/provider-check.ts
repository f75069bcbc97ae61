/**
 * Start-up self-check: what the authorization server lacks for the configured login, reported in one
 * readable error (PAR endpoint, S256, the client auth method, DPoP and request object algorithms).
 */
import type { ResolvedConfig } from './config.js';
import type { ServerMetadata } from './discovery.js';
import { UpstreamError } from './errors.js';

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
  if (config.profile === 'fapi2' && !metadata.dpop_signing_alg_values_supported) problems.push('it advertises no dpop_signing_alg_values_supported (FAPI 2.0 needs sender-constrained tokens)');
  return { issuer: metadata.issuer, problems, warnings };
}

/** Throws one error listing every problem; `par_not_supported` when PAR itself is missing. */
export function assertProviderReady(report: ProviderReport, metadata: ServerMetadata): void {
  if (report.problems.length === 0) return;
  const code = metadata.pushed_authorization_request_endpoint ? 'provider_unsupported' : 'par_not_supported';
  throw new UpstreamError(code, `The authorization server ${report.issuer} cannot be used as configured: ${report.problems.join('; ')}.`);
}
