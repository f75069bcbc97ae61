/**
 * The provider report, pure: what the authorization server's metadata lacks for the configured login
 * (PAR endpoint, S256, the client auth method, DPoP and request object algorithms, https endpoints, the
 * mTLS set-up), reported in one readable error. The engine runs it on first use (engine/context.ts
 * `ready()`); `checkProvider()` runs it on its own (engine/check-provider.ts).
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

type Listed = (field: string, value: string) => boolean;

/** What the configured login needs of the server: PAR, S256, the client authentication and its algorithms. */
function loginProblems(config: ResolvedConfig, metadata: ServerMetadata, listed: Listed): string[] {
  const problems: string[] = [];
  if (!metadata.pushed_authorization_request_endpoint) {
    problems.push('it advertises no pushed_authorization_request_endpoint (RFC 9126 §5)');
  }
  if (!listed('code_challenge_methods_supported', 'S256')) {
    problems.push('its code_challenge_methods_supported lacks S256 (RFC 7636 §4.2)');
  }
  if (!listed('token_endpoint_auth_methods_supported', config.clientAuthMethod)) {
    problems.push(`its token_endpoint_auth_methods_supported lacks "${config.clientAuthMethod}" (clientAuthMethod)`);
  }
  // resolveConfig sets clientAssertionAlg for private_key_jwt and client_secret_jwt only, dpopAlg only with DPoP.
  const algorithms: Array<[field: string, alg: string | undefined, option: string]> = [
    ['token_endpoint_auth_signing_alg_values_supported', config.clientAssertionAlg, 'clientAssertionSigningAlg'],
    ['dpop_signing_alg_values_supported', config.dpopAlg, 'dpop'],
    ['request_object_signing_alg_values_supported', config.requestObjectAlg, 'requestObjectSigningKey'],
  ];
  for (const [field, alg, option] of algorithms) {
    if (alg && !listed(field, alg)) problems.push(`its ${field} lacks "${alg}" (${option})`);
  }
  return problems;
}

/** Pure: compares the metadata with the configuration. */
export function assessProvider(config: ResolvedConfig, metadata: ServerMetadata): ProviderReport {
  const listed: Listed = (field, value) => {
    const list = metadata[field];
    return !Array.isArray(list) || list.includes(value); // not advertised: assume supported
  };
  const cleartext = cleartextEndpoints(metadata).map(
    (field) => `its ${field} is not https: (client credentials, codes and tokens would travel in the clear)`,
  );
  const problems = [...cleartext, ...loginProblems(config, metadata, listed)];
  const warnings: string[] = [];
  if (metadata.authorization_response_iss_parameter_supported !== true) {
    const message =
      'it does not advertise authorization_response_iss_parameter_supported (RFC 9207): ' +
      'mix-up protection relies on distinct redirect URIs';
    (config.profile === 'fapi2' ? problems : warnings).push(message);
  }
  if (config.profile === 'fapi2' && config.dpop && !metadata.dpop_signing_alg_values_supported) {
    problems.push('it advertises no dpop_signing_alg_values_supported (FAPI 2.0 needs sender-constrained tokens)');
  }
  const mtls = assessMtls(config, metadata); // aliases, certificate-bound tokens, certificate expiry
  problems.push(...mtls.problems);
  warnings.push(...mtls.warnings);
  return { issuer: metadata.issuer, problems, warnings };
}

/** Throws one error listing every problem; `par_not_supported` when PAR itself is missing. */
export function assertProviderReady(report: ProviderReport, metadata: ServerMetadata): void {
  if (report.problems.length === 0) return;
  const code = metadata.pushed_authorization_request_endpoint ? 'provider_unsupported' : 'par_not_supported';
  const problems = report.problems.join('; ');
  throw new UpstreamError(code, `The authorization server ${report.issuer} cannot be used as configured: ${problems}.`);
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
  return found; // mtls_endpoint_aliases (used only with a client certificate) are checked in mtls.ts
}

function isHttpLoopback(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}
