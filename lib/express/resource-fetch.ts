/**
 * `req.oidc.fetch()`: call an API (a resource server of the app, not the authorization server) as the
 * user, with global `fetch`. The access token goes as a Bearer token (RFC 6750 §2.1) or DPoP-bound with
 * a fresh proof (RFC 9449 §7); the resource server's `use_dpop_nonce` challenge is answered once (§9),
 * and a 401 `invalid_token` renews the token once (RFC 6750 §3.1) before the request is sent again.
 * Only the origin of the URL the app gave gets the token and proofs: redirects are followed here (when
 * asked), never by fetch with our headers, and `http:` is refused but for loopback hosts.
 */
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { Request } from 'express';
import { presentedToken, type PresentedToken } from './access-token.js';
import { accessTokenHeaders, retryOnNonceChallenge } from '../protocol/dpop.js';
import type { Engine } from '../engine/engine.js';
import type { ApiTarget } from '../core/model.js';
import { isLoopbackHost } from '../core/url.js';
import { readStoredLogin } from '../state/login.js';
import { challengeError, isResourceNonceChallenge } from '../protocol/www-authenticate.js';
import { readStepUpChallenge, stepUpChallenge } from '../protocol/step-up.js';
import { StepUpRequiredError } from '../core/errors.js';

/** As fetch itself (WHATWG Fetch, HTTP-redirect fetch: a 21st redirect is a network error). */
const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Fetch, HTTP-redirect fetch: dropped with the body when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-type', 'content-encoding', 'content-language', 'content-location', 'content-length'];
/** Never sent to an origin other than the one the app gave. */
const CREDENTIAL_HEADERS = ['authorization', 'dpop', 'proxy-authorization', 'cookie'];

/** One `req.oidc.fetch()` call. */
interface Call {
  req: Request;
  engine: Engine;
  init: RequestInit;
  /** The URL the app gave: the only origin that gets the token. */
  url: URL;
  /** A streamed body can be sent once only: no retry, no 307/308 redirect then. */
  replayable: boolean;
  /** Another API's token (`{ audience | resource, scope }`); the login's own when undefined. */
  target: ApiTarget | undefined;
}

/** One request of a call: the first, a retry, or a redirect's. */
interface Hop {
  url: URL;
  method: string;
  body: RequestInit['body'];
  /** A redirect turned a request with a body into a GET: its body headers go too. */
  bodyDropped: boolean;
  /** Carries the access token (and a DPoP proof): only to the call's origin, and never after a hop left it. */
  credentialed: boolean;
}

/**
 * `req.oidc.fetch(url, init, { audience | resource, scope })`: the request as the user, with the login's
 * access token or (with `target`) that API's, renewed once when the API refuses the token.
 */
export async function fetchAsUser(
  req: Request,
  engine: Engine,
  input: string | URL,
  init: RequestInit = {},
  target?: ApiTarget,
): Promise<Response> {
  const replayable = !(init.body instanceof ReadableStream);
  const call: Call = { req, engine, init, url: resourceUrl(input), replayable, target };
  const token = await presentedToken(req, engine, { target });
  const first = await follow(call, token);
  const { res, credentialed } = first;
  const refused = res.status === 401 && challengeError(res.headers.get('www-authenticate')) === 'invalid_token';
  if (!call.replayable || !credentialed || !refused) return stepUpChecked(first);
  if (!readStoredLogin(req, engine.signInKey)?.refreshToken) return res; // nothing to renew with: the app sees the 401
  await discard(res);
  return stepUpChecked(await follow(call, await presentedToken(req, engine, { rejected: token.token, target })));
}

/**
 * RFC 9470 §3: the API that got the token answers that the user must authenticate again (`401` with
 * `error="insufficient_user_authentication"`): a 401 `step_up_required` error carrying what it asks for, so
 * the app can send the user through a login that asks for it. Its values are never quoted in the message.
 */
async function stepUpChecked({ res, credentialed }: { res: Response; credentialed: boolean }): Promise<Response> {
  const asked = credentialed ? readStepUpChallenge(res.status, res.headers.get('www-authenticate')) : undefined;
  if (!asked) return res;
  await discard(res);
  const message = 'The API asks the user to authenticate again, more strongly or more recently (RFC 9470): ' +
    'send the user through res.oidc.login() with err.acrValues and err.maxAge.';
  throw new StepUpRequiredError(message, asked, stepUpChallenge(asked));
}

function resourceUrl(input: unknown): URL {
  if (typeof input !== 'string' && !(input instanceof URL)) {
    throw new TypeError('req.oidc.fetch(url, init): "url" must be a string or a URL');
  }
  const url = new URL(input);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('req.oidc.fetch(url, init): "url" must be an http(s) URL');
  }
  // The access token must not travel in the clear: http: only to a loopback host (an API in development).
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new TypeError(
      'req.oidc.fetch(url, init): "url" must use https: (http: only for loopback hosts such as localhost)',
    );
  }
  return url;
}

/**
 * The request and, with `init.redirect: 'follow'`, its redirects, followed here rather than by fetch: each
 * hop to the call's origin gets the token and a fresh DPoP proof for its own URL; a hop to another origin,
 * and every hop after it, gets neither. Without `'follow'` the app gets the 3xx (`'error'`: a TypeError).
 */
async function follow(call: Call, token: PresentedToken): Promise<{ res: Response; credentialed: boolean }> {
  const mode = call.init.redirect ?? 'manual';
  const method = (call.init.method ?? 'GET').toUpperCase();
  let hop: Hop = { url: call.url, method, body: call.init.body, bodyDropped: false, credentialed: true };
  for (let redirects = 0; ; redirects += 1) {
    const res = await send(call, hop, token);
    const location = REDIRECT_STATUSES.has(res.status) ? res.headers.get('location') : null;
    if (location === null || mode === 'manual') return { res, credentialed: hop.credentialed };
    await discard(res);
    if (mode === 'error') throw new TypeError('req.oidc.fetch(): a redirect, and init.redirect is "error"');
    if (redirects >= MAX_REDIRECTS) throw new TypeError(`req.oidc.fetch(): more than ${MAX_REDIRECTS} redirects`);
    hop = redirected(call, hop, res.status, location);
  }
}

function redirected(call: Call, hop: Hop, status: number, location: string): Hop {
  const url = new URL(location, hop.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('req.oidc.fetch(): a redirect to a non-http(s) URL');
  }
  // Fetch, HTTP-redirect fetch: a 303 (but for HEAD), and a 301/302 after a POST, go on as a GET without a body.
  const asGet = (status === 303 && hop.method !== 'HEAD') || (status <= 302 && hop.method === 'POST');
  if (!asGet && hop.body != null && !call.replayable) {
    throw new TypeError('req.oidc.fetch(): a 307/308 redirect cannot be followed with a streamed body');
  }
  return {
    url,
    method: asGet ? 'GET' : hop.method,
    body: asGet ? undefined : hop.body,
    bodyDropped: hop.bodyDropped || (asGet && hop.body != null),
    credentialed: hop.credentialed && url.origin === call.url.origin,
  };
}

/** One hop; a DPoP hop answered with the server's `use_dpop_nonce` challenge goes again once (RFC 9449 §9). */
function send(call: Call, hop: Hop, token: PresentedToken): Promise<Response> {
  const challenged = (res: Response) =>
    hop.credentialed &&
    call.replayable &&
    token.tokenType === 'DPoP' &&
    isResourceNonceChallenge(res.status, res.headers.get('www-authenticate'), res.headers.get('dpop-nonce'));
  return retryOnNonceChallenge(() => sendOnce(call, hop, token), challenged, discard);
}

async function sendOnce(call: Call, hop: Hop, token: PresentedToken): Promise<Response> {
  const { req, engine, init } = call;
  const headers = new Headers(init.headers);
  if (hop.bodyDropped) for (const name of BODY_HEADERS) headers.delete(name);
  if (!hop.credentialed) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
  else {
    // An API's DPoP-bound token is bound to the login's key, as the login's own token is.
    const login = readStoredLogin(req, engine.signInKey);
    const dpop = login ? await engine.dpopFor({ ...login, tokenType: token.tokenType }) : undefined;
    const presented = await accessTokenHeaders(token.token, hop.method, hop.url, dpop);
    headers.set('authorization', presented.authorization);
    if ('dpop' in presented) headers.set('dpop', presented.dpop);
  }
  const options = { ...init, method: hop.method, headers, body: hop.body, redirect: 'manual' as const };
  // RFC 8705 §3: a certificate-bound token goes over a connection that presents the same certificate.
  const bound = hop.credentialed && token.certificateBound && hop.url.protocol === 'https:';
  const agent = bound ? engine.config.tls?.agent : undefined;
  const res = agent ? await fetchWithAgent(hop.url, options, agent) : await fetch(hop.url, options);
  if (hop.credentialed && token.tokenType === 'DPoP') {
    engine.dpopNonces.remember(hop.url, { 'dpop-nonce': res.headers.get('dpop-nonce') ?? undefined });
  }
  return res;
}

type AgentInit = RequestInit & { method: string; headers: Headers };

/** A node:https answer as a fetch Response (no body for HEAD, 204, 205 and 304). */
function toResponse(incoming: IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    for (const one of [value ?? []].flat()) headers.append(name, one);
  }
  const status = incoming.statusCode ?? 502;
  const empty = method === 'HEAD' || [204, 205, 304].includes(status);
  if (empty) incoming.resume();
  const body = empty ? null : (Readable.toWeb(incoming) as ReadableStream);
  return new Response(body, { status, statusText: incoming.statusMessage ?? '', headers });
}

/** `fetch` over node:https with the client certificate's agent (global fetch cannot present one); no redirects. */
async function fetchWithAgent(url: URL, init: AgentInit, agent: https.Agent): Promise<Response> {
  const given = init.body === undefined || init.body === null ? undefined : init.body;
  const body = given === undefined ? undefined : Buffer.from(await new Response(given).arrayBuffer());
  if (body && !init.headers.has('content-type') && typeof init.body === 'string') {
    init.headers.set('content-type', 'text/plain;charset=UTF-8');
  }
  return new Promise((resolve, reject) => {
    const options = { method: init.method, headers: Object.fromEntries(init.headers), agent };
    const out = https.request(url, options, (incoming) => resolve(toResponse(incoming, init.method)));
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
