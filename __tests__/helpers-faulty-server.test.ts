import { createHash, randomBytes } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';

const REDIRECT_URI = 'http://127.0.0.1:9/callback'; // never requested

const basicAuth = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const form = (params: Record<string, string>) => new URLSearchParams(params);

interface Flow { verifier: string; state: string; nonce: string; code: string; callback: URL }

/** PAR (client_secret_basic) → /authorize → parse the redirect (never requested). */
async function authorize(server: FaultyServer): Promise<Flow> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const par = await fetch(server.url('/par'), {
    method: 'POST',
    headers: { authorization: basicAuth(server.clientId, server.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: form({
      response_type: 'code', client_id: server.clientId, redirect_uri: REDIRECT_URI, scope: 'openid profile',
      state, nonce, code_challenge: challenge, code_challenge_method: 'S256',
    }),
  });
  expect(par.status).toBe(201);
  const { request_uri: requestUri } = await par.json() as { request_uri: string };
  const authz = new URL(server.url('/authorize'));
  authz.search = form({ client_id: server.clientId, request_uri: requestUri }).toString();
  const res = await fetch(authz, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const callback = new URL(res.headers.get('location')!);
  return { verifier, state, nonce, code: callback.searchParams.get('code') ?? '', callback };
}

function redeem(server: FaultyServer, code: string, verifier: string): Promise<Response> {
  return fetch(server.url('/token'), {
    method: 'POST',
    headers: { authorization: basicAuth(server.clientId, server.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
}

describe('faulty authorization server, behaving correctly', () => {
  let server: FaultyServer;
  beforeAll(async () => { server = await startFaultyServer(); });
  afterAll(async () => { await server?.close(); });
  beforeEach(() => server.reset());

  it('publishes OpenID discovery metadata that requires PAR and PKCE S256', async () => {
    const res = await fetch(server.url('/.well-known/openid-configuration'));
    const md = await res.json() as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(md).toMatchObject({
      issuer: server.issuer,
      authorization_endpoint: `${server.issuer}/authorize`,
      token_endpoint: `${server.issuer}/token`,
      jwks_uri: `${server.issuer}/jwks`,
      pushed_authorization_request_endpoint: `${server.issuer}/par`,
      require_pushed_authorization_requests: true,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ['S256'],
    });
    expect(server.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(server.url('/.well-known/oauth-authorization-server'))).status).toBe(404);
  });

  it('completes discovery, PAR, authorize and token exchange with a verifiable ID token', async () => {
    const md = await (await fetch(server.url('/.well-known/openid-configuration'))).json() as Record<string, string>;
    const flow = await authorize(server);
    expect(flow.callback.origin + flow.callback.pathname).toBe(REDIRECT_URI);
    expect(flow.callback.searchParams.get('state')).toBe(flow.state);
    expect(flow.callback.searchParams.get('iss')).toBe(server.issuer);
    expect(flow.code).not.toBe('');

    const res = await redeem(server, flow.code, flow.verifier);
    expect(res.status).toBe(200);
    const tokens = await res.json() as Record<string, unknown>;
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'openid profile' });
    expect(typeof tokens.access_token).toBe('string');
    expect(typeof tokens.refresh_token).toBe('string');

    const { payload, protectedHeader } = await jwtVerify(tokens.id_token as string, createRemoteJWKSet(new URL(md.jwks_uri!)), {
      issuer: md.issuer!, audience: server.clientId, algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toBe(server.keys.signing.kid);
    expect(payload).toMatchObject({ sub: 'user-123', nonce: flow.nonce, aud: server.clientId, name: 'Test User' });
    expect(server.requestsTo('/par')[0]?.clientAuth).toBe('client_secret_basic');
    expect(server.requestsTo('/token')[0]?.body.code_verifier).toBe(flow.verifier);
  });

  it('rejects a second redemption of the same code with invalid_grant', async () => {
    const flow = await authorize(server);
    expect((await redeem(server, flow.code, flow.verifier)).status).toBe(200);
    const again = await redeem(server, flow.code, flow.verifier);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('rejects a wrong code_verifier with invalid_grant', async () => {
    const flow = await authorize(server);
    const res = await redeem(server, flow.code, pkcePair().verifier);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('accepts client_secret_post and rejects a wrong secret with 401 invalid_client', async () => {
    const { challenge } = pkcePair();
    const params = {
      response_type: 'code', client_id: server.clientId, redirect_uri: REDIRECT_URI, state: 's', code_challenge: challenge, code_challenge_method: 'S256',
    };
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const ok = await fetch(server.url('/par'), { method: 'POST', headers, body: form({ ...params, client_secret: server.clientSecret }) });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/), expires_in: 90 });
    const bad = await fetch(server.url('/par'), { method: 'POST', headers, body: form({ ...params, client_secret: 'nope' }) });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: 'invalid_client' });
    const { code_challenge: _omitted, ...noPkce } = params;
    const missing = await fetch(server.url('/par'), { method: 'POST', headers, body: form({ ...noPkce, client_secret: server.clientSecret }) });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('faulty authorization server, misbehaving on demand', () => {
  let server: FaultyServer;
  beforeAll(async () => { server = await startFaultyServer(); });
  afterAll(async () => { await server?.close(); });
  beforeEach(() => server.reset());

  it('answers PAR with a 500 HTML page when told to', async () => {
    server.fault.par = { status: 500, body: '<html>oops</html>' };
    const res = await fetch(server.url('/par'), { method: 'POST', body: form({}) });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toBe('<html>oops</html>');
  });

  it('announces a wrong issuer in discovery when told to, once', async () => {
    server.fault.discovery = { issuer: 'https://evil.example', times: 1 };
    const first = await (await fetch(server.url('/.well-known/openid-configuration'))).json() as Record<string, unknown>;
    const second = await (await fetch(server.url('/.well-known/openid-configuration'))).json() as Record<string, unknown>;
    expect(first.issuer).toBe('https://evil.example');
    expect(second.issuer).toBe(server.issuer);
  });

  it('can omit metadata and token fields and merge in others', async () => {
    server.fault.discovery = { omit: ['pushed_authorization_request_endpoint'], merge: { require_pushed_authorization_requests: false } };
    const md = await (await fetch(server.url('/.well-known/openid-configuration'))).json() as Record<string, unknown>;
    expect(md).not.toHaveProperty('pushed_authorization_request_endpoint');
    expect(md.require_pushed_authorization_requests).toBe(false);

    server.fault.token = { omit: ['id_token'], merge: { token_type: 'mac' } };
    const flow = await authorize(server);
    const tokens = await (await redeem(server, flow.code, flow.verifier)).json() as Record<string, unknown>;
    expect(tokens).not.toHaveProperty('id_token');
    expect(tokens.token_type).toBe('mac');
  });

  it('shapes the authorization response: no iss, a duplicated state, or an error instead of a code', async () => {
    server.fault.authorize = { iss: null, extraParams: [['state', 'other']] };
    const flow = await authorize(server);
    expect(flow.callback.searchParams.has('iss')).toBe(false);
    expect(flow.callback.searchParams.getAll('state')).toEqual([flow.state, 'other']);

    server.fault.authorize = { error: 'access_denied', errorDescription: 'user said no' };
    const denied = await authorize(server);
    expect(denied.callback.searchParams.get('error')).toBe('access_denied');
    expect(denied.callback.searchParams.get('error_description')).toBe('user said no');
    expect(denied.callback.searchParams.has('code')).toBe(false);
    expect(denied.callback.searchParams.get('iss')).toBe(server.issuer);
  });

  it('lets a test hand out any ID token: unsigned, foreign-signed, or with overridden claims', async () => {
    const jwks = createRemoteJWKSet(new URL(server.url('/jwks')));
    server.fault.idToken = (claims, sign) => sign(claims, { key: 'none' });
    let flow = await authorize(server);
    let idToken = (await (await redeem(server, flow.code, flow.verifier)).json() as { id_token: string }).id_token;
    expect(decodeProtectedHeader(idToken)).toEqual({ alg: 'none' });
    expect(idToken.endsWith('.')).toBe(true);

    server.fault.idToken = (claims, sign) => sign(claims, { key: 'foreign' });
    flow = await authorize(server);
    idToken = (await (await redeem(server, flow.code, flow.verifier)).json() as { id_token: string }).id_token;
    await expect(jwtVerify(idToken, jwks)).rejects.toThrow();

    delete server.fault.idToken;
    server.idTokenClaims = { aud: 'someone-else', nonce: undefined };
    flow = await authorize(server);
    idToken = (await (await redeem(server, flow.code, flow.verifier)).json() as { id_token: string }).id_token;
    const { payload } = await jwtVerify(idToken, jwks);
    expect(payload.aud).toBe('someone-else');
    expect(payload).not.toHaveProperty('nonce');
  });

  it('rotates its signing key so new ID tokens carry a kid the old JWKS lacks', async () => {
    const before = await (await fetch(server.url('/jwks'))).json() as { keys: Array<{ kid: string }> };
    const rotated = await server.rotateSigningKey();
    const after = await (await fetch(server.url('/jwks'))).json() as { keys: Array<{ kid: string }> };
    expect(before.keys.map((k) => k.kid)).not.toContain(rotated.kid);
    expect(after.keys.map((k) => k.kid)).toContain(rotated.kid);
    const flow = await authorize(server);
    const { id_token: idToken } = await (await redeem(server, flow.code, flow.verifier)).json() as { id_token: string };
    expect(decodeProtectedHeader(idToken).kid).toBe(rotated.kid);
  });

  it('publishes a key before signing with it, then rotates to that key', async () => {
    const kids = async () => ((await (await fetch(server.url('/jwks'))).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    const signingBefore = server.keys.signing.kid;
    const next = await server.addSigningKey();
    expect(await kids()).toEqual(expect.arrayContaining([signingBefore, next.kid]));
    let flow = await authorize(server);
    let { id_token: idToken } = await (await redeem(server, flow.code, flow.verifier)).json() as { id_token: string };
    expect(decodeProtectedHeader(idToken).kid).toBe(signingBefore);

    expect(await server.rotateSigningKey({ to: next })).toBe(next);
    const after = await kids();
    expect(after).toContain(next.kid);
    expect(after).not.toContain(signingBefore);
    expect(after.filter((kid) => kid === next.kid)).toHaveLength(1);
    const unpublished = await server.addSigningKey({ publish: false });
    expect(await kids()).not.toContain(unpublished.kid);
    flow = await authorize(server);
    ({ id_token: idToken } = await (await redeem(server, flow.code, flow.verifier)).json() as { id_token: string });
    expect(decodeProtectedHeader(idToken).kid).toBe(next.kid);
  });

  it('turns PAR off and on again: the metadata and POST /par follow parEnabled', async () => {
    server.parEnabled = false;
    const off = await (await fetch(server.url('/.well-known/openid-configuration'))).json() as Record<string, unknown>;
    expect(off).not.toHaveProperty('pushed_authorization_request_endpoint');
    expect(off).not.toHaveProperty('require_pushed_authorization_requests');
    expect((await fetch(server.url('/par'), { method: 'POST' })).status).toBe(404);

    server.parEnabled = true;
    const on = await (await fetch(server.url('/.well-known/openid-configuration'))).json() as Record<string, unknown>;
    expect(on.pushed_authorization_request_endpoint).toBe(server.url('/par'));
    expect((await authorize(server)).callback.searchParams.has('code')).toBe(true);

    server.parEnabled = false;
    server.reset();
    expect(server.parEnabled).toBe(true);
  });

  it('streams a huge token response without declaring its length', async () => {
    const bytes = 5 * 1024 * 1024;
    server.fault.token = { huge: { bytes } };
    const res = await fetch(server.url('/token'), { method: 'POST', body: form({ grant_type: 'authorization_code' }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    let received = 0;
    let first = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!first) first = Buffer.from(chunk).toString('utf8', 0, 17);
      received += chunk.byteLength;
    }
    expect(first).toBe('{"access_token":"');
    expect(received).toBe(bytes);
  });

  it('stops streaming when the client gives up early', async () => {
    server.fault.token = { huge: { bytes: 200 * 1024 * 1024 } };
    const controller = new AbortController();
    const res = await fetch(server.url('/token'), { method: 'POST', signal: controller.signal });
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 1024 * 1024) received += (await reader.read()).value?.byteLength ?? 0;
    controller.abort();
    await expect(reader.read()).rejects.toThrow();
    // the server stays usable
    expect((await fetch(server.url('/jwks'))).status).toBe(200);
  });
});

describe('faulty authorization server, lifecycle and odd credentials', () => {
  it('form-urlencodes client credentials in Basic auth per RFC 6749 section 2.3.1', async () => {
    const server = await startFaultyServer({ clientId: 'client:id with space&+', clientSecret: 'sec ret:%+/=-0123456789abcdefghijklmnopqrstuv' });
    try {
      const flow = await authorize(server);
      expect((await redeem(server, flow.code, flow.verifier)).status).toBe(200);
      expect(server.requestsTo('/token')[0]?.clientAuth).toBe('client_secret_basic');
    } finally {
      await server.close();
    }
  });

  it('releases hanging requests when closed', async () => {
    const server = await startFaultyServer();
    server.fault.discovery = { hang: true };
    server.fault.jwks = { delayMs: 60_000 };
    const hung = fetch(server.url('/.well-known/openid-configuration')).then((r) => r.text());
    const slow = fetch(server.url('/jwks')).then((r) => r.text());
    const outcomes = Promise.allSettled([hung, slow]);
    while (server.requests.length < 2) await new Promise((r) => setTimeout(r, 10));
    await server.close();
    expect((await outcomes).map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });
});
