/**
 * req.oidc.fetchUserInfo() (OpenID Connect Core §5.3): Bearer and DPoP against oidc-provider, the
 * send step's DPoP nonce retry (RFC 9449 §9) against a small loopback endpoint, and hostile answers
 * against the faulty server, named after the conformance suite's userinfo modules.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { EmbeddedJWK, jwtVerify } from 'jose';
import { parAuth } from '../lib/index.js';
import { DpopNonces, generateDpopKey } from '../lib/protocol/dpop.js';
import { userInfoRequest } from '../lib/protocol/userinfo.js';
import { challengeError } from '../lib/protocol/www-authenticate.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, HOSTILE_TIMEOUT_MS, startHostileApp, type HostileApp } from './helpers/hostile.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';
import { mountTokenRoutes } from './helpers/token-routes.js';

const DPOP_CLIENT = 'dpop-client';
let bearerProvider: TestProvider;
let dpopProvider: TestProvider;
let faulty: FaultyServer;
const apps: Record<'bearer' | 'emailOnly' | 'dpop' | 'faulty', TestApp> = {} as never;

beforeAll(async () => {
  apps.bearer = await startApp((a, baseURL) => {
    a.use(parAuth({ issuerBaseURL: bearerProvider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET }));
    mountTokenRoutes(a);
  });
  apps.emailOnly = await startApp((a, baseURL) => {
    a.use(parAuth({ issuerBaseURL: bearerProvider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET, authorizationParams: { scope: 'openid email' } }));
    mountTokenRoutes(a);
  });
  apps.dpop = await startApp((a, baseURL) => {
    a.use(parAuth({ issuerBaseURL: dpopProvider.issuer, baseURL, clientID: DPOP_CLIENT, clientSecret: TEST_CLIENT_SECRET, dpop: true }));
    mountTokenRoutes(a);
  });
  apps.faulty = await startApp((a, baseURL) => {
    a.use(parAuth({ issuerBaseURL: faulty.issuer, baseURL, clientID: faulty.clientId, clientSecret: faulty.clientSecret, httpTimeout: HOSTILE_TIMEOUT_MS }));
    mountTokenRoutes(a);
  });
  bearerProvider = await startProvider({ redirectUris: [`${apps.bearer.url}/callback`, `${apps.emailOnly.url}/callback`] });
  dpopProvider = await startProvider({
    clients: [{
      client_id: DPOP_CLIENT,
      client_secret: TEST_CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${apps.dpop.url}/callback`],
      id_token_signed_response_alg: 'RS256',
      dpop_bound_access_tokens: true,
    }],
    configure: (config) => {
      // RFC 9449 §8/§9: every proof must carry a server-provided nonce.
      config.features.dPoP = { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true };
    },
  });
  faulty = await startFaultyServer();
});
afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.close()));
  await Promise.all([bearerProvider.close(), dpopProvider.close(), faulty.close()]);
});

async function providerLogin(app: TestApp) {
  const browser = new TestBrowser();
  const start = await browser.get(`${app.url}/login`);
  await browser.get(await completeProviderLogin(browser, start.location!));
  return browser;
}

async function userinfo(browser: TestBrowser, app: TestApp) {
  const res = await browser.get(`${app.url}/userinfo`);
  return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
}

describe('fetchUserInfo() against oidc-provider', () => {
  it('with a Bearer token: the claims of the logged-in user', async () => {
    const browser = await providerLogin(apps.bearer);
    expect(await userinfo(browser, apps.bearer)).toEqual({ status: 200, body: { sub: 'alice', name: 'User alice', email: 'alice@example.com', email_verified: true } });
  });

  it('with a DPoP-bound token and a server that requires nonces', async () => {
    const browser = await providerLogin(apps.dpop);
    expect(JSON.parse((await browser.get(`${apps.dpop.url}/tokens`)).body).tokenType).toBe('DPoP');
    expect(await userinfo(browser, apps.dpop)).toEqual({ status: 200, body: expect.objectContaining({ sub: 'alice', email: 'alice@example.com' }) });
  });

  // The module: the client asks for claims with scope values (profile, email, phone, address; Core §5.4)
  // and, in the code flow, gets them from the userinfo endpoint. oidc-provider releases claims per scope.
  it('oidcc-client-test-scope-userinfo-claims: the default scope asks for profile and email, and userinfo returns their claims', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${apps.bearer.url}/login`);
    const authorize = new URL(start.location!);
    expect([...authorize.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']); // the scope went in the pushed request
    await browser.get(await completeProviderLogin(browser, start.location!));
    const res = await userinfo(browser, apps.bearer);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sub: 'alice', name: 'User alice', email: 'alice@example.com', email_verified: true });
  });

  it('oidcc-client-test-scope-userinfo-claims, narrowed: scope "openid email" gets the email claims and not the profile ones', async () => {
    const browser = await providerLogin(apps.emailOnly);
    expect(await userinfo(browser, apps.emailOnly)).toEqual({ status: 200, body: { sub: 'alice', email: 'alice@example.com', email_verified: true } });
  });

  it('without a login: 401 login_required', async () => {
    expect(await userinfo(new TestBrowser(), apps.bearer)).toEqual({ status: 401, body: expect.objectContaining({ code: 'login_required' }) });
  });
});

describe('userInfoRequest() with DPoP (RFC 9449 §7, §9)', () => {
  it('sends a proof with ath, htm and htu, and answers a use_dpop_nonce challenge once', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const server = http.createServer((req, res) => {
      void (async () => {
        const proof = await jwtVerify(String(req.headers.dpop), EmbeddedJWK, { typ: 'dpop+jwt' });
        seen.push({ ...proof.payload, authorization: req.headers.authorization });
        if (proof.payload.nonce !== 'server-nonce-1') {
          res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"', 'dpop-nonce': 'server-nonce-1' }).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: 'alice' }));
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/userinfo`;
      const { key } = await generateDpopKey();
      const res = await userInfoRequest({ url, accessToken: 'at-123', dpop: { key, nonces: new DpopNonces() }, transport: { timeout: 2000 } });
      expect(res.status).toBe(200);
      expect(seen).toHaveLength(2);
      expect(seen[0]).toMatchObject({ htm: 'GET', htu: url, authorization: 'DPoP at-123', ath: createHash('sha256').update('at-123').digest('base64url') });
      expect(seen[0]!.nonce).toBeUndefined();
      expect(seen[1]!.nonce).toBe('server-nonce-1');
      expect(seen[0]!.jti).not.toBe(seen[1]!.jti); // a fresh proof for the retry
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('fetchUserInfo() against hostile answers (faulty server)', () => {
  beforeEach(() => faulty.reset());

  async function faultyLogin() {
    const browser = new TestBrowser();
    const run = await attemptLogin(faulty, browser, apps.faulty as HostileApp);
    expect(run.final.status).toBe(302);
    return browser;
  }

  async function expectRefused(status: number, code: string) {
    const browser = await faultyLogin();
    const res = await userinfo(browser, apps.faulty);
    expect(res).toEqual({ status, body: expect.objectContaining({ code }) });
    expect(String(res.body.message)).not.toMatch(/[<>"'&`]/);
    // a refused userinfo answer does not end the login
    expect(JSON.parse((await browser.get(`${apps.faulty.url}/tokens`)).body)).toMatchObject({ authenticated: true, sub: 'user-123' });
    return res;
  }

  it('oidcc-client-test-userinfo-bearer-header', async () => {
    const browser = await faultyLogin();
    const { accessToken } = JSON.parse((await browser.get(`${apps.faulty.url}/tokens`)).body);
    expect(await userinfo(browser, apps.faulty)).toEqual({ status: 200, body: { sub: 'user-123', name: 'Test User', email: 'user-123@example.com' } });
    const request = faulty.requestsTo('/userinfo').at(-1)!;
    expect(request.headers.authorization).toBe(`Bearer ${accessToken}`); // RFC 6750 §2.1
    expect(request.rawBody).toBe('');
    expect(request.headers.accept).toBe('application/json, application/jwt'); // Core §5.3.2: JSON, or a signed JWT
  });

  it('oidcc-client-test-userinfo-invalid-sub', async () => {
    faulty.userinfoClaims = { sub: 'user-123invalid' }; // as the suite's AddInvalidSubToUserInfoResponse
    const res = await expectRefused(502, 'userinfo_invalid');
    expect(res.body.message).toMatch(/another .sub./);
  });

  it('a userinfo answer without sub: 502 userinfo_invalid', async () => {
    faulty.userinfoClaims = { sub: undefined };
    await expectRefused(502, 'userinfo_invalid');
  });

  it('oidcc-client-test-userinfo-signed', async () => {
    faulty.userinfoSigned = { alg: 'RS256' };
    const browser = await faultyLogin();
    const res = await userinfo(browser, apps.faulty);
    expect(res).toEqual({ status: 200, body: expect.objectContaining({ sub: 'user-123', iss: faulty.issuer, aud: faulty.clientId }) });
  });

  it('a signed userinfo answer with a key the server does not publish: 502 userinfo_invalid', async () => {
    faulty.userinfoSigned = { key: 'foreign' };
    await expectRefused(502, 'userinfo_invalid');
  });

  it('an unsigned (alg none) userinfo JWT: 502 userinfo_invalid', async () => {
    faulty.userinfoSigned = { key: 'none' };
    await expectRefused(502, 'userinfo_invalid');
  });

  it('a signed userinfo answer for another audience: 502 userinfo_invalid', async () => {
    faulty.userinfoSigned = {};
    faulty.userinfoClaims = { aud: 'another-client' };
    await expectRefused(502, 'userinfo_invalid');
  });

  it('a signed userinfo answer from another issuer: 502 userinfo_invalid', async () => {
    faulty.userinfoSigned = {};
    faulty.userinfoClaims = { iss: 'https://issuer.example' };
    await expectRefused(502, 'userinfo_invalid');
  });

  it('a signed userinfo answer with another sub: 502 userinfo_invalid', async () => {
    faulty.userinfoSigned = {};
    faulty.userinfoClaims = { sub: 'someone-else' };
    await expectRefused(502, 'userinfo_invalid');
  });

  it('an HTML page: 502 userinfo_invalid', async () => {
    faulty.fault.userinfo = { body: '<html><script>alert(1)</script></html>' };
    await expectRefused(502, 'userinfo_invalid');
  });

  it('an error status: 502 userinfo_failed', async () => {
    faulty.fault.userinfo = { status: 500, body: '<b>down</b>' };
    const res = await expectRefused(502, 'userinfo_failed');
    expect(res.body.message).toMatch(/HTTP 500/);
  });

  it('never quotes the access token a server echoes back in its error', async () => {
    const app = await startHostileApp(faulty, {}, (a) => mountTokenRoutes(a));
    try {
      const browser = new TestBrowser();
      expect((await attemptLogin(faulty, browser, app)).final.status).toBe(302);
      const { accessToken } = JSON.parse((await browser.get(`${app.url}/tokens`)).body) as { accessToken: string };
      faulty.fault.userinfo = { status: 400, echo: { param: 'authorization' } };
      const res = await userinfo(browser, app);
      expect(res).toEqual({ status: 502, body: expect.objectContaining({ code: 'userinfo_failed' }) });
      const err = app.captured.at(-1)!;
      expect(err).toMatchObject({ code: 'userinfo_failed', error: 'invalid_request' });
      expect(String(err.error_description)).toContain('[redacted]');
      expect(JSON.stringify({ ...err, message: err.message, body: res.body })).not.toContain(accessToken);
    } finally {
      await app.close();
    }
  });

  it('answers a nonce challenge to a Bearer token with no second request (only DPoP proofs carry nonces)', async () => {
    const browser = await faultyLogin();
    faulty.fault.userinfo = { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' } };
    const before = faulty.requestsTo('/userinfo').length;
    expect((await userinfo(browser, apps.faulty)).body).toMatchObject({ code: 'userinfo_failed' });
    expect(faulty.requestsTo('/userinfo')).toHaveLength(before + 1);
  });

  it('a server without a userinfo_endpoint: 502 userinfo_failed, and no request', async () => {
    faulty.fault.discovery = { merge: { userinfo_endpoint: undefined } };
    const app = await startHostileApp(faulty, {}, (a) => mountTokenRoutes(a));
    try {
      const browser = new TestBrowser();
      expect((await attemptLogin(faulty, browser, app)).final.status).toBe(302);
      const res = await userinfo(browser, app);
      expect(res).toEqual({ status: 502, body: expect.objectContaining({ code: 'userinfo_failed', message: 'The authorization server advertises no “userinfo_endpoint” in its metadata.' }) });
      expect(faulty.requestsTo('/userinfo')).toHaveLength(0);
    } finally {
      await app.close();
    }
  });

  it('a silent server: 504 upstream_timeout', async () => {
    faulty.fault.userinfo = { hang: true };
    const res = await expectRefused(504, 'upstream_timeout');
    expect(res.body.message).toMatch(/^The userinfo endpoint \(.*\) did not answer within \d+ ms \(httpTimeout\)\.$/);
  });

  it('an endless answer: 502 upstream_response_too_large', async () => {
    faulty.fault.userinfo = { huge: { bytes: 2 * 1024 * 1024 } };
    await expectRefused(502, 'upstream_response_too_large');
  });

  it('a refused token (401 invalid_token) is renewed once, then the request succeeds', async () => {
    const browser = await faultyLogin();
    const before = JSON.parse((await browser.get(`${apps.faulty.url}/tokens`)).body);
    faulty.fault.userinfo = { times: 1, status: 401, body: '', headers: { 'www-authenticate': 'Bearer error="invalid_token"' } };
    expect(await userinfo(browser, apps.faulty)).toEqual({ status: 200, body: expect.objectContaining({ sub: 'user-123' }) });
    expect(faulty.requestsTo('/token').at(-1)?.body).toMatchObject({ grant_type: 'refresh_token', refresh_token: before.refreshToken });
    const [first, second] = faulty.requestsTo('/userinfo').slice(-2);
    expect(first!.headers.authorization).toBe(`Bearer ${before.accessToken}`);
    expect(second!.headers.authorization).not.toBe(first!.headers.authorization);
  });

  it('a token refused again after the renewal: 401 access_token_rejected', async () => {
    faulty.fault.userinfo = { times: 2, status: 401, body: '', headers: { 'www-authenticate': 'Bearer realm="x", error="invalid_token"' } };
    await expectRefused(401, 'access_token_rejected');
  });
});

describe('WWW-Authenticate challenges (RFC 9110 §11.6.1)', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['Bearer error="invalid_token"', undefined, 'invalid_token'],
    ['Bearer realm="api", error="invalid_token", error_description="The access token expired"', 'bearer', 'invalid_token'],
    ['DPoP algs="ES256 PS256", error="use_dpop_nonce"', 'dpop', 'use_dpop_nonce'],
    ['Bearer realm="api", DPoP error="use_dpop_nonce"', 'dpop', 'use_dpop_nonce'],
    ['Bearer realm="api", DPoP error="use_dpop_nonce"', 'bearer', undefined],
    ['Bearer error=invalid_token', undefined, 'invalid_token'],
    ['Bearer error="<script>"', undefined, undefined],
    ['Basic realm="x"', undefined, undefined],
    ['', undefined, undefined],
  ];
  it.each(cases)('%s (scheme %s) has error %s', (header, scheme, error) => {
    expect(challengeError(header, scheme)).toBe(error);
  });
});
