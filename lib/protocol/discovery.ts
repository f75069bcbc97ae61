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
  if (typeof issuer !== 'string' || !issuer) {
    throw new UpstreamError('discovery_failed', `The metadata at ${source} has no "issuer".`);
  }
  // OIDC Discovery §4.3, RFC 8414 §3.3: the issuer in the document must be the one used to fetch it.
  if (!sameIssuer(expectedIssuer, issuer)) {
    const named = safeText(issuer, 200);
    const message = `The metadata at ${source} names issuer "${named}", not "${expectedIssuer}" (issuerBaseURL).`;
    throw new UpstreamError('issuer_mismatch', message);
  }
  for (const field of ['authorization_endpoint', 'token_endpoint'] as const) {
    if (!isUrl(body[field])) {
      throw new UpstreamError('discovery_failed', `The metadata at ${source} has no valid "${field}".`);
    }
  }
  for (const field of ['pushed_authorization_request_endpoint', 'jwks_uri', 'end_session_endpoint'] as const) {
    if (body[field] !== undefined && !isUrl(body[field])) {
      throw new UpstreamError('discovery_failed', `The metadata at ${source} has an invalid "${field}".`);
    }
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
      const message = `The discovery endpoint ${url} answered HTTP ${res.status}.`;
      throw new UpstreamError('discovery_failed', message, { upstreamStatus: res.status });
    }
    const body = parseJsonObject(res.body);
    if (!body) {
      throw new UpstreamError('discovery_failed', `The discovery endpoint ${url} did not answer with a JSON object.`);
    }
    log('metadata from %s', url);
    return processMetadata(issuer, body, url);
  }
  const message =
    `No metadata found for issuer ${issuer} (HTTP ${lastStatus} at both well-known locations). Check "issuerBaseURL".`;
  throw new UpstreamError('discovery_failed', message, { upstreamStatus: lastStatus });
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

/** A cached lookup. refreshAt: when to refresh it in the background; dropAt: when to stop serving it (refused). */
interface Entry {
  promise: Promise<Discovered>;
  refreshAt: number;
  dropAt: number;
  refreshing: boolean;
}

/** One issuer's metadata and key set, cached as createDiscovery() describes. */
class MetadataCache {
  private entry: Entry | undefined;
  private keySet: KeySet | undefined;
  private readonly now: () => number;
  private readonly ttl: number;
  private readonly recheck: number;

  constructor(
    private readonly issuer: string,
    private readonly transport: Transport,
    options: DiscoveryOptions,
  ) {
    this.now = options.now ?? (() => Date.now());
    this.ttl = options.ttlMs ?? METADATA_TTL_MS;
    this.recheck = options.recheckMs ?? RECHECK_MS;
  }

  get refreshing(): boolean {
    return this.entry?.refreshing === true;
  }

  get(): Promise<Discovered> {
    if (this.entry && this.now() >= this.entry.dropAt) this.entry = undefined;
    if (!this.entry) return this.start();
    if (this.now() >= this.entry.refreshAt && !this.entry.refreshing) this.refreshInBackground(this.entry);
    return this.entry.promise;
  }

  recheckSoon(promise: Promise<Discovered>): void {
    const { entry } = this;
    if (!entry || entry.promise !== promise) return;
    // Refused metadata is not refreshed in the background: after RECHECK_MS the next call fetches anew.
    entry.dropAt = Math.min(entry.dropAt, this.now() + this.recheck);
    entry.refreshAt = Infinity;
  }

  private async load(): Promise<Discovered> {
    const metadata = await fetchMetadata(this.issuer, this.transport);
    if (!metadata.jwks_uri) return { metadata };
    if (this.keySet?.uri !== metadata.jwks_uri) {
      this.keySet = createKeySet({ uri: metadata.jwks_uri, transport: this.transport, now: this.now });
    }
    return { metadata, jwks: this.keySet };
  }

  private start(): Promise<Discovered> {
    const current: Entry = { promise: this.load(), refreshAt: Infinity, dropAt: Infinity, refreshing: false };
    this.entry = current;
    current.promise.then(
      () => {
        if (current.dropAt === Infinity) current.refreshAt = this.now() + this.ttl;
      },
      () => {
        // Evict a failed lookup so the next request tries again (a provider outage must not stick).
        if (this.entry === current) this.entry = undefined;
      },
    );
    return current.promise;
  }

  private refreshInBackground(stale: Entry): void {
    const startedAt = this.now();
    stale.refreshing = true;
    this.load().then(
      (discovered) => {
        if (this.entry !== stale) return;
        const refreshAt = this.now() + this.ttl;
        this.entry = { promise: Promise.resolve(discovered), refreshAt, dropAt: Infinity, refreshing: false };
      },
      (err: unknown) => {
        log('metadata refresh failed, keeping the cached metadata: %s', (err as Error).message);
        stale.refreshing = false;
        stale.refreshAt = startedAt + this.recheck;
      },
    );
  }
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
  const cache = new MetadataCache(issuer, transport, options);
  const discovery = (() => cache.get()) as Discovery;
  discovery.recheckSoon = (promise) => cache.recheckSoon(promise);
  Object.defineProperty(discovery, 'refreshing', { get: () => cache.refreshing });
  return discovery;
}
