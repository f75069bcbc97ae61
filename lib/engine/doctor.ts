/**
 * The provider doctor's diagnosis (`npx express-par check`, cli/): the metadata, read by the engine's own
 * discovery; the provider report, from the same assessProvider() the engine runs at first use; then, given
 * a client, one pushed authorization request (RFC 9126 §2) with the client authentication, which a 201
 * proves. The request_uri it gets is never used: no login follows, nothing is stored.
 */
import { ParError } from '../core/errors.js';
import type { ResolvedConfig, ServerMetadata } from '../core/model.js';
import { createLogger } from '../core/log.js';
import { fixFor, isAuth0, type FindingId, type Found } from '../protocol/provider-fixes.js';
import { assessProvider, type ProviderFinding } from '../protocol/provider-report.js';
import { createContext, type EngineContext } from './context.js';
import { loginDpopKey, newTransaction, pushAuthorizationRequest } from './login.js';

const log = createLogger('doctor');

export interface Diagnosis {
  /** True when nothing stops a login: no problem (warnings allowed). */
  ok: boolean;
  issuer: string;
  /** `auth0` when the server is an Auth0 tenant. */
  provider?: 'auth0';
  /** What was checked and passed, in order, for people to read. */
  passed: string[];
  problems: ProviderFinding[];
  warnings: ProviderFinding[];
  /** The pushed request's lifetime, when the push was made and answered 201. */
  pushed?: { expires_in: number };
}

export interface DiagnoseOptions {
  /** Push one authorization request with the client's credentials (a client was given). */
  push: boolean;
}

/** The ParError codes that name a finding of their own (the rest of a failed push is `push_refused`). */
const TRANSPORT_CODES: ReadonlySet<string> = new Set<FindingId>([
  'discovery_failed', 'issuer_mismatch', 'upstream_unreachable', 'upstream_timeout', 'tls_failed',
  'par_response_invalid',
]);

/** What a failed discovery or push says, as a finding. */
function foundOf(err: unknown, ctx: EngineContext): Found {
  if (!(err instanceof ParError)) {
    // Only the error's name: an unexpected error's message is not known to be free of secrets.
    const name = err instanceof Error ? err.name : 'error';
    log('unexpected failure: %s', name);
    return { id: 'push_refused', message: `the check failed unexpectedly (${name})` };
  }
  if (TRANSPORT_CODES.has(err.code)) return { id: err.code as FindingId, message: err.message };
  const { clientAuthMethod, redirectUri } = ctx.config;
  const described = err.error ? `${err.error}${err.error_description ? `: ${err.error_description}` : ''}` : undefined;
  if (err.error === 'invalid_client') {
    const message = `the PAR endpoint refused the client authentication (${clientAuthMethod}): ${described}`;
    return { id: 'client_authentication_failed', message, option: 'clientAuthMethod' };
  }
  if (err.error === 'unauthorized_client') {
    return { id: 'unauthorized_client', message: `the PAR endpoint answered ${described}` };
  }
  if (/redirect_uri|callback url/i.test(`${err.error ?? ''} ${err.error_description ?? ''}`)) {
    const message = `the PAR endpoint refused redirect_uri ${redirectUri} (${described})`;
    return { id: 'redirect_uri_refused', message };
  }
  return { id: 'push_refused', message: err.message };
}

/** One authorization request pushed as a login would push it; its request_uri is dropped. */
async function push(ctx: EngineContext, metadata: ServerMetadata): Promise<number> {
  const params = ctx.config.authorizationParams;
  const tx = newTransaction(ctx, params, {});
  const key = await loginDpopKey(ctx, tx);
  return (await pushAuthorizationRequest(ctx, tx, params, metadata, key)).expires_in;
}

/** Reads the metadata, reports on it, and (with `push`) proves the client authentication at the PAR endpoint. */
export async function diagnoseProvider(config: ResolvedConfig, options: DiagnoseOptions): Promise<Diagnosis> {
  const ctx = createContext(config);
  const passed: string[] = [];
  let metadata: ServerMetadata;
  try {
    metadata = (await ctx.discovery()).metadata;
  } catch (err) {
    const found = foundOf(err, ctx);
    return { ok: false, issuer: config.issuer, passed, problems: [withFix(found, ctx)], warnings: [] };
  }
  const report = assessProvider(config, metadata);
  const par = metadata.pushed_authorization_request_endpoint;
  passed.push(`metadata read${par ? `; PAR endpoint ${par}` : ''}`);
  const problems = [...report.findings.problems];
  const warnings = [...report.findings.warnings];
  let pushed: Diagnosis['pushed'];
  if (options.push && par) {
    try {
      pushed = { expires_in: await push(ctx, metadata) };
      passed.push(
        `client authentication (${config.clientAuthMethod}) works: the PAR endpoint answered 201, ` +
          `request_uri valid for ${pushed.expires_in} s (not used)`,
      );
    } catch (err) {
      problems.push(withFix(foundOf(err, ctx), ctx, metadata));
    }
  } else if (!options.push) {
    const found: Found = { id: 'no_client', message: 'no client given: the client authentication was not tried' };
    warnings.push(withFix(found, ctx, metadata));
  }
  return {
    ok: problems.length === 0,
    issuer: report.issuer,
    ...(report.provider ? { provider: report.provider } : {}),
    passed, problems, warnings,
    ...(pushed ? { pushed } : {}),
  };
}

function withFix(found: Found, ctx: EngineContext, metadata?: ServerMetadata): ProviderFinding {
  const auth0 = isAuth0(metadata ?? { issuer: ctx.config.issuer });
  return { ...found, fix: fixFor(found, { config: ctx.config, ...(metadata ? { metadata } : {}), auth0 }) };
}
