import { createHash, randomBytes } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { decodeJwt } from 'jose';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';
import { TestBrowser, completeProviderLogin } from './helpers/browser.js';

const REDIRECT_URI = 'http://127.0.0.1:9/callback'; // never requested
const basicAuth = `Basic ${Buffer.from(`${encodeURIComponent(TEST_CLIENT_ID)}:${encodeURIComponent(TEST_CLIENT_SECRET)}`).toString('base64')}`;

let op: TestProvider;
let discovery: Record<string, any>;

beforeAll(async () => {
  op = await startProvider({ redirectUris: [REDIRECT_URI] });
  discovery = await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json() as Record<string, any>;
});

afterAll(async () => {
  await op?.close();
});

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function pushAuthorizationRequest(extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const res = await fetch(discovery.pushed_authorization_request_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      response_type: 'code',
      client_id: TEST_CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile email',
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    }),
  });
  const body = await res.json() as Record<string, any>;
  return { res, body, verifier, state, nonce };
}

function authorizationUrl(requestUri: string): string {
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({ client_id: TEST_CLIENT_ID, request_uri: requestUri }).toString();
  return url.href;
}

async function exchangeCode(code: string, verifier: string) {
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  return { res, body: await res.json() as Record<string, any> };
}

describe('the in-process OpenID provider harness', () => {
  it('listens on 127.0.0.1 with an issuer without a trailing slash and advertises PAR and RFC 9207', () => {
    expect(op.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(discovery.issuer).toBe(op.issuer);
    expect(discovery.pushed_authorization_request_endpoint).toBe(`${op.issuer}/request`);
    expect(discovery.require_pushed_authorization_requests).toBe(true);
    expect(discovery.authorization_response_iss_parameter_supported).toBe(true);
    expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
  });

  it('signs a user in through a pushed authorization request, PKCE and the dev login form', async () => {
    const { res, body, verifier, state, nonce } = await pushAuthorizationRequest({ audience: 'https://api.example.com' });
    expect(res.status).toBe(201);
    expect(body.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(typeof body.expires_in).toBe('number');

    const pushed = op.pushedRequests[op.pushedRequests.length - 1]!;
    expect(pushed.audience).toBe('https://api.example.com');
    expect(pushed.state).toBe(state);

    const browser = new TestBrowser();
    const callback = new URL(await completeProviderLogin(browser, authorizationUrl(body.request_uri), { login: 'alice' }));
    expect(callback.origin + callback.pathname).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(op.issuer);
    expect(Object.keys(browser.cookies('127.0.0.1'))).toContain('_session');

    const tokens = await exchangeCode(callback.searchParams.get('code')!, verifier);
    expect(tokens.res.status).toBe(200);
    expect(op.tokenRequests[op.tokenRequests.length - 1]).toMatchObject({ grant_type: 'authorization_code', code_verifier: verifier });
    const claims = decodeJwt(tokens.body.id_token);
    expect(claims).toMatchObject({
      iss: op.issuer,
      aud: TEST_CLIENT_ID,
      nonce,
      sub: 'alice',
      name: 'User alice',
      email: 'alice@example.com',
      email_verified: true,
    });
  });

  it('rejects an authorization request that was not pushed', async () => {
    const { challenge } = pkcePair();
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: TEST_CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      state: 'plain-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    const [first, ...rest] = await new TestBrowser().follow(url.href, { stopAt: (u) => u.origin !== op.issuer });
    expect(rest).toHaveLength(0);
    const location = new URL(first!.location!);
    expect(location.origin + location.pathname).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);
    expect(location.searchParams.get('state')).toBe('plain-state');
    expect(location.searchParams.get('iss')).toBe(op.issuer);
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('refuses to exchange a code without the right code_verifier', async () => {
    const { body } = await pushAuthorizationRequest();
    const callback = new URL(await completeProviderLogin(new TestBrowser(), authorizationUrl(body.request_uri), { login: 'bob' }));
    const tokens = await exchangeCode(callback.searchParams.get('code')!, pkcePair().verifier);
    expect(tokens.res.status).toBe(400);
    expect(tokens.body.error).toBe('invalid_grant');
  });

  it('sends the user back with access_denied, the state and iss when the login is cancelled', async () => {
    const { body, state } = await pushAuthorizationRequest();
    const callback = new URL(await completeProviderLogin(new TestBrowser(), authorizationUrl(body.request_uri), { cancel: true }));
    expect(callback.origin + callback.pathname).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(op.issuer);
    expect(callback.searchParams.get('code')).toBeNull();
  });
});
