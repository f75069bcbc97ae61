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
import { fixFor, isAuth0, type Found } from './provider-fixes.js';

/** One problem or warning, with how to fix it. */
export interface ProviderFinding {
  /** Stable name of the finding (docs/provider-doctor.md lists them), e.g. `par_endpoint_missing`. */
  id: string;
  /** What is wrong: the same text as in `problems` or `warnings`. */
  message: string;
  /** How to fix it: the metadata field or the option; for Auth0, the Dashboard setting and where it is. */
  fix: string;
  /** The server metadata field concerned. */
  field?: string;
  /** The express-par option concerned (`clientAuthMethod`, `dpop`, `tls.cert`, …). */
  option?: string;
}

export interface ProviderReport {
  issuer: string;
  /** What stops the login from working. */
  problems: string[];
  /** What works but is weaker than it could be. */
  warnings: string[];
  /** The problems and warnings again, in the same order, each with how to fix it. */
  findings: { problems: ProviderFinding[]; warnings: ProviderFinding[] };
  /** `auth0` when the server is an Auth0 tenant (its fixes then name the Dashboard settings). */
  provider?: 'auth0';
}

type Listed = (field: string, value: string) => boolean;

/** What the configured login needs of the server: PAR, S256, the client authentication and its algorithms. */
function loginProblems(config: ResolvedConfig, metadata: ServerMetadata, listed: Listed): Found[] {
  const problems: Found[] = [];
  if (!metadata.pushed_authorization_request_endpoint) {
    const message = 'it advertises no pushed_authorization_request_endpoint (RFC 9126 §5)';
    problems.push({ id: 'par_endpoint_missing', message, field: 'pushed_authorization_request_endpoint' });
  }
  if (!listed('code_challenge_methods_supported', 'S256')) {
    const message = 'its code_challenge_methods_supported lacks S256 (RFC 7636 §4.2)';
    problems.push({ id: 'pkce_s256_missing', message, field: 'code_challenge_methods_supported' });
  }
  const methods = 'token_endpoint_auth_methods_supported';
  if (!listed(methods, config.clientAuthMethod)) {
    const message = `its ${methods} lacks "${config.clientAuthMethod}" (clientAuthMethod)`;
    problems.push({ id: 'auth_method_unsupported', message, field: methods, option: 'clientAuthMethod' });
  }
  // resolveConfig sets clientAssertionAlg for private_key_jwt and client_secret_jwt only, dpopAlg only with DPoP.
  const algorithms: Array<[field: string, alg: string | undefined, option: string]> = [
    ['token_endpoint_auth_signing_alg_values_supported', config.clientAssertionAlg, 'clientAssertionSigningAlg'],
    ['dpop_signing_alg_values_supported', config.dpopAlg, 'dpop'],
    ['request_object_signing_alg_values_supported', config.requestObjectAlg, 'requestObjectSigningKey'],
  ];
  for (const [field, alg, option] of algorithms) {
    if (alg && !listed(field, alg)) {
      const message = `its ${field} lacks "${alg}" (${option})`;
      problems.push({ id: 'signing_alg_unsupported', message, field, option });
    }
  }
  return problems;
}

/** RFC 9207 and DPoP: problems under FAPI 2.0, warnings otherwise. */
function profileFindings(config: ResolvedConfig, metadata: ServerMetadata): { problems: Found[]; warnings: Found[] } {
  const fapi2 = config.profile === 'fapi2';
  const problems: Found[] = [];
  const warnings: Found[] = [];
  if (metadata.authorization_response_iss_parameter_supported !== true) {
    const message =
      'it does not advertise authorization_response_iss_parameter_supported (RFC 9207): ' +
      'mix-up protection relies on distinct redirect URIs';
    const field = 'authorization_response_iss_parameter_supported';
    (fapi2 ? problems : warnings).push({ id: 'iss_parameter_missing', message, field });
  }
  if (config.dpop && !metadata.dpop_signing_alg_values_supported) {
    const message = fapi2
      ? 'it advertises no dpop_signing_alg_values_supported (FAPI 2.0 needs sender-constrained tokens)'
      : 'it advertises no dpop_signing_alg_values_supported: it may ignore the DPoP proofs and issue Bearer ' +
        'tokens (dpop)';
    const field = 'dpop_signing_alg_values_supported';
    (fapi2 ? problems : warnings).push({ id: 'dpop_not_advertised', message, field, option: 'dpop' });
  }
  return { problems, warnings };
}

/** RFC 9126 §5, §6: a server that does not require PAR lets a login start without it, unless the client must. */
function parRequirement(metadata: ServerMetadata): Found[] {
  const required = metadata.require_pushed_authorization_requests === true;
  if (!metadata.pushed_authorization_request_endpoint || required) return [];
  const message =
    'its require_pushed_authorization_requests is not true: a login can also start at authorization_endpoint ' +
    'without PAR, unless this client requires PAR';
  return [{ id: 'par_not_required', message, field: 'require_pushed_authorization_requests' }];
}

/**
 * Pure: compares the metadata with the configuration. The one provider check: the engine runs it at the
 * first use (engine/context.ts `ready()`), `checkProvider()` and `npx express-par check` report it.
 */
export function assessProvider(config: ResolvedConfig, metadata: ServerMetadata): ProviderReport {
  const listed: Listed = (field, value) => {
    const list = metadata[field];
    return !Array.isArray(list) || list.includes(value); // not advertised: assume supported
  };
  const cleartext = cleartextEndpoints(metadata).map(
    (field): Found => ({
      id: 'cleartext_endpoint',
      message: `its ${field} is not https: (client credentials, codes and tokens would travel in the clear)`,
      field,
    }),
  );
  const profile = profileFindings(config, metadata);
  const mtls = assessMtls(config, metadata); // aliases, certificate-bound tokens, certificate expiry
  const login = loginProblems(config, metadata, listed);
  const problems = [...cleartext, ...login, ...profile.problems, ...mtls.problems];
  const warnings = [...profile.warnings, ...parRequirement(metadata), ...mtls.warnings];
  return reportOf(config, metadata, problems, warnings);
}

/** The report of what was found: the messages, and each finding with its fix. */
export function reportOf(
  config: ResolvedConfig,
  metadata: ServerMetadata,
  problems: Found[],
  warnings: Found[],
): ProviderReport {
  const auth0 = isAuth0(metadata);
  const withFix = (found: Found): ProviderFinding => ({ ...found, fix: fixFor(found, { config, metadata, auth0 }) });
  return {
    issuer: metadata.issuer,
    problems: problems.map((f) => f.message),
    warnings: warnings.map((f) => f.message),
    findings: { problems: problems.map(withFix), warnings: warnings.map(withFix) },
    ...(auth0 ? { provider: 'auth0' as const } : {}),
  };
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
