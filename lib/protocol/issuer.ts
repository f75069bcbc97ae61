/**
 * The issuer identifier rule, in one place. OpenID Connect Discovery 1.0 §4.3 and RFC 8414 §3.3 require
 * the metadata `issuer` to be identical to the issuer the client used. The contract relaxes exactly one
 * thing: a trailing slash (`https://tenant.auth0.com` configured, `https://tenant.auth0.com/` published,
 * or the reverse). After discovery every comparison (RFC 9207 `iss`, the ID token `iss`, logout tokens)
 * uses the metadata's own `issuer`, exactly.
 */

/** The issuer without its one trailing slash: the form discovery URLs are built from. */
export function normalizeIssuer(issuer: string): string {
  return issuer.endsWith('/') ? issuer.slice(0, -1) : issuer;
}

/** Whether the metadata `issuer` is the configured one, trailing slash aside (and nothing else aside). */
export function sameIssuer(configured: string, published: string): boolean {
  return normalizeIssuer(configured) === normalizeIssuer(published);
}
