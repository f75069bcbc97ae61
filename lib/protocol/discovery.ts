/**
 * Authorization server metadata: OpenID Connect Discovery 1.0, falling back to RFC 8414. Cached per
 * issuer as a promise (one fetch however many requests arrive at once), evicted when it fails,
 * refreshed in the background after an hour, and asked again within seconds when the self-check refused
 * it. Also hands out the issuer's key set (jwks.ts), kept while `jwks_uri` stays the same.
 */
import { safeText, UpstreamError } from '../core/errors.js';
import { parseJsonObject, request, type Transport } from '../net/http.js';
import { sameIssuer } from './issuer.js';
import { createKeySet } from './jwks.js';
import type { Discovered, KeySet, ServerMetadata } from '../core/model.js';
import { createLogger } from '../core/log.js';

const log = createLogger('discovery');

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

async function fetchMetadata(issuer: string, transport: Transport): Promise<ServerMetadata> {
  let lastStatus = 0;
  for (const url of wellKnownUrls(issuer)) {
    const res = await request({ ...transport, method: 'GET', url, step: 'discovery endpoint' });
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

/** Metadata is used this long, then fetched again in the background while the cached copy keeps serving. */
export const METADATA_TTL_MS = 60 * 60 * 1000;
/** A server the self-check refused, or a background refresh that failed, is asked again after this long. */
export const RECHECK_MS = 5_000;

export interface DiscoveryOptions {
  /** Milliseconds since the epoch; tests freeze it. */
  now?: () => number;
  ttlMs?: number;
  recheckMs?: number;
}

/** The metadata and key set for one issuer, fetched on first use and then cached by this function. */
export interface Discovery {
  (): Promise<Discovered>;
  /**
   * The self-check refused the metadata that `promise` gave (e.g. PAR not turned on yet): keep answering
   * with it for `RECHECK_MS`, then fetch the metadata again instead of keeping it for the whole TTL.
   */
  recheckSoon(promise: Promise<Discovered>): void;
  /** True while a background refresh runs (health checks and tests can wait for it). */
  readonly refreshing: boolean;
}

/**
 * Returns the discovery function of one `parAuth()` / strategy instance.
 *
 * - A failed lookup is not kept: the next call fetches again (a provider outage must not stick).
 * - Metadata older than the TTL keeps serving while one background fetch replaces it; a failed refresh
 *   keeps the old metadata and is tried again after `RECHECK_MS`.
 * - Metadata refused by the self-check (`recheckSoon`) is fetched again after `RECHECK_MS`.
 * - The key set is kept across refreshes while `jwks_uri` stays the same (its keys and refetch budget).
 */
export function createDiscovery(issuer: string, transport: Transport, options: DiscoveryOptions = {}): Discovery {
  const now = options.now ?? (() => Date.now());
  const ttl = options.ttlMs ?? METADATA_TTL_MS;
  const recheck = options.recheckMs ?? RECHECK_MS;
  /** refreshAt: when to refresh in the background; dropAt: when to stop serving it at all (refused). */
  interface Entry { promise: Promise<Discovered>; refreshAt: number; dropAt: number; refreshing: boolean }
  let entry: Entry | undefined;
  let keySet: KeySet | undefined;

  const load = async (): Promise<Discovered> => {
    const metadata = await fetchMetadata(issuer, transport);
    if (!metadata.jwks_uri) return { metadata };
    if (keySet?.uri !== metadata.jwks_uri) keySet = createKeySet({ uri: metadata.jwks_uri, transport, now });
    return { metadata, jwks: keySet };
  };

  const start = (): Promise<Discovered> => {
    const current: Entry = { promise: load(), refreshAt: Infinity, dropAt: Infinity, refreshing: false };
    entry = current;
    current.promise.then(
      () => {
        if (current.dropAt === Infinity) current.refreshAt = now() + ttl;
      },
      () => {
        // Evict a failed lookup so the next request tries again (a provider outage must not stick).
        if (entry === current) entry = undefined;
      },
    );
    return current.promise;
  };

  const refreshInBackground = (stale: Entry) => {
    const startedAt = now();
    stale.refreshing = true;
    load().then(
      (discovered) => {
        if (entry === stale) entry = { promise: Promise.resolve(discovered), refreshAt: now() + ttl, dropAt: Infinity, refreshing: false };
      },
      (err: unknown) => {
        log('metadata refresh failed, keeping the cached metadata: %s', (err as Error).message);
        stale.refreshing = false;
        stale.refreshAt = startedAt + recheck;
      },
    );
  };

  const discovery = (() => {
    if (entry && now() >= entry.dropAt) entry = undefined;
    if (!entry) return start();
    if (now() >= entry.refreshAt && !entry.refreshing) refreshInBackground(entry);
    return entry.promise;
  }) as Discovery;
  discovery.recheckSoon = (promise) => {
    if (!entry || entry.promise !== promise) return;
    // Refused metadata is not refreshed in the background: after RECHECK_MS the next call fetches anew.
    entry.dropAt = Math.min(entry.dropAt, now() + recheck);
    entry.refreshAt = Infinity;
  };
  Object.defineProperty(discovery, 'refreshing', { get: () => entry?.refreshing === true });
  return discovery;
}
