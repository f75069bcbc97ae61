/**
 * `req.oidc.fetch()`: call an API (a resource server of the app, not the authorization server) as the
 * user, with global `fetch`. The access token goes as a Bearer token (RFC 6750 §2.1) or DPoP-bound with
 * a fresh proof (RFC 9449 §7); the resource server's `use_dpop_nonce` challenge is answered once (§9),
 * and a 401 `invalid_token` renews the token once (RFC 6750 §3.1) before the request is sent again.
 */
import https from 'node:https';
import { Readable } from 'node:stream';
import type { Request } from 'express';
import { getAccessToken } from './access-token.js';
import { createProof } from '../protocol/dpop.js';
import type { Engine } from '../engine.js';
import { readStoredLogin } from '../plumbing/sign-in-state.js';
import { challengeError, isResourceNonceChallenge } from '../protocol/www-authenticate.js';

export async function fetchAsUser(req: Request, engine: Engine, input: string | URL, init: RequestInit = {}): Promise<Response> {
  if (typeof input !== 'string' && !(input instanceof URL)) throw new TypeError('req.oidc.fetch(url, init): "url" must be a string or a URL');
  const url = new URL(input);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('req.oidc.fetch(url, init): "url" must be an http(s) URL');
  const method = (init.method ?? 'GET').toUpperCase();
  // A streamed body can be sent once only: no retry then.
  const replayable = !(init.body instanceof ReadableStream);

  const once = async (token: string): Promise<Response> => {
    const login = readStoredLogin(req, engine.signInKey);
    const headers = new Headers(init.headers);
    if (login?.tokenType === 'DPoP') {
      const key = await engine.dpopKey(login.dpopJwk as never);
      if (!key) throw new TypeError('the DPoP key of this login is missing');
      headers.set('authorization', `DPoP ${token}`);
      headers.set('dpop', await createProof(key, method, url, { accessToken: token, nonce: engine.dpopNonces.get(url) }));
    } else {
      headers.set('authorization', `Bearer ${token}`);
    }
    // RFC 8705 §3: a certificate-bound token goes over a connection that presents the same certificate.
    const agent = login?.certificateBound && url.protocol === 'https:' ? engine.config.tls?.agent : undefined;
    // The token is for this URL: redirects are not followed unless the app asks for it.
    const res = agent ? await fetchWithAgent(url, { ...init, method, headers }, agent) : await fetch(url, { redirect: 'manual', ...init, method, headers });
    engine.dpopNonces.remember(url, { 'dpop-nonce': res.headers.get('dpop-nonce') ?? undefined });
    return res;
  };

  const send = async (token: string): Promise<Response> => {
    const res = await once(token);
    if (replayable && readStoredLogin(req, engine.signInKey)?.tokenType === 'DPoP' && isResourceNonceChallenge(res.status, res.headers.get('www-authenticate'), res.headers.get('dpop-nonce'))) {
      await discard(res);
      return once(token); // RFC 9449 §9: again, with the nonce just remembered
    }
    return res;
  };

  const token = await getAccessToken(req, engine);
  const res = await send(token);
  if (!replayable || res.status !== 401 || challengeError(res.headers.get('www-authenticate')) !== 'invalid_token') return res;
  if (!readStoredLogin(req, engine.signInKey)?.refreshToken) return res; // nothing to renew with: the app sees the 401
  await discard(res);
  return send(await getAccessToken(req, engine, { rejected: token }));
}

/** `fetch` over node:https with the client certificate's agent (global fetch cannot present one); no redirects. */
async function fetchWithAgent(url: URL, init: RequestInit & { method: string; headers: Headers }, agent: https.Agent): Promise<Response> {
  const body = init.body === undefined || init.body === null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer());
  if (body && !init.headers.has('content-type') && typeof init.body === 'string') init.headers.set('content-type', 'text/plain;charset=UTF-8');
  return new Promise((resolve, reject) => {
    const out = https.request(url, { method: init.method, headers: Object.fromEntries(init.headers), agent }, (incoming) => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(incoming.headers)) for (const one of [value ?? []].flat()) headers.append(name, one);
      const status = incoming.statusCode ?? 502;
      const empty = init.method === 'HEAD' || [204, 205, 304].includes(status);
      if (empty) incoming.resume();
      resolve(new Response(empty ? null : (Readable.toWeb(incoming) as ReadableStream), { status, statusText: incoming.statusMessage ?? '', headers }));
    });
    out.on('error', reject);
    init.signal?.addEventListener('abort', () => out.destroy(new Error('The request was aborted')), { once: true });
    out.end(body);
  });
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // already consumed or closed
  }
}
