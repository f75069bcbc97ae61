/**
 * The state of one `parAuth()` / `ParStrategy` (openid-client's `Configuration` idea): the resolved
 * configuration, how its requests reach the server, its discovery cache and self-check, its sign-in key,
 * its DPoP keys and nonces, and its events. Made once by createEngine(); every step function (login,
 * callback, tokens, logout, userinfo) takes it as its first argument.
 */
import { ParError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { createWarnOnce, type Warn } from '../core/warn.js';
import type { Discovered, MtlsEndpointName, ResolvedConfig, ServerMetadata, Transaction } from '../core/model.js';
import type { ParEvent } from '../core/types.js';
import type { HttpResponse, Transport } from '../net/http.js';
import { createDiscovery, type Discovery } from '../protocol/discovery.js';
import { dpopKeyFromJwk, dpopKeyFromKeyObject, DpopNonces, type DpopBinding, type DpopKey } from '../protocol/dpop.js';
import { postToEndpoint } from '../protocol/endpoint.js';
import { mtlsEndpoint } from '../protocol/mtls.js';
import { assertProviderReady, assessProvider, type ProviderReport } from '../protocol/provider-report.js';
import { signInKey } from '../state/layout.js';
import type { StoredLogin } from '../state/login.js';

const log = createLogger('engine');

/** The discovered metadata and key set, with the self-check's report. */
export type Ready = Discovered & { report: ProviderReport };

export interface EngineContext {
  readonly config: ResolvedConfig;
  /** How every request of this configuration reaches the server: `httpTimeout` and, with `tls`, its agent. */
  readonly transport: Transport;
  readonly discovery: Discovery;
  /** This sign-in's key in the session (contract, "Several sign-ins on one app": bound to issuer and client). */
  readonly signIn: string;
  readonly dpopNonces: DpopNonces;
  /** The configured DPoP key (`dpop: <key>`), shared by every login; undefined for a key per login. */
  readonly sharedDpopKey: DpopKey | undefined;
  /** The algorithms this client's ID tokens came with: what a logout token must use too. */
  readonly idTokenAlgsSeen: Set<string>;
  /** Start-up warnings, each code once for this configuration (core/warn.ts). */
  readonly warn: Warn;
  /** Whether the first request (or authenticate()) started the background self-check (startup.ts). */
  checkedOnFirstUse?: boolean;
  /** The self-check of the metadata that `readyFor` gave. */
  readyPromise?: Promise<Ready>;
  readyFor?: Promise<Discovered>;
}

/** What one POST to the server needs beyond the context: where, what, and the login's DPoP key. */
export interface ServerCall {
  /** The issuer identifier from the metadata (the client assertion's audience). */
  issuer: string;
  url: string;
  step: string;
  params: URLSearchParams;
  key: DpopKey | undefined;
}

export function createContext(config: ResolvedConfig): EngineContext {
  const transport: Transport = { timeout: config.httpTimeout, ...(config.tls ? { agent: config.tls.agent } : {}) };
  const { dpop, dpopAlg } = config;
  const shared = dpop && dpop !== 'per-session' ? dpopKeyFromKeyObject(dpop, dpopAlg!) : undefined;
  return {
    config,
    transport,
    discovery: createDiscovery(config.issuer, transport),
    signIn: signInKey(config.issuer, config.clientID),
    dpopNonces: new DpopNonces(),
    sharedDpopKey: shared,
    idTokenAlgsSeen: new Set(),
    warn: createWarnOnce(),
  };
}

/** `onEvent`, which must not throw: when it does, the error is logged and the login goes on. */
export function emit(ctx: EngineContext, event: ParEvent): void {
  try {
    ctx.config.onEvent?.(event);
  } catch (err) {
    log('onEvent threw for %s: %s', event.type, (err as Error).message);
  }
}

/** The error's code and status for `login.failed` / `callback.failed` (500 `internal_error` when not ours). */
export function failureOf(err: unknown): { code: string; status: number } {
  return err instanceof ParError ? { code: err.code, status: err.status } : { code: 'internal_error', status: 500 };
}

/** Discovery plus the self-check; rejects with one error listing what the server lacks. */
export function ready(ctx: EngineContext): Promise<Ready> {
  const current = ctx.discovery();
  if (ctx.readyFor === current && ctx.readyPromise) return ctx.readyPromise;
  ctx.readyFor = current;
  const checked = current.then((discovered) => {
    const report = assessProvider(ctx.config, discovered.metadata);
    for (const warning of report.warnings) log('provider warning: %s', warning);
    assertProviderReady(report, discovered.metadata);
    return { ...discovered, report };
  });
  ctx.readyPromise = checked;
  // A refused server is asked again within seconds (PAR may be turned on any minute), not in an hour.
  checked.catch(() => ctx.discovery.recheckSoon(current));
  return checked;
}

/** RFC 8705 §5: with a client certificate, PAR, token, userinfo and revocation go to the mTLS aliases. */
export function endpointOf(ctx: EngineContext, metadata: ServerMetadata, name: MtlsEndpointName): string | undefined {
  return mtlsEndpoint(metadata, name, ctx.config.tls !== undefined);
}

/** One authenticated POST (PAR, token) with this configuration's client authentication, transport and DPoP nonces. */
export function postToServer(ctx: EngineContext, call: ServerCall): Promise<HttpResponse> {
  const { key, ...rest } = call;
  const dpop = key ? { dpop: { key, nonces: ctx.dpopNonces } } : {};
  return postToEndpoint({ config: ctx.config, transport: ctx.transport, ...rest, ...dpop });
}

/** The DPoP key of a login: the configured one, else the login's own (its stored JWK); none without DPoP. */
export async function dpopKey(ctx: EngineContext, jwk: Transaction['dpopJwk']): Promise<DpopKey | undefined> {
  if (!ctx.config.dpop) return undefined;
  if (ctx.sharedDpopKey) return ctx.sharedDpopKey;
  return jwk ? dpopKeyFromJwk(jwk) : undefined;
}

/** How a request presents this login's access token: its DPoP key and the nonces, or undefined (Bearer). */
export async function dpopFor(ctx: EngineContext, login: StoredLogin): Promise<DpopBinding | undefined> {
  if (login.tokenType !== 'DPoP') return undefined;
  const key = await dpopKey(ctx, login.dpopJwk as Transaction['dpopJwk']);
  if (!key) throw new TypeError('the DPoP key of this login is missing');
  return { key, nonces: ctx.dpopNonces };
}
