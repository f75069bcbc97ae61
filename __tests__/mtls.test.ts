/**
 * Mutual TLS (RFC 8705) against oidc-provider served over TLS on two loopback hosts: the issuer host
 * (no client certificate) and an alias host that asks for one and is advertised in
 * `mtls_endpoint_aliases` (§5). Certificates are made at test time with openssl.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import https from 'node:https';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { generateKeyPairSync } from './helpers/keys.js';
import type { AddressInfo } from 'node:net';
import type { Express, Request } from 'express';
import { decodeJwt, type JWK } from 'jose';
import type { ParAuthConfig } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { derBase64, makeTestCertificates, x5tS256, type TestCertificates } from './helpers/certs.js';
import { fetchTrusting, startMtlsProvider, type MtlsProvider } from './helpers/mtls-provider.js';
import { serveClientJwks, type ClientJwksServer } from './helpers/provider.js';

// The loggers read DEBUG when the library loads: on, so a test can check that no key or certificate is logged.
process.env.DEBUG = 'express-par:*';
const { checkProvider, parAuth, requiresAuth } = await import('../lib/index.js');
const { request } = await import('../lib/net/http.js');
const requestKeys = await import('../lib/express/request-keys.js');
const engineOf = (req: Request) => requestKeys.engineOf(req)!;
const logLines: string[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);

let certs: TestCertificates;
let op: MtlsProvider;
let jwksServer: ClientJwksServer;
const fapiKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const apps = {} as Record<'pki' | 'selfSigned' | 'wrongCert' | 'noCa' | 'fapi' | 'fapiJwt', TestApp>;
const MARKUP = /[<>"'&`]/;

/** Reads the userinfo endpoint as req.oidc.fetchUserInfo() will: engine.endpoint() + authorizationHeaders() + request(). */
async function userinfo(req: Request, agent: https.Agent | undefined) {
  const engine = engineOf(req);
  const url = (await engine.endpoint('userinfo_endpoint'))!;
  const headers = await req.oidc.authorizationHeaders('GET', url);
  const res = await request({ method: 'GET', url, headers, timeout: 5000, step: 'userinfo endpoint', ...(agent ? { agent } : {}) });
  return { url, status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
}

function mount(options: () => Omit<ParAuthConfig, 'baseURL'>) {
  return (a: Express, baseURL: string) => {
    a.use(parAuth({ ...options(), baseURL }));
    a.get('/me', requiresAuth(), (req, res) => {
      const { tokenType, accessToken, user } = req.oidc;
      const stored = Object.values(req.session.par ?? {})[0]!.login!;
      res.json({ sub: user?.sub, tokenType, accessToken, certificateBound: stored.certificateBound, cnf: stored.cnf });
    });
    a.get('/userinfo', requiresAuth(), (req, res, next) => {
      userinfo(req, engineOf(req).config.tls?.agent).then((out) => res.json(out), next);
    });
    // The same call over a connection that trusts the server but presents no client certificate.
    a.get('/fetch-userinfo', requiresAuth(), (req, res, next) => {
      req.oidc.fetchUserInfo().then((claims) => res.json(claims), next);
    });
    a.get('/fetch-api', requiresAuth(), (req, res, next) => {
      engineOf(req).endpoint('userinfo_endpoint').then((url) => req.oidc.fetch(url!)).then(async (answer) => res.json({ status: answer.status, body: await answer.json() }), next);
    });
    a.get('/userinfo-without-certificate', requiresAuth(), (req, res, next) => {
      userinfo(req, new https.Agent({ ca: certs.serverCa })).then((out) => res.json(out), next);
    });
    a.post('/refresh', requiresAuth(), (req, res, next) => {
      req.oidc.refresh().then(() => res.json({ ok: true }), next);
    });
    // An API's token (RFC 8707), then a call with it to a path of the alias host (which records the certificate).
    a.get('/api-token-fetch', requiresAuth(), (req, res, next) => {
      req.oidc.getAccessToken({ resource: MTLS_API }).then(async (token) => {
        const answer = await req.oidc.fetch(`${op.aliasOrigin}/api-check`, {}, { resource: MTLS_API });
        res.json({ token, status: answer.status });
      }, next);
    });
  };
}

const MTLS_API = 'https://api.mtls.example.com/';

function selfSignedJwk(pem: string): JWK {
  return { ...(createPublicKey(pem).export({ format: 'jwk' }) as JWK), x5c: [derBase64(pem)] };
}

const pub = (key: KeyObject): JWK => ({ ...(createPublicKey(key).export({ format: 'jwk' }) as JWK), kid: 'fapi-ec' });

beforeAll(async () => {
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (!String(chunk).includes('express-par:')) return (originalWrite as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
    logLines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  certs = makeTestCertificates();
  const tlsWith = (pair: { cert: string; key: string }) => ({ cert: pair.cert, key: pair.key, ca: certs.serverCa });
  const scope = { scope: 'openid profile email offline_access', prompt: 'consent', resource: MTLS_API };
  apps.pki = await startApp(mount(() => ({ issuerBaseURL: op.issuer, clientID: 'mtls-pki', clientAuthMethod: 'tls_client_auth', tls: tlsWith(certs.client), authorizationParams: scope })));
  apps.selfSigned = await startApp(mount(() => ({ issuerBaseURL: op.issuer, clientID: 'mtls-self-signed', clientAuthMethod: 'self_signed_tls_client_auth', tls: tlsWith(certs.selfSigned) })));
  apps.wrongCert = await startApp(mount(() => ({ issuerBaseURL: op.issuer, clientID: 'mtls-self-signed', clientAuthMethod: 'self_signed_tls_client_auth', tls: tlsWith(certs.stranger) })));
  apps.noCa = await startApp(mount(() => ({ issuerBaseURL: op.issuer, clientID: 'mtls-pki', clientAuthMethod: 'tls_client_auth', tls: { cert: certs.client.cert, key: certs.client.key } })));
  apps.fapi = await startApp(mount(() => ({ issuerBaseURL: op.issuer, clientID: 'fapi-mtls', profile: 'fapi2', clientAuthMethod: 'tls_client_auth', tls: tlsWith(certs.client) })));
  apps.fapiJwt = await startApp(mount(() => ({ issuerBaseURL: op.issuer, clientID: 'fapi-jwt-mtls', profile: 'fapi2', clientAssertionSigningKey: fapiKey, tls: tlsWith(certs.selfSigned) })));
  jwksServer = await serveClientJwks({ 'mtls-self-signed': { keys: [selfSignedJwk(certs.selfSigned.cert)] }, 'fapi-jwt-mtls': { keys: [pub(fapiKey)] } });

  const common = { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], tls_client_certificate_bound_access_tokens: true };
  const fapi = { ...common, id_token_signed_response_alg: 'ES256' };
  op = await startMtlsProvider(certs, {
    clients: [
      { ...common, client_id: 'mtls-pki', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=mtls-client', redirect_uris: [`${apps.pki.url}/callback`, `${apps.noCa.url}/callback`] },
      { ...common, client_id: 'mtls-self-signed', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks_uri: `${jwksServer.url}/mtls-self-signed`, redirect_uris: [`${apps.selfSigned.url}/callback`, `${apps.wrongCert.url}/callback`] },
      { ...fapi, client_id: 'fapi-mtls', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=mtls-client', redirect_uris: [`${apps.fapi.url}/callback`] },
      { ...fapi, client_id: 'fapi-jwt-mtls', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: `${jwksServer.url}/fapi-jwt-mtls`, redirect_uris: [`${apps.fapiJwt.url}/callback`] },
    ],
    configure: (config) => {
      config.features.resourceIndicators = {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string | string[]) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async () => ({ scope: 'read', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      };
      config.features.fapi = { enabled: true, profile: (_ctx: unknown, client?: { clientId?: string }) => (client?.clientId?.startsWith('fapi') ? '2.0' : undefined) };
      config.enabledJWA = { ...(config.enabledJWA ?? {}), idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'] };
    },
  });
});

afterAll(async () => {
  process.stderr.write = originalWrite;
  delete process.env.DEBUG;
  await Promise.all(Object.values(apps).map((a) => a.close()));
  await op.close();
  await jwksServer.close();
});

async function login(app: TestApp) {
  const browser = new TestBrowser(fetchTrusting(certs.serverCa));
  const since = op.requests.length;
  const start = await browser.get(`${app.url}/login`);
  expect({ status: start.status, body: start.status === 302 ? '' : start.body }).toEqual({ status: 302, body: '' });
  const callback = await browser.get(await completeProviderLogin(browser, start.location!));
  expect({ status: callback.status, body: callback.status === 302 ? '' : callback.body }).toEqual({ status: 302, body: '' });
  const me = JSON.parse((await browser.get(`${app.url}/me`)).body) as { sub: string; tokenType: string; accessToken: string; certificateBound?: boolean; cnf?: Record<string, string> };
  return { browser, me, requests: op.requests.slice(since) };
}

/** The requests to an endpoint path among `requests`. */
const to = (requests: MtlsProvider['requests'], method: string, path: string) => requests.filter((r) => r.method === method && r.path === path);

describe.each([
  ['tls_client_auth (a CA-issued certificate)', 'pki', () => certs.client.cert],
  ['self_signed_tls_client_auth (a registered self-signed certificate)', 'selfSigned', () => certs.selfSigned.cert],
] as const)('logging in with %s', (_name, which, cert) => {
  it('pushes and redeems at the alias host, presenting the certificate there, and nothing else in the body', async () => {
    const { me, requests } = await login(apps[which]);
    expect(me.sub).toBe('alice');
    const thumbprint = x5tS256(cert());
    for (const [method, path] of [['POST', '/request'], ['POST', '/token']] as const) {
      expect(to(requests, method, path)).toEqual([expect.objectContaining({ host: 'alias', certificate: thumbprint })]);
    }
    // The browser's authorization request stays on the issuer host, which asks for no certificate.
    expect(to(requests, 'GET', '/auth').every((r) => r.host === 'issuer' && r.certificate === undefined)).toBe(true);
    for (const body of [op.pushedRequests.at(-1)!, op.tokenRequests.at(-1)!]) {
      expect(body.client_id).toBe(which === 'pki' ? 'mtls-pki' : 'mtls-self-signed');
      for (const param of ['client_secret', 'client_assertion', 'client_assertion_type']) expect(body).not.toHaveProperty(param);
    }
  });

  it('gets an access token bound to the certificate (cnf x5t#S256) and records that in the login', async () => {
    const { me } = await login(apps[which]);
    const thumbprint = x5tS256(cert());
    expect(me).toMatchObject({ tokenType: 'Bearer', certificateBound: true, cnf: { 'x5t#S256': thumbprint } });
    const stored = await op.provider.AccessToken.find(me.accessToken);
    expect(stored['x5t#S256']).toBe(thumbprint);
  });
});

describe('the certificate-bound access token', () => {
  it('reads userinfo at the alias host over the certificate, and is refused without it', async () => {
    const { browser } = await login(apps.pki);
    const since = op.requests.length;
    const withCert = JSON.parse((await browser.get(`${apps.pki.url}/userinfo`)).body) as { url: string; status: number; body: Record<string, unknown> };
    expect(new URL(withCert.url).origin).toBe(op.aliasOrigin);
    expect(withCert).toMatchObject({ status: 200, body: { sub: 'alice' } });
    expect(to(op.requests.slice(since), 'GET', '/me')).toEqual([expect.objectContaining({ host: 'alias', certificate: x5tS256(certs.client.cert), status: 200 })]);
    const without = JSON.parse((await browser.get(`${apps.pki.url}/userinfo-without-certificate`)).body) as { status: number; body: Record<string, unknown> };
    expect(without).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('presents the certificate for a certificate-bound token in fetchUserInfo() and req.oidc.fetch()', async () => {
    const { browser } = await login(apps.pki);
    const since = op.requests.length;
    expect(JSON.parse((await browser.get(`${apps.pki.url}/fetch-userinfo`)).body)).toMatchObject({ sub: 'alice' });
    expect(JSON.parse((await browser.get(`${apps.pki.url}/fetch-api`)).body)).toMatchObject({ status: 200, body: { sub: 'alice' } });
    const calls = to(op.requests.slice(since), 'GET', '/me');
    expect(calls).toHaveLength(2);
    for (const call of calls) expect(call).toMatchObject({ host: 'alias', certificate: x5tS256(certs.client.cert), status: 200 });
  });

  it('binds an API\'s token (RFC 8707) to the certificate too, and req.oidc.fetch() presents the certificate with it', async () => {
    const { browser } = await login(apps.pki);
    const since = op.requests.length;
    const { token, status } = JSON.parse((await browser.get(`${apps.pki.url}/api-token-fetch`)).body) as { token: string; status: number };
    expect(decodeJwt(token)).toMatchObject({ aud: MTLS_API, cnf: { 'x5t#S256': x5tS256(certs.client.cert) } });
    expect(op.tokenRequests.at(-1)).toMatchObject({ grant_type: 'refresh_token', resource: MTLS_API });
    expect(status).toBe(404); // oidc-provider has no such route: what matters is how the request came
    expect(to(op.requests.slice(since), 'GET', '/api-check')).toEqual([expect.objectContaining({ host: 'alias', certificate: x5tS256(certs.client.cert) })]);
  });

  it('is refreshed with the same certificate at the alias token endpoint and stays bound', async () => {
    const { browser, me: before } = await login(apps.pki);
    const since = op.requests.length;
    expect((await browser.post(`${apps.pki.url}/refresh`, {})).status).toBe(200);
    expect(op.tokenRequests.at(-1)).toMatchObject({ grant_type: 'refresh_token', client_id: 'mtls-pki' });
    expect(to(op.requests.slice(since), 'POST', '/token')).toEqual([expect.objectContaining({ host: 'alias', certificate: x5tS256(certs.client.cert), status: 200 })]);
    const after = JSON.parse((await browser.get(`${apps.pki.url}/me`)).body) as typeof before;
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after).toMatchObject({ tokenType: 'Bearer', certificateBound: true, cnf: before.cnf });
    expect((await op.provider.AccessToken.find(after.accessToken))['x5t#S256']).toBe(x5tS256(certs.client.cert));
  });

  it('reuses one TLS connection to the alias host for PAR, token and userinfo', async () => {
    const { browser, requests } = await login(apps.selfSigned);
    const since = op.requests.length;
    await browser.get(`${apps.selfSigned.url}/userinfo`);
    const calls = [...to(requests, 'POST', '/request'), ...to(requests, 'POST', '/token'), ...to(op.requests.slice(since), 'GET', '/me')];
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.connection)).size).toBe(1);
  });
});

describe('refused and untrusted', () => {
  it('reports a certificate the server does not know as par_failed (invalid_client), as for any client authentication', async () => {
    const res = await new TestBrowser().get(`${apps.wrongCert.url}/login`);
    expect(res.status).toBe(502);
    const body = JSON.parse(res.body) as { code: string; message: string };
    expect(body.code).toBe('par_failed');
    expect(body.message).toMatch(/invalid_client/);
    expect(body.message).not.toContain('BEGIN');
  });

  it('does not trust a server certificate from a private CA without "tls.ca": 502 tls_failed with a clean message', async () => {
    const res = await new TestBrowser().get(`${apps.noCa.url}/login`);
    expect(res.status).toBe(502);
    const body = JSON.parse(res.body) as { code: string; message: string };
    expect(body.code).toBe('tls_failed');
    expect(body.message).toMatch(/^TLS with the discovery endpoint \(https:\/\/localhost:\d+\/\.well-known\/openid-configuration\) failed: the server certificate is not trusted \([A-Z_]+\)/);
    expect(body.message).toContain('tls.ca');
    expect(body.message).not.toMatch(MARKUP);
    expect(body.message).not.toMatch(/BEGIN|PRIVATE|[A-Za-z0-9+/]{64}/);
  });

  it('reports a server that hangs up on the client certificate as tls_failed, naming tls.cert', async () => {
    const strict = https.createServer({ ...certs.server, requestCert: true, rejectUnauthorized: true, ca: [certs.clientCa] }, (_req, res) => {
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => strict.listen(0, '127.0.0.1', resolve));
    try {
      const options = { issuerBaseURL: `https://127.0.0.1:${(strict.address() as AddressInfo).port}`, baseURL: 'https://app.example', clientID: 'c', clientAuthMethod: 'self_signed_tls_client_auth' as const };
      const refused = checkProvider({ ...options, tls: { ...certs.stranger, ca: certs.serverCa } });
      await expect(refused).rejects.toMatchObject({ code: 'tls_failed', status: 502, message: expect.stringContaining('tls.cert') });
      // The CA-issued certificate gets through the handshake (and finds no metadata there).
      await expect(checkProvider({ ...options, tls: { ...certs.client, ca: certs.serverCa } })).rejects.toMatchObject({ code: 'discovery_failed' });
    } finally {
      strict.closeAllConnections();
      await new Promise<void>((resolve) => strict.close(() => resolve()));
    }
  });
});

describe("profile 'fapi2' with mTLS as the sender constraint", () => {
  it('logs in with tls_client_auth and certificate-bound tokens (no DPoP)', async () => {
    const { me, requests } = await login(apps.fapi);
    expect(me).toMatchObject({ sub: 'alice', tokenType: 'Bearer', certificateBound: true, cnf: { 'x5t#S256': x5tS256(certs.client.cert) } });
    expect(op.pushedRequests.at(-1)).not.toHaveProperty('dpop_jkt');
    expect(to(requests, 'POST', '/token')).toEqual([expect.objectContaining({ host: 'alias', certificate: x5tS256(certs.client.cert) })]);
  });

  it('logs in with private_key_jwt and tokens bound to the certificate', async () => {
    const { me } = await login(apps.fapiJwt);
    expect(me).toMatchObject({ sub: 'alice', tokenType: 'Bearer', certificateBound: true, cnf: { 'x5t#S256': x5tS256(certs.selfSigned.cert) } });
    expect(op.tokenRequests.at(-1)).toHaveProperty('client_assertion');
    expect((await op.provider.AccessToken.find(me.accessToken))['x5t#S256']).toBe(x5tS256(certs.selfSigned.cert));
  });

  it('passes the start-up self-check', async () => {
    const report = await checkProvider({ issuerBaseURL: op.issuer, baseURL: apps.fapi.url, clientID: 'fapi-mtls', profile: 'fapi2', clientAuthMethod: 'tls_client_auth', tls: { ...certs.client, ca: certs.serverCa } });
    expect(report).toMatchObject({ problems: [], warnings: [] });
  });
});

describe('the start-up self-check with a client certificate', () => {
  it('warns about an expired certificate', async () => {
    const report = await checkProvider({ issuerBaseURL: op.issuer, baseURL: apps.pki.url, clientID: 'mtls-self-signed', clientAuthMethod: 'self_signed_tls_client_auth', tls: { ...certs.expired, ca: certs.serverCa } });
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual(['the client certificate (tls.cert) expired on 2020-02-01T00:00:00.000Z: the server will refuse it']);
  });
});

describe('debug logging with a client certificate', () => {
  it('logs the mTLS steps and failures, and never a key or a certificate', async () => {
    const since = logLines.length;
    await login(apps.pki);
    await new TestBrowser().get(`${apps.noCa.url}/login`);
    await checkProvider({ issuerBaseURL: op.issuer, baseURL: apps.pki.url, clientID: 'mtls-self-signed', clientAuthMethod: 'self_signed_tls_client_auth', tls: { ...certs.expired, ca: certs.serverCa } });
    const log = logLines.slice(since).join('');
    expect(log).toContain(`express-par:http POST ${op.aliasOrigin}/request (PAR endpoint)`);
    expect(log).toContain(`express-par:http POST ${op.aliasOrigin}/token (token endpoint)`);
    expect(log).toMatch(/express-par:http GET https:\/\/localhost:\d+\/\.well-known\/openid-configuration failed: tls_failed/);
    expect(log).toContain('provider warning: the client certificate (tls.cert) expired on 2020-02-01');
    const material = [certs.client, certs.selfSigned, certs.expired, certs.server].flatMap(({ cert, key }) => [cert, key]);
    for (const pem of material) {
      for (const line of pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l))) expect(log).not.toContain(line);
    }
    expect(log).not.toContain('BEGIN');
  });
});
