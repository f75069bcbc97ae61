/**
 * A small programmable OAuth 2.0 / OpenID Connect authorization server for hostile-server tests.
 *
 * Real HTTP on 127.0.0.1:<random port> (node:http). By default it behaves correctly: discovery, PAR
 * (RFC 9126, 201), non-interactive /authorize with RFC 9207 `iss`, /token with PKCE S256 and an
 * RS256 ID token, /jwks, /logout. A test makes one step misbehave by setting a field of `fault`:
 *
 *   server.fault.par = { status: 500, body: '<html>oops</html>' };
 *   server.fault.discovery = { issuer: 'https://evil.example' };
 *   server.fault.token = { omit: ['id_token'] };               // or merge: { token_type: 'mac' }
 *   server.fault.jwks = { hang: true };                        // released by close()
 *   server.fault.authorize = { iss: null, extraParams: [['state', 'other']] };
 *   server.fault.idToken = (claims, sign) => sign(claims, { key: 'foreign' });
 *   server.fault.userinfo = { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } };
 *   server.userinfoClaims = { sub: 'someone-else' };                // GET /userinfo (Bearer access token)
 *   server.userinfoSigned = { key: 'foreign' };                     // answer application/jwt instead
 *
 * A provider that changes while the app runs: `server.parEnabled = false` (no PAR endpoint in the
 * metadata, /par answers 404) until set back; `addSigningKey()` publishes a key before it is used;
 * `rotateSigningKey()` starts signing with a new (or a pre-published) key.
 *
 * Faults stay until reset() (or until `times` requests have used them). Every request is recorded.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload,
} from 'jose';

export type Params = Record<string, string | string[]>;
/**
 * The methods the server accepts (its metadata advertises more: client_secret_jwt and 'none' attempts get
 * invalid_client). private_key_jwt is accepted on the assertion's iss/sub/aud and type WITHOUT checking its
 * signature: enough for the FAPI 2.0 conformance cases, which are about what the client does with the
 * answers; client-auth.test.ts checks real assertions against oidc-provider.
 */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

export interface RecordedRequest {
  method: string;
  /** Path without query, e.g. '/token'. */
  path: string;
  headers: http.IncomingHttpHeaders;
  query: Params;
  /** Parsed application/x-www-form-urlencoded body ({} for other content types). Repeated keys become arrays. */
  body: Params;
  rawBody: string;
  /** How the client authenticated (PAR and token endpoint, when authentication succeeded). */
  clientAuth?: ClientAuthMethod;
}

/** How one endpoint's HTTP response is corrupted. Applied after the endpoint did its normal work. */
export interface ResponseFault {
  /** Apply to the next N requests of this step only, then the fault removes itself. */
  times?: number;
  /** Never answer (the request is released, i.e. its socket destroyed, by close()). */
  hang?: boolean;
  /** Answer only after this many milliseconds. */
  delayMs?: number;
  status?: number;
  /** Replace the body: a string is sent raw (content-type guessed: '<' html, '{'/'[' json, else text), anything else as JSON. */
  body?: string | Record<string, unknown> | unknown[];
  contentType?: string;
  headers?: Record<string, string>;
  /** Merged into the default JSON body; a key set to undefined is removed. */
  merge?: Record<string, unknown>;
  /** Keys removed from the default JSON body. */
  omit?: string[];
  /** Answer an RFC 6749 §5.2 error JSON instead (status 400 unless `status` is set). */
  error?: string;
  /** Answer the fault without doing the endpoint's work first (nothing consumed: e.g. use_dpop_nonce keeps the code). */
  skipWork?: boolean;
  errorDescription?: string;
  /**
   * Echo the request back, as some gateways do: `description` answers 400 invalid_request with the
   * request's raw body and headers in `error_description`; `body` answers 400 with them as a text body;
   * `{ param }` answers 400 invalid_request quoting that one body parameter (or `authorization` header).
   */
  echo?: 'description' | 'body' | { param: string };
  /** Stream `bytes` bytes of JSON-ish data ({"access_token":"aaaa…) in 64 KiB chunks, status 200 unless `status`; chunked unless declareLength. */
  huge?: { bytes: number; declareLength?: boolean; /** Set by the server while streaming: bytes actually written so far. */ sent?: number };
}

export interface DiscoveryFault extends ResponseFault {
  /** The `issuer` value in the metadata document (the server's real issuer is unchanged). */
  issuer?: string;
}

/** /authorize: `status`/`body` answer that page instead of redirecting; the rest shapes the redirect. */
export interface AuthorizeFault extends Pick<ResponseFault, 'times' | 'hang' | 'delayMs' | 'status' | 'body' | 'contentType' | 'headers'> {
  /** Override the `iss` parameter; null omits it. */
  iss?: string | null;
  /** Override the `state` parameter; null omits it. */
  state?: string | null;
  /** Override the `code` parameter; null omits it. */
  code?: string | null;
  /** Redirect with `error` (and `error_description`) instead of a code. */
  error?: string;
  errorDescription?: string;
  /** Redirect to this URL instead of the pushed redirect_uri. */
  redirectUri?: string;
  /** Appended after the regular parameters (may repeat them, e.g. [['state', 'other']]). */
  extraParams?: Array<[string, string]>;
}

export interface SignIdTokenOptions {
  /** Default RS256 (ES256 selects the EC key); HS256 for 'hmac-secret'. Other RSA algs (PS256, RS512…) re-import the RSA key. */
  alg?: string;
  /** 'signing' = the published key; 'foreign' = an unpublished key; 'hmac-secret' = the client secret; 'none' = unsigned. */
  key?: 'signing' | 'foreign' | 'hmac-secret' | 'none';
  /** Default: the published signing key's kid (also for 'foreign'); none for 'hmac-secret'. null omits it. */
  kid?: string | null;
  /** Extra protected header parameters. */
  header?: Record<string, unknown>;
}
export type IdTokenSigner = (claims: Record<string, unknown>, opts?: SignIdTokenOptions) => Promise<string>;

export interface Faults {
  discovery?: DiscoveryFault;
  /** /.well-known/oauth-authorization-server is 404 unless this is set (`{}` serves it correctly). */
  oauthMetadata?: DiscoveryFault;
  par?: ResponseFault;
  authorize?: AuthorizeFault;
  token?: ResponseFault;
  jwks?: ResponseFault;
  logout?: ResponseFault;
  userinfo?: ResponseFault;
  /** Produce the token endpoint's id_token yourself (default claims already include idTokenClaims). */
  idToken?: (defaultClaims: Record<string, unknown>, sign: IdTokenSigner) => Promise<string>;
}

export interface KeyPair { kid: string; alg: string; privateKey: CryptoKey; publicJwk: JWK; privateJwk: JWK }

export interface FaultyServer {
  /** http://127.0.0.1:<port> (no trailing slash). */
  issuer: string;
  url(path: string): string;
  clientId: string;
  clientSecret: string;
  /** `sub` of the next codes issued (default 'user-123'). */
  sub: string;
  /** How long an authorization code stays redeemable, in ms (default 60,000; reset() restores it). */
  codeLifetimeMs: number;
  /** Another path that serves the JWKS too (random per server), for `discovery: { merge: { jwks_uri } }`. */
  jwksAlias: string;
  /** signing (RS256) and signingEc (ES256) are published in /jwks; foreign/foreignEc are not. */
  keys: { signing: KeyPair; signingEc: KeyPair; foreign: KeyPair; foreignEc: KeyPair };
  requests: RecordedRequest[];
  requestsTo(path: string): RecordedRequest[];
  /** Every code, access token, refresh token and ID token this server handed out (for secret scans). */
  issued: string[];
  fault: Faults;
  /** Merged into every issued ID token; a key set to undefined deletes that claim. */
  idTokenClaims: Record<string, unknown>;
  /** false: the metadata has no PAR endpoint and POST /par answers 404 (an administrator has not turned PAR on yet). */
  parEnabled: boolean;
  /** Merged into the /userinfo answer ({ sub, name, email } of the token's grant); a key set to undefined deletes that claim. */
  userinfoClaims: Record<string, unknown>;
  /** Answer /userinfo as a signed JWT (application/jwt) with these signing options (iss and aud added unless userinfoClaims removes them). */
  userinfoSigned?: SignIdTokenOptions;
  /**
   * A refresh with `audience` (Auth0) or `resource` (RFC 8707) answers a JWT access token whose `aud` is what
   * was asked; set this to answer another audience instead (Auth0's default audience when the application's
   * refresh-token policy lacks the one asked), or `'opaque'` for an opaque token.
   */
  apiAudience?: string | string[] | 'opaque';
  /** Clears fault, idTokenClaims, userinfoClaims, userinfoSigned, apiAudience and requests, restores sub and parEnabled. Keys (and rotations) are kept. */
  reset(): void;
  /**
   * A new RS256 key (new kid), published in /jwks without signing with it yet (pre-rotation); with
   * `publish: false` only generated (rotateSigningKey({ to }) publishes it later, without a slow key generation).
   */
  addSigningKey(opts?: { publish?: boolean }): Promise<KeyPair>;
  /**
   * Signs with a new RS256 key from now on (`to`: one published earlier by addSigningKey, else a fresh
   * one); /jwks publishes it, plus the old one if keepOld.
   */
  rotateSigningKey(opts?: { keepOld?: boolean; to?: KeyPair }): Promise<KeyPair>;
  signIdToken: IdTokenSigner;
  /** Closes the server and every connection; hanging and delayed requests are released. */
  close(): Promise<void>;
}

export interface StartFaultyServerOptions {
  clientId?: string;
  clientSecret?: string;
  sub?: string;
}

/** `authorizationDetails`: what was pushed (RFC 9396), granted as asked and answered with every token. */
interface Grant { clientId: string; redirectUri: string; codeChallenge: string; state: string; nonce?: string; scope: string; sub: string; expiresAt: number; authorizationDetails?: unknown }
interface Reply { status: number; body: unknown; headers?: Record<string, string> }

class OAuthError extends Error {
  constructor(readonly status: number, readonly code: string, description: string) { super(description); }
}

const rand = (n = 24) => randomBytes(n).toString('base64url');
const b64u = (s: string) => Buffer.from(s).toString('base64url');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseParams(sp: URLSearchParams): Params {
  const out: Params = {};
  for (const [k, v] of sp) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function edit(base: Record<string, unknown>, merge: Record<string, unknown> = {}, omit: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base, ...merge };
  for (const k of Object.keys(out)) if (out[k] === undefined || omit.includes(k)) delete out[k];
  return out;
}

function one(p: Params, key: string, required = false): string | undefined {
  const v = p[key];
  if (Array.isArray(v)) throw new OAuthError(400, 'invalid_request', `${key} must not be repeated`);
  if (required && !v) throw new OAuthError(400, 'invalid_request', `${key} is required`);
  return v;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1_000_000) { reject(new Error('request body too large')); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function makeKey(alg: 'RS256' | 'ES256', kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk, privateJwk: await exportJWK(privateKey) };
}

export async function startFaultyServer(opts: StartFaultyServerOptions = {}): Promise<FaultyServer> {
  const [signing, signingEc, foreign, foreignEc] = await Promise.all([
    makeKey('RS256', `rsa-${rand(6)}`), makeKey('ES256', `ec-${rand(6)}`),
    makeKey('RS256', `foreign-rsa-${rand(6)}`), makeKey('ES256', `foreign-ec-${rand(6)}`),
  ]);
  const keys = { signing, signingEc, foreign, foreignEc };
  let jwks: JWK[] = [signing.publicJwk, signingEc.publicJwk];
  const clientId = opts.clientId ?? 'faulty-client';
  const clientSecret = opts.clientSecret ?? 'faulty-client-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
  const defaultSub = opts.sub ?? 'user-123';
  const pushed = new Map<string, Omit<Grant, 'sub'>>();
  const codes = new Map<string, Grant>();
  /** Refresh tokens issued, each for one use (rotated on every refresh). */
  const refreshTokens = new Map<string, Grant>();
  /** Access tokens issued, for /userinfo. */
  const accessTokens = new Map<string, Grant>();
  const hanging = new Set<http.ServerResponse>();
  const timers = new Set<() => void>();
  let closed = false;
  let issuer = '';

  const httpServer = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) { res.destroy(); return; }
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'server_error', error_description: err instanceof Error ? err.message : String(err) }));
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const url = (path: string) => `${issuer}${path}`;

  function take<K extends Exclude<keyof Faults, 'idToken'>>(name: K): Faults[K] {
    const f = server.fault[name];
    if (f && typeof f.times === 'number' && --f.times <= 0) delete server.fault[name];
    return f;
  }

  /** A fault with `echo` turned into the error it sends: the request's headers and body, verbatim. */
  function echoed(f: ResponseFault | undefined, rec: RecordedRequest): ResponseFault | undefined {
    if (!f?.echo) return f;
    if (typeof f.echo === 'object') {
      const value = f.echo.param === 'authorization' ? rec.headers.authorization : rec.body[f.echo.param];
      return { ...f, error: 'invalid_request', errorDescription: `${f.echo.param} "${String(value)}" is not acceptable` };
    }
    const text = `${rec.rawBody} ${JSON.stringify(rec.headers)}`;
    return f.echo === 'description' ? { ...f, error: 'invalid_request', errorDescription: `bad request: ${text}` } : { ...f, status: f.status ?? 400, body: `Bad request: ${text}`, contentType: 'text/plain' };
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); timers.delete(done); resolve(); };
      const timer = setTimeout(done, ms);
      timers.add(done);
    });
  }

  const metadata = (iss = issuer) => ({
    issuer: iss,
    authorization_endpoint: url('/authorize'),
    token_endpoint: url('/token'),
    jwks_uri: url('/jwks'),
    ...(server.parEnabled ? { pushed_authorization_request_endpoint: url('/par'), require_pushed_authorization_requests: true } : {}),
    end_session_endpoint: url('/logout'),
    userinfo_endpoint: url('/userinfo'),
    authorization_response_iss_parameter_supported: true,
    code_challenge_methods_supported: ['S256'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    subject_types_supported: ['public'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'name'],
  });

  async function send(res: http.ServerResponse, f: ResponseFault | undefined, status: number, body: unknown, headers: Record<string, string> = {}): Promise<void> {
    if (f?.hang) { hanging.add(res); res.on('close', () => hanging.delete(res)); return; }
    if (f?.delayMs) { await sleep(f.delayMs); if (closed) return; }
    if (f?.huge) return streamHuge(res, f, f.status ?? 200);
    if (f?.error !== undefined) {
      status = 400;
      body = edit({ error: f.error, error_description: f.errorDescription });
    } else if (f?.body !== undefined) body = f.body;
    else if (isObject(body) && (f?.merge || f?.omit)) body = edit(body, f.merge, f.omit);
    status = f?.status ?? status;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = f?.contentType ?? (typeof body !== 'string' || /^\s*[[{]/.test(text) ? 'application/json'
      : /^\s*</.test(text) ? 'text/html; charset=utf-8' : text ? 'text/plain; charset=utf-8' : undefined);
    res.writeHead(status, { ...(type ? { 'content-type': type } : {}), 'content-length': String(Buffer.byteLength(text)), ...headers, ...f?.headers });
    res.end(text);
  }

  async function streamHuge(res: http.ServerResponse, f: ResponseFault, status: number): Promise<void> {
    const { bytes, declareLength } = f.huge!;
    const head = Buffer.from('{"access_token":"');
    const tail = Buffer.from('","token_type":"Bearer","expires_in":3600}');
    let left = Math.max(0, bytes - head.length - tail.length);
    let gone = false;
    res.once('close', () => { gone = true; });
    res.writeHead(status, {
      'content-type': f.contentType ?? 'application/json',
      ...(declareLength ? { 'content-length': String(head.length + left + tail.length) } : {}),
      ...f.headers,
    });
    res.write(head);
    f.huge!.sent = head.length;
    const chunk = Buffer.alloc(64 * 1024, 'a');
    while (left > 0) {
      if (gone || closed) return;
      const n = Math.min(left, chunk.length);
      left -= n;
      f.huge!.sent! += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        await new Promise<void>((resolve) => {
          const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    if (!gone) res.end(tail);
  }

  function authenticateClient(req: http.IncomingMessage, body: Params): ClientAuthMethod {
    const invalid = (why: string) => new OAuthError(401, 'invalid_client', why);
    const auth = req.headers.authorization;
    const basic = auth !== undefined && /^basic /i.test(auth);
    if (basic && body.client_secret !== undefined) throw new OAuthError(400, 'invalid_request', 'more than one client authentication method');
    const bodyClientId = one(body, 'client_id');
    if (bodyClientId !== undefined && bodyClientId !== clientId) throw invalid('unknown client');
    if (basic) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      let id: string, secret: string;
      try {
        [id, secret] = [decoded.slice(0, i), decoded.slice(i + 1)].map((s) => decodeURIComponent(s.replace(/\+/g, ' '))) as [string, string];
      } catch { throw invalid('malformed Basic credentials'); }
      if (i < 0 || id !== clientId || secret !== clientSecret) throw invalid('client authentication failed');
      return 'client_secret_basic';
    }
    if (body.client_secret !== undefined) {
      if (bodyClientId !== clientId || one(body, 'client_secret') !== clientSecret) throw invalid('client authentication failed');
      return 'client_secret_post';
    }
    const assertion = one(body, 'client_assertion');
    if (assertion !== undefined && one(body, 'client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      let header: Record<string, unknown>, claims: Record<string, unknown>;
      try {
        [header, claims] = assertion.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))) as [Record<string, unknown>, Record<string, unknown>];
      } catch { throw invalid('malformed client_assertion'); }
      if (typeof header.alg !== 'string' || header.alg.startsWith('HS') || claims.iss !== clientId || claims.sub !== clientId || claims.aud !== issuer) {
        throw invalid('client_assertion is not a private_key_jwt assertion for this client and issuer');
      }
      return 'private_key_jwt';
    }
    throw invalid('client authentication required (client_secret_basic or client_secret_post)');
  }

  async function oauth(fn: () => Promise<Reply>): Promise<Reply> {
    try { return await fn(); } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      const headers: Record<string, string> = err.status === 401 ? { 'www-authenticate': 'Basic realm="faulty-server"' } : {};
      return { status: err.status, body: { error: err.code, error_description: err.message }, headers };
    }
  }

  async function par(req: http.IncomingMessage, body: Params, rec: RecordedRequest): Promise<Reply> {
    rec.clientAuth = authenticateClient(req, body);
    if (body.request_uri !== undefined) throw new OAuthError(400, 'invalid_request', 'request_uri must not be pushed');
    if (one(body, 'response_type', true) !== 'code') throw new OAuthError(400, 'invalid_request', 'response_type must be code');
    const redirectUri = one(body, 'redirect_uri', true)!;
    const codeChallenge = one(body, 'code_challenge', true)!;
    if (one(body, 'code_challenge_method') !== 'S256') throw new OAuthError(400, 'invalid_request', 'code_challenge_method must be S256');
    const state = one(body, 'state', true)!;
    const requestUri = `urn:ietf:params:oauth:request_uri:${rand()}`;
    const details = one(body, 'authorization_details');
    let authorizationDetails: unknown;
    try { authorizationDetails = details === undefined ? undefined : JSON.parse(details); } catch { throw new OAuthError(400, 'invalid_authorization_details', 'not JSON'); }
    pushed.set(requestUri, {
      clientId, redirectUri, codeChallenge, state, nonce: one(body, 'nonce'), scope: one(body, 'scope') ?? 'openid', expiresAt: Date.now() + 90_000, authorizationDetails,
    });
    return { status: 201, body: { request_uri: requestUri, expires_in: 90 } };
  }

  async function authorize(res: http.ServerResponse, rec: RecordedRequest): Promise<void> {
    const a = take('authorize');
    // Only the HTTP-level part goes to send(): `error` here means an error redirect, not an error JSON body.
    const f: ResponseFault | undefined = a && { hang: a.hang, delayMs: a.delayMs, status: a.status, body: a.body, contentType: a.contentType, headers: a.headers };
    const requestUri = typeof rec.query.request_uri === 'string' ? rec.query.request_uri : '';
    const p = pushed.get(requestUri);
    pushed.delete(requestUri);
    if (!p || p.expiresAt < Date.now() || rec.query.client_id !== p.clientId) {
      return send(res, f, 400, '<!doctype html><h1>invalid_request</h1><p>unknown, used or expired request_uri</p>');
    }
    const code = rand();
    server.issued.push(code);
    codes.set(code, { ...p, sub: server.sub, expiresAt: Date.now() + server.codeLifetimeMs });
    if (a?.status !== undefined || a?.body !== undefined) return send(res, f, 200, '');
    const target = new URL(a?.redirectUri ?? p.redirectUri);
    const put = (k: string, dflt: string | undefined, override: string | null | undefined) => {
      const v = override === undefined ? dflt : override;
      if (typeof v === 'string') target.searchParams.append(k, v);
    };
    put('error', undefined, a?.error);
    put('error_description', undefined, a?.errorDescription);
    put('code', a?.error ? undefined : code, a?.code);
    put('state', p.state, a?.state);
    put('iss', issuer, a?.iss);
    for (const [k, v] of a?.extraParams ?? []) target.searchParams.append(k, v);
    return send(res, f, 302, '', { location: target.href, 'cache-control': 'no-store' });
  }

  /** An API's access token (a refresh with `audience` or `resource`): a JWT for that audience, or what `apiAudience` says. */
  async function apiAccessToken(g: Grant, asked: string | string[], scope: string | undefined): Promise<string> {
    if (server.apiAudience === 'opaque') return rand();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, sub: g.sub, aud: server.apiAudience ?? asked, client_id: clientId, scope: scope ?? g.scope, iat: now, exp: now + 3600 };
    return server.signIdToken(claims, { header: { typ: 'at+jwt' } });
  }

  /** `dpop`: the token request carried a DPoP proof, so the token is DPoP-bound (RFC 9449 §5; the proof itself is not checked). */
  async function issueTokens(g: Grant, dpop = false, api?: { asked: string | string[]; scope?: string }): Promise<Reply> {
    const now = Math.floor(Date.now() / 1000);
    const claims = edit({
      iss: issuer, sub: g.sub, aud: clientId, exp: now + 3600, iat: now, nonce: g.nonce, name: 'Test User',
    }, server.idTokenClaims);
    const sign: IdTokenSigner = (c, o) => server.signIdToken(c, o);
    const idToken = server.fault.idToken ? await server.fault.idToken(claims, sign) : await sign(claims);
    const refreshToken = rand();
    refreshTokens.set(refreshToken, { ...g, nonce: undefined });
    const accessToken = api ? await apiAccessToken(g, api.asked, api.scope) : rand();
    accessTokens.set(accessToken, g);
    server.issued.push(accessToken, refreshToken, idToken);
    const details = g.authorizationDetails === undefined ? {} : { authorization_details: g.authorizationDetails };
    return {
      status: 200,
      body: { access_token: accessToken, token_type: dpop ? 'DPoP' : 'Bearer', expires_in: 3600, id_token: idToken, refresh_token: refreshToken, scope: g.scope, ...details },
      headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
    };
  }

  async function token(req: http.IncomingMessage, body: Params, rec: RecordedRequest): Promise<Reply> {
    rec.clientAuth = authenticateClient(req, body);
    const grantType = one(body, 'grant_type', true);
    const invalidGrant = (why: string) => new OAuthError(400, 'invalid_grant', why);
    if (grantType === 'refresh_token') {
      const presented = one(body, 'refresh_token', true)!;
      const g = refreshTokens.get(presented);
      refreshTokens.delete(presented);
      if (!g) throw invalidGrant('unknown or used refresh token');
      const asked = body.audience ?? body.resource; // Auth0's audience; RFC 8707 resource (repeated for several)
      const api = asked === undefined ? undefined : { asked, ...(typeof body.scope === 'string' ? { scope: body.scope } : {}) };
      return issueTokens({ ...g, sub: server.sub }, req.headers.dpop !== undefined, api); // RFC 6749 §6; a new ID token without nonce (Core §12.2)
    }
    if (grantType !== 'authorization_code') throw new OAuthError(400, 'unsupported_grant_type', `unsupported grant_type ${grantType}`);
    const code = one(body, 'code', true)!;
    const g = codes.get(code);
    codes.delete(code);
    if (!g || g.expiresAt < Date.now() || g.clientId !== clientId) throw invalidGrant('unknown, used or expired code');
    if (one(body, 'redirect_uri') !== g.redirectUri) throw invalidGrant('redirect_uri does not match');
    const verifier = one(body, 'code_verifier');
    if (!verifier || createHash('sha256').update(verifier).digest('base64url') !== g.codeChallenge) throw invalidGrant('PKCE verification failed');
    return issueTokens(g, req.headers.dpop !== undefined);
  }

  /** OpenID Connect Core §5.3 with an RFC 6750 §2.1 Bearer token; RFC 6750 §3 challenges when it is missing or unknown. */
  async function userinfo(rec: RecordedRequest): Promise<Reply> {
    const match = /^Bearer ([\w.~+/-]+=*)$/.exec(String(rec.headers.authorization ?? ''));
    const g = match ? accessTokens.get(match[1]!) : undefined;
    if (!g) {
      const error = match ? 'error="invalid_token"' : 'error="invalid_request"';
      return { status: 401, body: '', headers: { 'www-authenticate': `Bearer realm="faulty-server", ${error}` } };
    }
    const claims = edit({ sub: g.sub, name: 'Test User', email: `${g.sub}@example.com` }, server.userinfoClaims);
    if (!server.userinfoSigned) return { status: 200, body: claims };
    const jwt = await server.signIdToken(edit({ iss: issuer, aud: clientId }, claims), server.userinfoSigned);
    return { status: 200, body: jwt, headers: { 'content-type': 'application/jwt' } };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', issuer);
    const rawBody = await readBody(req);
    const form = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET', path: u.pathname, headers: req.headers, query: parseParams(u.searchParams),
      body: form ? parseParams(new URLSearchParams(rawBody)) : {}, rawBody,
    };
    server.requests.push(rec);
    switch (`${rec.method} ${rec.path}`) {
      case 'GET /.well-known/openid-configuration': {
        const f = take('discovery');
        return send(res, f, 200, metadata(f?.issuer));
      }
      case 'GET /.well-known/oauth-authorization-server': {
        const f = take('oauthMetadata');
        return f ? send(res, f, 200, metadata(f.issuer)) : send(res, undefined, 404, { error: 'not_found' });
      }
      case 'POST /par': {
        if (!server.parEnabled) return send(res, undefined, 404, { error: 'not_found' });
        const f = echoed(take('par'), rec);
        const r = await oauth(() => par(req, rec.body, rec));
        return send(res, f, r.status, r.body, r.headers);
      }
      case 'GET /authorize':
        return authorize(res, rec);
      case 'POST /token': {
        const f = echoed(take('token'), rec);
        const r = f?.skipWork ? { status: 400, body: {} } : await oauth(() => token(req, rec.body, rec));
        return send(res, f, r.status, r.body, r.headers);
      }
      case 'GET /jwks':
        return send(res, take('jwks'), 200, { keys: jwks }, { 'cache-control': 'no-store' });
      case 'GET /userinfo': {
        const r = await userinfo(rec);
        return send(res, echoed(take('userinfo'), rec), r.status, r.body, r.headers);
      }
      case `GET ${server.jwksAlias}`:
        // a second JWKS location, for a discovery document that names another jwks_uri
        return send(res, take('jwks'), 200, { keys: jwks }, { 'cache-control': 'no-store' });
      case 'GET /logout':
        return send(res, take('logout'), 200, 'Signed out.');
      default:
        return send(res, undefined, 404, { error: 'not_found' });
    }
  }

  const server: FaultyServer = {
    issuer,
    url,
    clientId,
    clientSecret,
    sub: defaultSub,
    codeLifetimeMs: 60_000,
    jwksAlias: `/keys-${rand(6)}`,
    keys,
    requests: [],
    requestsTo: (path) => server.requests.filter((r) => r.path === path),
    issued: [],
    fault: {},
    idTokenClaims: {},
    parEnabled: true,
    userinfoClaims: {},
    reset() {
      for (const k of Object.keys(server.fault) as Array<keyof Faults>) delete server.fault[k];
      server.idTokenClaims = {};
      server.userinfoClaims = {};
      delete server.userinfoSigned;
      delete server.apiAudience;
      server.requests.length = 0;
      server.issued.length = 0;
      server.sub = defaultSub;
      server.parEnabled = true;
      server.codeLifetimeMs = 60_000;
    },
    async addSigningKey({ publish = true } = {}) {
      const added = await makeKey('RS256', `rsa-${rand(6)}`);
      if (publish) jwks = [...jwks, added.publicJwk];
      return added;
    },
    async rotateSigningKey({ keepOld = false, to } = {}) {
      const old = keys.signing;
      keys.signing = to ?? await makeKey('RS256', `rsa-${rand(6)}`);
      const next = keys.signing;
      jwks = [next.publicJwk, ...jwks.filter((k) => k.kid !== next.kid && (keepOld || k.kid !== old.kid))];
      return next;
    },
    async signIdToken(claims, { alg, key = 'signing', kid, header = {} } = {}) {
      if (key === 'none') return `${b64u(JSON.stringify({ alg: 'none', ...header }))}.${b64u(JSON.stringify(claims))}.`;
      let signingKey: CryptoKey | Uint8Array;
      if (key === 'hmac-secret') {
        alg ??= 'HS256';
        signingKey = new TextEncoder().encode(clientSecret);
      } else {
        alg ??= 'RS256';
        const ec = alg.startsWith('ES');
        const pair = key === 'signing' ? (ec ? keys.signingEc : keys.signing) : (ec ? keys.foreignEc : keys.foreign);
        const { alg: _drop, ...jwk } = pair.privateJwk;
        signingKey = alg === pair.alg ? pair.privateKey : (await importJWK(jwk, alg)) as CryptoKey;
        if (kid === undefined) kid = (ec ? keys.signingEc : keys.signing).kid;
      }
      return new SignJWT(claims as JWTPayload)
        .setProtectedHeader({ alg, ...(typeof kid === 'string' ? { kid } : {}), ...header })
        .sign(signingKey);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const release of [...timers]) release();
      for (const res of hanging) res.destroy();
      hanging.clear();
      const done = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeAllConnections();
      await done;
    },
  };
  return server;
}
