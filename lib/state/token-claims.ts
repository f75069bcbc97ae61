/**
 * The payload of a stored ID token, decoded once per process. The session keeps a login's claims only
 * when they are not the token's own (login.ts), so every signed-in request that reads them would decode
 * the token again (base64url, UTF-8, JSON); this keeps what a decode gave, by the whole token string.
 *
 * A memo of a pure function: an entry answers only for the very same token string (compared whole), whose
 * payload is what the entry holds, so no store content (tampered or not) can be handed another token's
 * claims. The map is indexed by the token's last characters (part of its signature) only because hashing a
 * ~1 KB string on every lookup cost about as much as the decode; two tokens that share them just take turns
 * in the entry. Every read gets its own object, as a fresh decode would give (an app may change
 * `req.oidc.user` in its request). Bounded: the oldest entry goes first.
 */
import { isRecord } from '../core/assert.js';

/**
 * A token and its decoded payload: the claims when every value is a primitive (copied by a spread), else the
 * JSON text (parsed for each read).
 */
type Entry = { token: string } & (
  { claims: Record<string, unknown>; json?: undefined } | { claims?: undefined; json: string }
);

/** At most this many tokens (a token and its claims are about 1.5 KB), each at most 16 KB long. */
export const MAX_DECODED_TOKENS = 1000;
export const MAX_TOKEN_LENGTH = 16 * 1024;

const decoded = new Map<string, Entry>();

/** How many of a token's last characters index the map (a P-256 or RS256 signature is longer). */
const INDEX_LENGTH = 43;

/** The text of a JWT's second segment, base64url-decoded; undefined when there is none. */
function payloadJson(jwt: string): string | undefined {
  const start = jwt.indexOf('.');
  if (start === -1) return undefined;
  const end = jwt.indexOf('.', start + 1);
  return Buffer.from(jwt.slice(start + 1, end === -1 ? undefined : end), 'base64url').toString('utf8');
}

// An empty catch block would return undefined all the same.
// Stryker disable BlockStatement
function parseObject(json: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
// Stryker restore BlockStatement

// Whether claims are kept as an object (copied by a spread) or as JSON text (parsed for each read) changes what
// a read costs, never what it gives: a mutant of isFlat only moves claims from one form to the other.
// Stryker disable all
/** Whether every claim is a string, number, boolean or null: then a spread copy is a copy of it all. */
function isFlat(claims: Record<string, unknown>): boolean {
  for (const key in claims) {
    const value = claims[key];
    if (value !== null && typeof value === 'object') return false;
  }
  return true;
}
// Stryker restore all

/** A copy of the entry's claims, equal to what JSON.parse of its payload gives. */
function copyOf(entry: Entry): Record<string, unknown> {
  return entry.claims ? { ...entry.claims } : (JSON.parse(entry.json) as Record<string, unknown>);
}

/**
 * The claims in the payload of `jwt` (whose signature was checked when it was received), as a new object;
 * undefined when it is not a JWT with a JSON object payload.
 */
export function tokenPayload(jwt: string): Record<string, unknown> | undefined {
  // Any index would do (an entry answers only for its whole token): the last characters are cheap and distinct.
  // Stryker disable next-line MethodExpression,UnaryOperator: see above
  const index = jwt.slice(-INDEX_LENGTH);
  const known = decoded.get(index);
  if (known && known.token === jwt) return copyOf(known);
  const json = payloadJson(jwt);
  // Stryker disable next-line ConditionalExpression: JSON.parse(undefined) throws, and parseObject gives undefined
  if (json === undefined) return undefined;
  const claims = parseObject(json);
  if (!claims) return undefined;
  if (jwt.length > MAX_TOKEN_LENGTH) return claims;
  if (!known && decoded.size >= MAX_DECODED_TOKENS) decoded.delete(decoded.keys().next().value!);
  decoded.set(index, isFlat(claims) ? { token: jwt, claims: { ...claims } } : { token: jwt, json });
  return claims;
}

/** How many tokens are kept (for tests). */
export function decodedTokenCount(): number {
  return decoded.size;
}

/** Forgets every decoded token (for tests). */
export function forgetDecodedTokens(): void {
  decoded.clear();
}
