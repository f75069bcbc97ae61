/**
 * The `WWW-Authenticate` challenges of a resource server (RFC 9110 §11.6.1): how the userinfo endpoint
 * and an API say why they refused a token (RFC 6750 §3 `invalid_token`) or that a DPoP proof needs the
 * server's nonce (RFC 9449 §9 `use_dpop_nonce`).
 */

/** A header as node:http (string, repeated: string[]) or fetch's Headers (string or null) give it. */
type HeaderValue = string | string[] | null | undefined;

export interface Challenge {
  /** Lower-cased auth scheme, e.g. `bearer`, `dpop`. */
  scheme: string;
  /** Auth parameters, names lower-cased, quoted values unquoted. */
  params: Record<string, string>;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const PART = new RegExp(`(${TOKEN})(?:[ \\t]*=[ \\t]*("(?:[^"\\\\]|\\\\.)*"|${TOKEN}))?`, 'g');

/** Every challenge of a `WWW-Authenticate` header (several headers are joined); malformed parts are skipped. */
export function parseWwwAuthenticate(header: HeaderValue): Challenge[] {
  const text = (Array.isArray(header) ? header.join(', ') : (header ?? '')).slice(0, 4096);
  const out: Challenge[] = [];
  let current: Challenge | undefined;
  for (const [, name, value] of text.matchAll(PART)) {
    if (value === undefined) {
      current = { scheme: name!.toLowerCase(), params: {} };
      out.push(current);
    } else if (current) {
      current.params[name!.toLowerCase()] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    }
  }
  return out;
}

/** The `error` of the first challenge that has one (of `scheme` when given), e.g. `invalid_token`. */
export function challengeError(header: HeaderValue, scheme?: string): string | undefined {
  for (const challenge of parseWwwAuthenticate(header)) {
    if (scheme && challenge.scheme !== scheme.toLowerCase()) continue;
    const error = challenge.params.error;
    if (error && /^[A-Za-z0-9_.-]{1,100}$/.test(error)) return error;
  }
  return undefined;
}

/** RFC 9449 §9: a resource server's 401 with `DPoP error="use_dpop_nonce"` and a `DPoP-Nonce` header. */
export function isResourceNonceChallenge(status: number, wwwAuthenticate: HeaderValue, nonce: unknown): boolean {
  return status === 401 && typeof nonce === 'string' && challengeError(wwwAuthenticate, 'dpop') === 'use_dpop_nonce';
}
