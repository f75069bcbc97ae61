/**
 * `req.oidc.fetch()`: call an API (a resource server of the app, not the authorization server) as the
 * user, with global `fetch`. The access token goes as a Bearer token (RFC 6750 §2.1) or DPoP-bound with
 * a fresh proof (RFC 9449 §7); the resource server's `use_dpop_nonce` challenge is answered once (§9),
 * and a 401 `invalid_token` renews the token once (RFC 6750 §3.1) before the request is sent again.
 */
import type { Request } from 'express';
import { getAccessToken } from './access-token.js';
import { createProof } from '../protocol/dpop.js';
import type { Engine } from '../engine.js';
import { readLogin } from '../plumbing/sign-in-state.js';
import { challengeError, isResourceNonceChallenge } from '../protocol/www-authenticate.js';

export async function fetchAsUser(req: Request, engine: Engine, input: string | URL, init: RequestInit = {}): Promise<Response> {
  if (typeof input !== 'string' && !(input instanceof URL)) throw new TypeError('req.oidc.fetch(url, init): "url" must be a string or a URL');
  const url = new URL(input);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('req.oidc.fetch(url, init): "url" must be an http(s) URL');
  const method = (init.method ?? 'GET').toUpperCase();
  // A streamed body can be sent once only: no retry then.
  const replayable = !(init.body instanceof ReadableStream);

  const once = async (token: string): Promise<Response> => {
    const login = readLogin(req, engine.signInKey);
    const headers = new Headers(init.headers);
    if (login?.tokenType === 'DPoP') {
      const key = await engine.dpopKey(login.dpopJwk as never);
      if (!key) throw new TypeError('the DPoP key of this login is missing');
      headers.set('authorization', `DPoP ${token}`);
      headers.set('dpop', await createProof(key, method, url, { accessToken: token, nonce: engine.dpopNonces.get(url) }));
    } else {
      headers.set('authorization', `Bearer ${token}`);
    }
    // The token is for this URL: redirects are not followed unless the app asks for it.
    const res = await fetch(url, { redirect: 'manual', ...init, method, headers });
    engine.dpopNonces.remember(url, { 'dpop-nonce': res.headers.get('dpop-nonce') ?? undefined });
    return res;
  };

  const send = async (token: string): Promise<Response> => {
    const res = await once(token);
    if (replayable && readLogin(req, engine.signInKey)?.tokenType === 'DPoP' && isResourceNonceChallenge(res.status, res.headers.get('www-authenticate'), res.headers.get('dpop-nonce'))) {
      await discard(res);
      return once(token); // RFC 9449 §9: again, with the nonce just remembered
    }
    return res;
  };

  const token = await getAccessToken(req, engine);
  const res = await send(token);
  if (!replayable || res.status !== 401 || challengeError(res.headers.get('www-authenticate')) !== 'invalid_token') return res;
  if (!readLogin(req, engine.signInKey)?.refreshToken) return res; // nothing to renew with: the app sees the 401
  await discard(res);
  return send(await getAccessToken(req, engine, { rejected: token }));
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // already consumed or closed
  }
}
