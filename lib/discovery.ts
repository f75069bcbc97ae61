/**
 * Authorization server metadata: OpenID Connect Discovery 1.0, falling back to RFC 8414. Cached per
 * issuer as a promise (one fetch however many requests arrive at once), evicted when it fails and
 * refreshed after an hour. Also owns the JWKS (jose's remote key set: cached, refetched on unknown `kid`).
 */
import type { Agent } from 'node:https';
import { createRemoteJWKSet, customFetch } from 'jose';
import { safeText, UpstreamError } from './errors.js';
import { parseJsonObject, request } from './http.js';
import { sameIssuer } from './issuer.js';
import { createLogger } from './log.js';

const log = createLogger('discovery');
const CACHE_TTL_MS = 60 * 60 * 1000;
const JWKS_MAX_BYTES = 256 * 1024;

export interface ServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  pushed_authorization_request_endpoint?: string;
  jwks_uri?: string;
  end_session_endpoint?: string;
  require_pushed_authorization_requests?: boolean;
  authorization_response_iss_parameter_supported?: boolean;
  code_challenge_methods_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  id_token_signing_alg_values_supported?: string[];
  dpop_signing_alg_values_supported?: string[];
  request_object_signing_alg_values_supported?: string[];
  [key: string]: unknown;
}

export interface Discovered {
  metadata: ServerMetadata;
  /** jose key set over `jwks_uri`, shared by every request for this issuer. */
  jwks?: ReturnType<typeof createRemoteJWKSet>;
}

function wellKnownUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return [
    // OpenID Connect Discovery 1.0 §4: issuer + /.well-known/openid-configuration
    `${url.origin}${path}/.well-known/openid-configuration`,
    // RFC 8414 §3: the well-known segment goes between host and path
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

/** Pure: checks a metadata document (RFC 8414 §3.3 / OIDC Discovery §4.3) and returns it typed. */
export function processMetadata(expectedIssuer: string, body: Record<string, unknown>, source: string): ServerMetadata {
  const issuer = body.issuer;
  if (typeof issuer !== 'string' || !issuer) throw new UpstreamError('discovery_failed', `The metadata at ${source} has no "issuer".`);
  // OIDC Discovery §4.3, RFC 8414 §3.3: the issuer in the document must be the one used to fetch it.
  if (!sameIssuer(expectedIssuer, issuer)) {
    throw new UpstreamError('issuer_mismatch', `The metadata at ${source} names issuer "${safeText(issuer, 200)}", not "${expectedIssuer}" (issuerBaseURL).`);
  }
  for (const field of ['authorization_endpoint', 'token_endpoint'] as const) {
    if (!isUrl(body[field])) throw new UpstreamError('discovery_failed', `The metadata at ${source} has no valid "${field}".`);
  }
  for (const field of ['pushed_authorization_request_endpoint', 'jwks_uri', 'end_session_endpoint'] as const) {
    if (body[field] !== undefined && !isUrl(body[field])) throw new UpstreamError('discovery_failed', `The metadata at ${source} has an invalid "${field}".`);
  }
  return body as ServerMetadata;
}

function isUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

async function fetchMetadata(issuer: string, timeout: number, agent: Agent | undefined): Promise<ServerMetadata> {
  let lastStatus = 0;
  for (const url of wellKnownUrls(issuer)) {
    const res = await request({ method: 'GET', url, timeout, step: 'discovery endpoint', ...(agent ? { agent } : {}) });
    if (res.status === 404) {
      lastStatus = 404;
      continue;
    }
    if (res.status !== 200) {
      throw new UpstreamError('discovery_failed', `The discovery endpoint ${url} answered HTTP ${res.status}.`, { upstreamStatus: res.status });
    }
    const body = parseJsonObject(res.body);
    if (!body) throw new UpstreamError('discovery_failed', `The discovery endpoint ${url} did not answer with a JSON object.`);
    log('metadata from %s', url);
    return processMetadata(issuer, body, url);
  }
  throw new UpstreamError('discovery_failed', `No metadata found for issuer ${issuer} (HTTP ${lastStatus} at both well-known locations). Check "issuerBaseURL".`, { upstreamStatus: lastStatus });
}

/**
 * Returns a function that yields the metadata and key set for `issuer`, fetched on first use and then
 * cached by that function (one per `parAuth()` / strategy instance). `agent` carries the client
 * certificate when one is configured (RFC 8705).
 */
export function createDiscovery(issuer: string, timeout: number, agent?: Agent): () => Promise<Discovered> {
  let entry: { promise: Promise<Discovered>; at: number } | undefined;
  return () => {
    if (entry && Date.now() - entry.at < CACHE_TTL_MS) return entry.promise;
    const current = { promise: load(issuer, timeout, agent), at: Date.now() };
    entry = current;
    // Evict a failed lookup so the next request tries again (a provider outage must not stick).
    current.promise.catch(() => {
      if (entry === current) entry = undefined;
    });
    return current.promise;
  };
}

async function load(issuer: string, timeout: number, agent: Agent | undefined): Promise<Discovered> {
  const metadata = await fetchMetadata(issuer, timeout, agent);
  const discovered: Discovered = { metadata };
  if (metadata.jwks_uri) {
    discovered.jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), {
      timeoutDuration: timeout,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
      [customFetch]: jwksFetch(timeout, agent) as unknown as typeof fetch,
    });
  }
  return discovered;
}

/**
 * jose's fetch for the key set, over our HTTP client (deadline, size cap, no redirects). A non-200 or
 * non-JSON answer is `jwks_failed`, not an ID token fault.
 */
function jwksFetch(timeout: number, agent: Agent | undefined) {
  return async (input: string | URL, init?: { headers?: ConstructorParameters<typeof Headers>[0] }): Promise<Response> => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const res = await request({ method: 'GET', url: input, headers, timeout, step: 'JWKS endpoint', maxBytes: JWKS_MAX_BYTES, ...(agent ? { agent } : {}) });
    const where = String(input);
    if (res.status !== 200) throw new UpstreamError('jwks_failed', `The JWKS endpoint ${where} answered HTTP ${res.status}.`, { upstreamStatus: res.status });
    if (!parseJsonObject(res.body)) throw new UpstreamError('jwks_failed', `The JWKS endpoint ${where} did not answer with a JSON object.`, { upstreamStatus: 200 });
    return new Response(res.body, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}
