/**
 * Access tokens for other APIs (`getAccessToken({ audience | resource, scope })`), kept with the login they
 * were obtained from (they end with it), one per (API, scope), in short fields: sessions live in a store and
 * come back on every request (the session budget, docs/tokens.md). At most MAX_API_TOKENS are kept; the one
 * obtained longest ago goes first, and expired ones go whenever another is stored.
 */
import { isRecord } from '../core/assert.js';
import type { CertificateBinding } from '../core/model.js';
import type { LoginSession, TokenSet } from '../core/types.js';
import { copyFields, type StoredLogin } from './login.js';

/** How many APIs' tokens one login keeps. */
export const MAX_API_TOKENS = 5;

/** An API's token as stored under `login.apis[key]`. */
interface StoredApiToken {
  /** access_token */
  t: string;
  /** token_type, when not Bearer (DPoP) */
  y?: 'DPoP';
  /** expiresAt, seconds since the epoch */
  e?: number;
  /** when it was obtained (ms since the epoch) */
  r: number;
  /** certificate-bound (RFC 8705 §3) */
  b?: 1;
}

/** An API's access token, and how it is presented. */
export interface ApiToken {
  accessToken: string;
  tokenType: 'Bearer' | 'DPoP';
  /** Seconds since the epoch. */
  expiresAt?: number;
  /** Milliseconds since the epoch when it was obtained. */
  renewedAt: number;
  certificateBound: boolean;
}

const NOTHING: ReadonlySet<string> = new Set();

function isStored(value: unknown): value is StoredApiToken {
  if (!isRecord(value) || typeof value.t !== 'string' || value.t === '' || typeof value.r !== 'number') return false;
  return value.e === undefined || typeof value.e === 'number';
}

/** The API token stored under `key`, when it is well-formed (a tampered store reads as none). */
export function readApiToken(login: StoredLogin, key: string): ApiToken | undefined {
  const apis = login.apis;
  const stored = isRecord(apis) && Object.hasOwn(apis, key) ? apis[key] : undefined;
  if (!isStored(stored)) return undefined;
  const token: ApiToken = {
    accessToken: stored.t,
    tokenType: stored.y === 'DPoP' ? 'DPoP' : 'Bearer',
    renewedAt: stored.r,
    certificateBound: stored.b === 1,
  };
  if (stored.e !== undefined) token.expiresAt = stored.e;
  return token;
}

/** `base`, a copy, with the refresh token a response rotated (when it did): everything else as it was. */
export function withRefreshToken(base: LoginSession, tokens: Partial<TokenSet>): LoginSession {
  const next = copyFields(base, NOTHING) as LoginSession;
  next.claims = base.claims; // may be read lazily from the ID token (not enumerable): copied explicitly
  if (tokens.refresh_token) next.refreshToken = tokens.refresh_token;
  return next;
}

/**
 * `base` with the API token of a refresh response stored under `key` (and the refresh token rotated when
 * the response did): the login's own tokens are left as they were.
 */
export function withApiToken(
  base: LoginSession,
  key: string,
  tokens: Partial<TokenSet>,
  binding?: CertificateBinding,
): LoginSession {
  const next = withRefreshToken(base, tokens);
  const now = Date.now();
  const stored: StoredApiToken = { t: tokens.access_token!, r: now };
  if (tokens.token_type === 'DPoP') stored.y = 'DPoP';
  if (typeof tokens.expires_in === 'number') stored.e = Math.floor(now / 1000) + tokens.expires_in;
  if (binding) stored.b = 1;
  next.apis = keptApis(base.apis, key, Math.floor(now / 1000));
  next.apis[key] = stored;
  return next;
}

/** The other APIs' tokens worth keeping: well-formed, not expired, and the newest MAX_API_TOKENS - 1. */
function keptApis(apis: unknown, replaced: string, nowSeconds: number): Record<string, StoredApiToken> {
  if (!isRecord(apis)) return {};
  const live = Object.entries(apis).filter(
    (entry): entry is [string, StoredApiToken] =>
      entry[0] !== replaced && entry[0] !== '__proto__' && isStored(entry[1]) && (entry[1].e ?? Infinity) > nowSeconds,
  );
  // Oldest first; tokens stored in the same millisecond keep their order (the order they were stored in).
  live.sort((a, b) => a[1].r - b[1].r);
  return Object.fromEntries(live.slice(Math.max(0, live.length - (MAX_API_TOKENS - 1))));
}
