/**
 * Escaping and redaction shared by the demo's pages and recorders. Every value rendered goes through
 * `escapeHtml`; every token, code or client credential goes through `redact` before it is kept for display.
 */

const HTML = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML[c]);
}

/**
 * A log line that stays one line: control characters and Unicode line separators (a `sub` or a path chosen
 * by whoever signs in or sends the request) are written as `\uXXXX`, so nobody can forge a line of their own.
 */
export function oneLine(text) {
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A short description of a secret value: its kind and length, never the value. */
export function redact(value) {
  if (typeof value !== 'string') return value === undefined ? undefined : '[redacted]';
  if (/^[\w-]+\.[\w-]+\.[\w-]*$/.test(value)) {
    let alg = '';
    try {
      alg = JSON.parse(Buffer.from(value.split('.')[0], 'base64url').toString('utf8')).alg ?? '';
    } catch {
      // not a JWT after all
    }
    return `[redacted JWT${alg ? ` (${alg})` : ''}, ${value.length} characters]`;
  }
  return `[redacted, ${value.length} characters]`;
}

const SECRET_PARAMS = new Set(['client_secret', 'client_assertion', 'code', 'code_verifier', 'refresh_token', 'request']);
const TOKEN_FIELDS = new Set(['access_token', 'id_token', 'refresh_token']);

/** Request parameters with client credentials (and anything else secret) redacted. */
export function redactParams(params) {
  const out = {};
  for (const [key, value] of Object.entries(params ?? {})) out[key] = SECRET_PARAMS.has(key) ? redact(String(value)) : value;
  return out;
}

/** A token endpoint response with access, ID and refresh tokens redacted. */
export function redactTokenResponse(body) {
  const out = {};
  for (const [key, value] of Object.entries(body ?? {})) out[key] = TOKEN_FIELDS.has(key) ? redact(value) : value;
  return out;
}
