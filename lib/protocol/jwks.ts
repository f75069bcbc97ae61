/**
 * The authorization server's signing keys (`jwks_uri`), cached per issuer as `KeyObject`s.
 *
 * A token whose key is not in the cached set (a new `kid`) makes the set be fetched again at once, so a
 * key the server has just started signing with is accepted on its first use. Those refetches are limited
 * by a count per rolling minute (not by a silence after every fetch, which would reject a just-rotated
 * key), and lookups that miss while a fetch is under way wait for that fetch instead of starting their
 * own, so tokens with made-up `kid`s cannot make us flood the server.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, type JWSHeaderParameters } from 'jose';
import type { KeyHeader, KeySet } from '../core/model.js';
import { UpstreamError, type ParErrorDetails } from '../core/errors.js';
import { parseJsonObject, request, type Transport } from '../net/http.js';
import { createLogger } from '../core/log.js';

const log = createLogger('jwks');

/** Largest key set read (a JWKS is a few KiB; the cap stops a runaway answer). */
export const JWKS_MAX_BYTES = 256 * 1024;
/** A fetched key set is used for this long before the next lookup fetches it again. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** Refetches on an unknown key allowed per rolling minute (per key set, i.e. per issuer). */
export const JWKS_REFETCHES_PER_MINUTE = 5;
const MINUTE_MS = 60_000;

export interface KeySetOptions {
  /** The server's `jwks_uri`. */
  uri: string;
  /** The deadline per fetch (`httpTimeout`) and, with `tls`, the client certificate's agent (RFC 8705). */
  transport: Transport;
  maxAgeMs?: number;
  refetchesPerMinute?: number;
  /** Milliseconds since the epoch; tests freeze it. */
  now?: () => number;
}

/**
 * Key type and curves each JWS algorithm verifies with (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864). EdDSA
 * takes Ed25519 keys only: FAPI 2.0 §5.4.1 allows EdDSA with Ed25519 only, and jose verifies no Ed448
 * signature in any profile, so an Ed448 key could only make a wrong match or an ambiguous one.
 */
const ALG_KEYS: Record<string, { kty: string; crv?: string[] }> = {
  RS256: { kty: 'RSA' }, RS384: { kty: 'RSA' }, RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' }, PS384: { kty: 'RSA' }, PS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: ['P-256'] }, ES384: { kty: 'EC', crv: ['P-384'] }, ES512: { kty: 'EC', crv: ['P-521'] },
  EdDSA: { kty: 'OKP', crv: ['Ed25519'] }, Ed25519: { kty: 'OKP', crv: ['Ed25519'] },
};

type Jwk = Record<string, unknown>;

interface Snapshot {
  keys: Jwk[];
  fetchedAt: number;
  imported: Map<Jwk, KeyObject>;
}

/** The key type (and curves) `alg` verifies with; JOSENotSupported for an algorithm without server keys. */
function familyOf(alg: string): { kty: string; crv?: string[] } {
  const family = Object.hasOwn(ALG_KEYS, alg) ? ALG_KEYS[alg] : undefined;
  if (!family) throw new joseErrors.JOSENotSupported('Unsupported "alg" value for a JSON Web Key Set');
  return family;
}

/** Refetches on an unknown key, at most `perMinute` in any rolling minute. */
class RefetchBudget {
  private readonly takenAt: number[] = [];

  constructor(
    readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /** Counts a refetch against the rolling minute's budget; false when it is spent. */
  take(): boolean {
    const t = this.now();
    while (this.takenAt.length > 0 && this.takenAt[0]! <= t - MINUTE_MS) this.takenAt.shift();
    if (this.takenAt.length >= this.perMinute) return false;
    this.takenAt.push(t);
    return true;
  }
}

export function createKeySet(options: KeySetOptions): KeySet {
  const now = options.now ?? (() => Date.now());
  const maxAge = options.maxAgeMs ?? JWKS_MAX_AGE_MS;
  const budget = new RefetchBudget(options.refetchesPerMinute ?? JWKS_REFETCHES_PER_MINUTE, now);
  let current: Snapshot | undefined;
  let inFlight: Promise<Snapshot> | undefined;

  /** One fetch at a time: callers that arrive while it runs share it. */
  function fetchShared(): Promise<Snapshot> {
    inFlight ??= fetchKeySet(options.uri, options.transport)
      .then((keys) => {
        current = { keys, fetchedAt: now(), imported: new Map() };
        return current;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  async function getKey(header: KeyHeader): Promise<KeyObject> {
    const alg = typeof header.alg === 'string' ? header.alg : '';
    const family = familyOf(alg);
    let snapshot = current;
    let fresh = false;
    if (!snapshot || now() - snapshot.fetchedAt >= maxAge) {
      snapshot = await fetchShared();
      fresh = true;
    }
    let found = snapshot.keys.filter((jwk) => usable(jwk, alg, header.kid, family));
    if (found.length === 0 && !fresh) {
      // An unknown key: the server may have just started signing with it. Join a fetch already under way,
      // else start one if this minute's budget allows.
      if (inFlight) snapshot = await inFlight;
      else if (budget.take()) snapshot = await fetchShared();
      else log('unknown key, refetch budget of %d per minute spent', budget.perMinute);
      found = snapshot.keys.filter((jwk) => usable(jwk, alg, header.kid, family));
    }
    if (found.length === 0) throw new joseErrors.JWKSNoMatchingKey();
    if (found.length > 1) throw new joseErrors.JWKSMultipleMatchingKeys();
    return importKey(snapshot, found[0]!, options.uri);
  }

  const keySet = ((header: JWSHeaderParameters) => getKey(header)) as KeySet;
  Object.defineProperties(keySet, {
    getKey: { value: getKey },
    uri: { value: options.uri },
  });
  return keySet;
}

/** As jose selects: key type and curve for `alg`, the header's `kid` if any, and `use`/`key_ops`/`alg` allowing it. */
function usable(jwk: Jwk, alg: string, kid: unknown, family: { kty: string; crv?: string[] }): boolean {
  if (jwk.kty !== family.kty) return false;
  if (family.crv && !family.crv.includes(jwk.crv as string)) return false;
  if (kid !== undefined && (typeof kid !== 'string' || jwk.kid !== kid)) return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return false;
  return true;
}

function importKey(snapshot: Snapshot, jwk: Jwk, uri: string): KeyObject {
  const cached = snapshot.imported.get(jwk);
  if (cached) return cached;
  const where = endpointName(uri);
  // RFC 7517 §5: a published key set holds public keys; a private member means a broken server.
  if (['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((member) => jwk[member] !== undefined)) {
    throw jwksFailed(where, 'publishes a key with private or secret members');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw jwksFailed(where, 'publishes a key that cannot be imported', { cause });
  }
  snapshot.imported.set(jwk, key);
  return key;
}

/** GETs the key set: 200 and a JSON object whose `keys` is an array of objects (RFC 7517 §5), else `jwks_failed`. */
async function fetchKeySet(uri: string, transport: Transport): Promise<Jwk[]> {
  const where = endpointName(uri);
  const res = await request({
    ...transport,
    method: 'GET',
    url: uri,
    headers: { accept: 'application/json, application/jwk-set+json' },
    step: 'JWKS endpoint',
    maxBytes: JWKS_MAX_BYTES,
  });
  if (res.status !== 200) {
    throw jwksFailed(where, `answered HTTP ${res.status}`, { upstreamStatus: res.status });
  }
  const body = parseJsonObject(res.body);
  if (!body) {
    throw jwksFailed(where, 'did not answer with a JSON object', { upstreamStatus: 200 });
  }
  const keys = body.keys;
  if (!Array.isArray(keys) || !keys.every((k) => k !== null && typeof k === 'object' && !Array.isArray(k))) {
    throw jwksFailed(where, 'did not answer with a valid JSON Web Key Set', { upstreamStatus: 200 });
  }
  log('%d keys from %s', keys.length, where);
  return keys as Jwk[];
}

function jwksFailed(where: string, what: string, extra?: ParErrorDetails): UpstreamError {
  return new UpstreamError('jwks_failed', `The JWKS endpoint ${where} ${what}.`, extra);
}

function endpointName(uri: string): string {
  const url = new URL(uri);
  return `${url.origin}${url.pathname}`;
}
