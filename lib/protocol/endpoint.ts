/**
 * One authenticated POST to an authorization server endpoint (PAR or token): client authentication,
 * a DPoP proof when the login uses DPoP, and one retry with the server's nonce (RFC 9449 §8). Also the
 * one reading of an OAuth error body (RFC 6749 §5.2) for every answer that is not a success, with what
 * the request sent kept out of it.
 */
import { clientAuthentication } from './client-auth.js';
import type { ResolvedConfig } from '../core/model.js';
import { createProof, retryOnNonceChallenge, type DpopBinding } from './dpop.js';
import { oauthErrorCode, safeText } from '../core/errors.js';
import { parseJsonObject, request, type HttpResponse, type Transport } from '../net/http.js';

type HeaderMap = Record<string, string>;

export interface EndpointCall {
  /** The client: how it authenticates (clientAuthMethod and its credentials). */
  config: ResolvedConfig;
  transport: Transport;
  /** The issuer identifier from the metadata, used as the client assertion audience. */
  issuer: string;
  url: string;
  step: string;
  params: URLSearchParams;
  dpop?: DpopBinding;
}

export function postToEndpoint(call: EndpointCall): Promise<HttpResponse> {
  return retryOnNonceChallenge(() => attempt(call), (res) => call.dpop !== undefined && isDpopNonceChallenge(res));
}

async function attempt(call: EndpointCall): Promise<HttpResponse> {
  const auth = await clientAuthentication(call.config, call.issuer);
  const authParams = Object.entries(auth.params);
  // call.params is never changed (a DPoP nonce retry sends it again): copied only to add to it.
  const form = authParams.length === 0 ? call.params : new URLSearchParams(call.params);
  for (const [key, value] of authParams) form.set(key, value);
  // Object.assign, not a spread, as the proof is added (bench/README.md, "Object shapes on the hot path").
  const headers: Record<string, string> = Object.assign({}, auth.headers);
  if (call.dpop) {
    headers.dpop = await createProof(call.dpop.key, 'POST', call.url, { nonce: call.dpop.nonces.get(call.url) });
  }
  // RFC 8705: with `tls`, the transport's agent presents the client certificate on every connection.
  const res = await request({ ...call.transport, method: 'POST', url: call.url, headers, form, step: call.step });
  call.dpop?.nonces.remember(call.url, res.headers);
  // Some gateways echo the request in their error text: whatever secret this call sent is never quoted
  // back. Listed when an error is read (a successful call never needs the list). A plain function field,
  // not an accessor per response: one hidden class for all responses (bench/README.md).
  let secrets: string[] | undefined;
  res.redact = () => (secrets ??= sentSecrets(call.config.clientSecret, form, headers));
  return res;
}

/** Form parameters that carry a secret, a credential or a one-time value bound to the login. */
const SECRET_PARAMS = ['client_secret', 'client_assertion', 'code', 'code_verifier', 'refresh_token', 'request'];

/** Every secret a request sent, in the encodings a server might echo it in (raw, URL-encoded, form-encoded). */
export function sentSecrets(secret: string | undefined, form: URLSearchParams, headers: HeaderMap): string[] {
  const raw = [secret, ...SECRET_PARAMS.map((name) => form.get(name)), headers.authorization, headers.dpop];
  const out = new Set<string>();
  for (const value of raw) {
    if (!value) continue;
    out.add(value);
    out.add(encodeURIComponent(value));
    out.add(new URLSearchParams({ v: value }).toString().slice(2));
    // `Authorization: Basic <base64>` and `DPoP <token>`: the credential after the scheme too.
    const credential = /^\S+ (\S+)$/.exec(value)?.[1];
    if (credential) out.add(credential);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of a sent secret replaced by `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  for (const secret of secrets ?? []) if (secret) out = out.split(secret).join('[redacted]');
  return out;
}

function isDpopNonceChallenge(res: HttpResponse): boolean {
  if ((res.status !== 400 && res.status !== 401) || typeof res.headers['dpop-nonce'] !== 'string') return false;
  return oauthErrorOf(res).error === 'use_dpop_nonce';
}

/**
 * RFC 6749 §5.2 error fields from a response, safe to quote: every secret the request sent is removed
 * first, then `error` must be a code and `error_description` is filtered. Empty when there are none.
 */
export function oauthErrorOf(res: HttpResponse): { error?: string; error_description?: string } {
  const body = parseJsonObject(res.body);
  const out: { error?: string; error_description?: string } = {};
  const secrets = typeof res.redact === 'function' ? res.redact() : res.redact;
  const text = (value: unknown) => (typeof value === 'string' ? redactSecrets(value, secrets) : undefined);
  const error = oauthErrorCode(text(body?.error));
  const description = safeText(text(body?.error_description));
  if (error) out.error = error;
  if (description) out.error_description = description;
  return out;
}

/** An OAuth error for a message: `error: error_description`, or that the body had none. */
export function describeOAuthError(oauth: { error?: string; error_description?: string }): string {
  if (!oauth.error) return 'no OAuth error in the body';
  return oauth.error_description ? `${oauth.error}: ${oauth.error_description}` : oauth.error;
}
