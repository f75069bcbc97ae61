/**
 * One authenticated POST to an authorization server endpoint (PAR or token): client authentication,
 * a DPoP proof when the login uses DPoP, and one retry with the server's nonce (RFC 9449 §8).
 */
import { clientAuthentication } from './client-auth.js';
import type { ResolvedConfig } from './config.js';
import { createProof, type DpopKey, type DpopNonces } from './dpop.js';
import { sanitizeOAuthText } from './errors.js';
import { parseJsonObject, request, type HttpResponse } from './http.js';

export interface EndpointCall {
  config: ResolvedConfig;
  /** The issuer identifier from the metadata, used as the client assertion audience. */
  issuer: string;
  url: string;
  step: string;
  params: URLSearchParams;
  dpop?: { key: DpopKey; nonces: DpopNonces };
}

export async function postToEndpoint(call: EndpointCall): Promise<HttpResponse> {
  let res = await attempt(call);
  if (call.dpop && isDpopNonceChallenge(res)) {
    res = await attempt(call); // RFC 9449 §8: retry once with the nonce just remembered
  }
  return res;
}

async function attempt(call: EndpointCall): Promise<HttpResponse> {
  const auth = await clientAuthentication(call.config, call.issuer);
  const form = new URLSearchParams(call.params);
  for (const [key, value] of Object.entries(auth.params)) form.set(key, value);
  const headers = { ...auth.headers };
  if (call.dpop) {
    headers.dpop = await createProof(call.dpop.key, 'POST', call.url, { nonce: call.dpop.nonces.get(call.url) });
  }
  const agent = call.config.tls?.agent; // RFC 8705: the client certificate, on every connection
  const res = await request({ method: 'POST', url: call.url, headers, form, timeout: call.config.httpTimeout, step: call.step, ...(agent ? { agent } : {}) });
  call.dpop?.nonces.remember(call.url, res.headers);
  return res;
}

function isDpopNonceChallenge(res: HttpResponse): boolean {
  if ((res.status !== 400 && res.status !== 401) || typeof res.headers['dpop-nonce'] !== 'string') return false;
  return oauthErrorOf(res).error === 'use_dpop_nonce';
}

/** RFC 6749 §5.2 error fields from a response, sanitized for messages; empty when there are none. */
export function oauthErrorOf(res: HttpResponse): { error?: string; error_description?: string } {
  const body = parseJsonObject(res.body);
  const out: { error?: string; error_description?: string } = {};
  const error = sanitizeOAuthText(body?.error, 100);
  const description = sanitizeOAuthText(body?.error_description);
  if (error) out.error = error;
  if (description) out.error_description = description;
  return out;
}
