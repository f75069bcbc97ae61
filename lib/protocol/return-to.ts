/**
 * RFC 9700 §4.11 (open redirectors): after login the browser only goes to a same-origin relative path.
 * Anything else (absolute URLs, `//host`, `/\host`, control characters, over-long values) becomes `/`.
 */
const MAX_RETURN_TO = 2048;
const BASE = 'http://express-par.invalid';

export function safeReturnTo(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length > MAX_RETURN_TO || !value.startsWith('/')) return fallback;
  // Browsers drop tabs and newlines inside URLs, and treat "\" as "/" ("/\host" is "//host"): refuse
  // both rather than guess.
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return fallback; // e.g. "//[": a host that does not parse
  }
  // "//host" is another origin.
  if (url.origin !== BASE) return fallback;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // Dot segments can collapse into a protocol-relative path ("/.//evil.example" → "//evil.example").
  if (path.startsWith('//')) return fallback;
  return path;
}
