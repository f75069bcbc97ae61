/**
 * How to fix each finding of the provider report (provider-report.ts) and of the provider doctor
 * (engine/doctor.ts), pure: for any provider, the metadata field or the express-par option; for Auth0, the
 * Dashboard setting and where it is.
 *
 * The Auth0 facts come from Auth0's documentation (auth0.com/docs, as read in December 2026):
 * - "Configure Pushed Authorization Requests (PAR)": PAR needs an Enterprise plan with the Highly Regulated
 *   Identity add-on; the tenant allows it under Dashboard > Settings > Advanced > "Allow Pushed Authorization
 *   Requests (PAR)"; an application requires it under Applications > <app> > Application Settings >
 *   Authorization Requests > "Require Pushed Authorization Requests (PAR)" (Management API:
 *   `require_pushed_authorization_requests`).
 * - "Credential Settings": Applications > <app> > Credentials > Authentication Method (Private Key JWT,
 *   Client Secret (Basic), Client Secret (Post)); Private Key JWT keys under Available Credentials.
 * - "Configure Client for Sender Constraining": Applications > <app> > Settings > Token Sender-Constraining >
 *   "Require Sender Constraining" (`require_proof_of_possession`); DPoP is an Early Access feature.
 * - "Configure mTLS for a tenant": a custom domain of type `self_managed_certs`, and the tenant setting
 *   `mtls.enable_endpoint_aliases` (Management API, PATCH /api/v2/tenants/settings).
 * - "Application Settings": Application URIs > Allowed Callback URLs; Advanced Settings > Grant Types.
 */
import type { ResolvedConfig, ServerMetadata } from '../core/model.js';

/** What a finding is about; the fix depends on it. */
export type FindingId =
  // the metadata, against the configuration (provider-report.ts)
  | 'cleartext_endpoint'
  | 'par_endpoint_missing'
  | 'pkce_s256_missing'
  | 'auth_method_unsupported'
  | 'signing_alg_unsupported'
  | 'iss_parameter_missing'
  | 'dpop_not_advertised'
  | 'par_not_required'
  | 'mtls_alias_invalid'
  | 'mtls_aliases_missing'
  | 'mtls_bound_tokens_missing'
  | 'client_certificate'
  // reading the metadata and pushing a request (engine/doctor.ts): the error's code where there is one
  | 'discovery_failed'
  | 'issuer_mismatch'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'tls_failed'
  | 'client_authentication_failed'
  | 'redirect_uri_refused'
  | 'unauthorized_client'
  | 'push_refused'
  | 'par_response_invalid'
  | 'no_client';

/** A finding before its fix: what, and about which field or option. */
export interface Found {
  id: FindingId;
  message: string;
  /** The server metadata field concerned. */
  field?: string;
  /** The express-par option concerned. */
  option?: string;
}

/** What a fix may name besides the finding. */
export interface FixContext {
  config: ResolvedConfig;
  metadata?: ServerMetadata;
  auth0: boolean;
}

type Fix = (found: Found, ctx: FixContext) => string;

const APP = 'Applications → <your app>';
const PAR_PLAN = 'PAR needs an Enterprise plan with the Highly Regulated Identity add-on';

/** The values the server lists in `field`, for a message. */
function listed(ctx: FixContext, field: string | undefined): string {
  const list = field && ctx.metadata ? ctx.metadata[field] : undefined;
  return Array.isArray(list) && list.length > 0 ? list.join(', ') : 'none listed';
}

const authMethod: Fix = (found, ctx) => {
  const offered = listed(ctx, found.field);
  if (ctx.auth0) {
    return (
      `choose the application's method in ${APP} → Credentials → Authentication Method, and set ` +
      `clientAuthMethod (--auth-method) to the same; this tenant offers ${offered}`
    );
  }
  const method = ctx.config.clientAuthMethod;
  return `set clientAuthMethod (--auth-method) to one the server lists (${offered}), or enable "${method}" there`;
};

const signingAlg: Fix = (found, ctx) => {
  const offered = listed(ctx, found.field);
  if (ctx.auth0 && found.option === 'clientAssertionSigningAlg') {
    return (
      `register a key with an algorithm the tenant lists (${offered}) in ${APP} → Credentials → Available ` +
      'Credentials, and sign with it'
    );
  }
  return `use a key and algorithm (${found.option}) the server lists in ${found.field}: ${offered}`;
};

const clientAuthentication: Fix = (_found, ctx) => {
  const method = ctx.config.clientAuthMethod;
  const where = ctx.auth0 ? ` (${APP} → Credentials)` : '';
  if (method.startsWith('client_secret')) {
    return (
      "check that CLIENT_SECRET (--client-secret) is the client's current secret and that the server expects " +
      `${method}${where}`
    );
  }
  if (method === 'private_key_jwt') {
    const add = ctx.auth0 ? ` in ${APP} → Credentials → Private Key JWT → Add New Credential` : '';
    return (
      `register the public key of --client-assertion-key (clientAssertionSigningKey) for this client${add}, ` +
      'with the algorithm it signs with'
    );
  }
  if (method === 'none') return 'the server expects client authentication: give CLIENT_SECRET or a signing key';
  return `register the certificate of --tls-cert (tls.cert) for this client and ${method}${where}`;
};

const parEndpoint: Fix = (_found, ctx) =>
  ctx.auth0
    ? `${PAR_PLAN}; then turn it on for the tenant: Dashboard → Settings → Advanced → "Allow Pushed ` +
      'Authorization Requests (PAR)"'
    : 'turn on Pushed Authorization Requests (RFC 9126) at the server, so that its metadata advertises ' +
      'pushed_authorization_request_endpoint';

const dpop: Fix = (_found, ctx) =>
  ctx.auth0
    ? 'DPoP is an Early Access feature at Auth0: ask your Auth0 representative to turn it on for the tenant; ' +
      `${APP} → Settings → Token Sender-Constraining then requires it`
    : 'turn on DPoP (RFC 9449) at the server so that it lists dpop_signing_alg_values_supported, or set dpop: false';

const parRequired: Fix = (_found, ctx) =>
  ctx.auth0
    ? `require it for the application: ${APP} → Settings → Authorization Requests → "Require Pushed ` +
      'Authorization Requests (PAR)" (Management API: require_pushed_authorization_requests: true)'
    : 'require PAR for this client at the server (client metadata require_pushed_authorization_requests, ' +
      'RFC 9126 §6)';

const mtlsAliases: Fix = (_found, ctx) =>
  ctx.auth0
    ? "Auth0 serves mTLS on a custom domain of type self_managed_certs, with the tenant's endpoint aliases on " +
      '(Management API: PATCH /api/v2/tenants/settings { "mtls": { "enable_endpoint_aliases": true } })'
    : 'when the server asks for client certificates on separate hosts, it must publish them in ' +
      'mtls_endpoint_aliases';

const boundTokens: Fix = (_found, ctx) =>
  ctx.auth0
    ? `require sender constraining: ${APP} → Settings → Token Sender-Constraining → "Require Sender Constraining"`
    : 'turn on certificate-bound access tokens (tls_client_certificate_bound_access_tokens, RFC 8705 §3), ' +
      'or use dpop';

const FIXES: Record<FindingId, Fix> = {
  cleartext_endpoint: (found) =>
    `publish an https: URL as ${found.field} (http: works only between a loopback issuer and loopback endpoints)`,
  par_endpoint_missing: parEndpoint,
  pkce_s256_missing: () => 'turn on PKCE with S256 at the server (code_challenge_methods_supported must list S256)',
  auth_method_unsupported: authMethod,
  signing_alg_unsupported: signingAlg,
  iss_parameter_missing: () =>
    'turn on RFC 9207 at the server (authorization_response_iss_parameter_supported: true); until then, keep one ' +
    'redirect_uri per provider',
  dpop_not_advertised: dpop,
  par_not_required: parRequired,
  mtls_alias_invalid: () => 'publish https: URLs in mtls_endpoint_aliases (RFC 8705 §5)',
  mtls_aliases_missing: mtlsAliases,
  mtls_bound_tokens_missing: boundTokens,
  client_certificate: (_found, ctx) =>
    'renew the client certificate (tls.cert) and register the new one at the server' +
    (ctx.auth0 ? ` (${APP} → Credentials)` : ''),
  discovery_failed: (_found, ctx) =>
    'check --issuer (issuerBaseURL): the issuer whose /.well-known/openid-configuration answers' +
    (ctx.auth0 ? ' (https://<tenant>.<region>.auth0.com/ or your custom domain)' : ''),
  issuer_mismatch: () =>
    'give exactly the issuer that the metadata names as --issuer (issuerBaseURL), trailing slash aside',
  upstream_unreachable: () => 'check the host name, the network and any proxy between this machine and the server',
  upstream_timeout: () =>
    'the server did not answer within --timeout (httpTimeout): check the network, or allow more time',
  tls_failed: () =>
    "the server's certificate is not trusted here: add its root with NODE_EXTRA_CA_CERTS or --tls-ca (tls.ca)",
  client_authentication_failed: clientAuthentication,
  redirect_uri_refused: (_found, ctx) =>
    `register ${ctx.config.redirectUri} as a redirect URI of this client` +
    (ctx.auth0 ? ` (${APP} → Settings → Application URIs → Allowed Callback URLs)` : '') +
    ", or give the app's public URL as --base-url (baseURL)",
  unauthorized_client: (_found, ctx) =>
    'allow this client the authorization code grant' +
    (ctx.auth0 ? ` (${APP} → Settings → Advanced Settings → Grant Types → Authorization Code)` : ''),
  push_refused: () =>
    "see the server's error_description: express-par pushes response_type=code, PKCE (S256), state, nonce, " +
    'redirect_uri and your authorizationParams',
  par_response_invalid: () =>
    'the PAR endpoint must answer 201 with request_uri and a positive expires_in (RFC 9126 §2.2)',
  no_client: () =>
    'give --client-id and the credentials (CLIENT_ID, CLIENT_SECRET) to check the client authentication too',
};

/** How to fix `found`. */
export function fixFor(found: Found, ctx: FixContext): string {
  return FIXES[found.id](found, ctx);
}

/**
 * Auth0, so that the fixes name its Dashboard: a tenant domain (`*.auth0.com`), or a custom domain serving
 * Auth0's own endpoints (its metadata's `mfa_challenge_endpoint` at /mfa/challenge beside /oauth/token).
 */
export function isAuth0(metadata: Pick<ServerMetadata, 'issuer'> & Record<string, unknown>): boolean {
  const host = hostOf(metadata.issuer);
  if (host === 'auth0.com' || host?.endsWith('.auth0.com')) return true;
  const mfa = pathOf(metadata.mfa_challenge_endpoint);
  return mfa === '/mfa/challenge' && pathOf(metadata.token_endpoint) === '/oauth/token';
}

function hostOf(value: unknown): string | undefined {
  return typeof value === 'string' && URL.canParse(value) ? new URL(value).hostname.toLowerCase() : undefined;
}

function pathOf(value: unknown): string | undefined {
  return typeof value === 'string' && URL.canParse(value) ? new URL(value).pathname : undefined;
}
