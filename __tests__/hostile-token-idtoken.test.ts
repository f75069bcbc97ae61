/**
 * A misbehaving authorization server at the token endpoint (RFC 6749 §5.1/§5.2), the JWKS endpoint and
 * in the ID token it issues (OpenID Connect Core 1.0 §3.1.3.7). The token and ID token cases log in
 * successfully first, so they also prove that a failed callback leaves the session logged out.
 */
import './helpers/capture-logs.js'; // first: turns the debug log on before lib/ loads
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { type Faults, type FaultyServer } from './helpers/faulty-server.js';
import { TestBrowser } from './helpers/browser.js';
import { attemptLogin, expectFailure, hostileLogin, useFaultyServer, settle, startHostileApp, whoami } from './helpers/hostile.js';

let server: FaultyServer;
const now = () => Math.floor(Date.now() / 1000);
const { rejections } = useFaultyServer((started) => {
  server = started;
});
afterEach(() => {
  jest.restoreAllMocks();
});

type Case = [name: string, faults: () => Faults, status: number, code: string];

describe('the token endpoint answered wrongly', () => {
  const cases: Case[] = [
    ['an invalid_grant error', () => ({ token: { error: 'invalid_grant', errorDescription: 'code expired' } }), 502, 'token_exchange_failed'],
    ['a 401 invalid_client error', () => ({ token: { status: 401, error: 'invalid_client' } }), 502, 'token_exchange_failed'],
    ['an HTML 500 page', () => ({ token: { status: 500, body: '<html>oops</html>' } }), 502, 'token_exchange_failed'],
    ['201 instead of 200', () => ({ token: { status: 201 } }), 502, 'token_exchange_failed'],
    ['a 200 that is not JSON', () => ({ token: { body: 'access_token=abc&token_type=bearer' } }), 502, 'token_response_invalid'],
    ['a 200 JSON array', () => ({ token: { body: [] } }), 502, 'token_response_invalid'],
    ['no access_token', () => ({ token: { omit: ['access_token'] } }), 502, 'token_response_invalid'],
    ['no id_token', () => ({ token: { omit: ['id_token'] } }), 502, 'token_response_invalid'],
    ['a numeric id_token', () => ({ token: { merge: { id_token: 12345 } } }), 502, 'token_response_invalid'],
    ['no token_type', () => ({ token: { omit: ['token_type'] } }), 502, 'token_response_invalid'],
    ['token_type "mac"', () => ({ token: { merge: { token_type: 'mac' } } }), 502, 'token_response_invalid'],
    ['token_type "DPoP" although no DPoP was asked for', () => ({ token: { merge: { token_type: 'DPoP' } } }), 502, 'token_response_invalid'],
    ['a negative expires_in', () => ({ token: { merge: { expires_in: -1 } } }), 502, 'token_response_invalid'],
    ['a 50 MB streamed body with a declared length', () => ({ token: { huge: { bytes: 50 * 1024 * 1024, declareLength: true } } }), 502, 'upstream_response_too_large'],
    ['no answer at all', () => ({ token: { hang: true } }), 504, 'upstream_timeout'],
  ];

  it.each(cases)('fails the callback on %s and logs the session out', async (_name, faults, status, code) => {
    const run = await hostileLogin(server, { preLogin: true, faults: faults() });
    expect(run.stage).toBe('callback');
    expectFailure(run, server, 'callback', status, code);
  });

  it('carries the server\'s OAuth error and status on the error', async () => {
    const run = await hostileLogin(server, { preLogin: true, faults: { token: { error: 'invalid_grant', errorDescription: 'code expired' } } });
    expectFailure(run, server, 'callback', 502, 'token_exchange_failed');
    expect(run.error).toMatchObject({ error: 'invalid_grant', error_description: 'code expired', upstreamStatus: 400 });
  });

  it('stops reading a 50 MB chunked body early instead of buffering it', async () => {
    const huge: { bytes: number; sent?: number } = { bytes: 50 * 1024 * 1024 };
    const run = await hostileLogin(server, { preLogin: true, faults: { token: { huge } } });
    expectFailure(run, server, 'callback', 502, 'upstream_response_too_large');
    await settle();
    // The client hung up after the cap (512 KiB): the server never got to write the whole body.
    expect(huge.sent).toBeGreaterThan(512 * 1024);
    expect(huge.sent).toBeLessThan(huge.bytes / 2);
  });
});

describe('the ID token is wrong', () => {
  const claimCases: Array<[string, () => Record<string, unknown>]> = [
    ['names another issuer', () => ({ iss: 'https://evil.example' })],
    ['names a trailing-slash variant of the issuer', () => ({ iss: `${server.issuer}/` })],
    ['is for another audience', () => ({ aud: 'someone-else' })],
    ['has several audiences and no azp', () => ({ aud: [server.clientId, 'someone-else'] })],
    ['has an azp of another client', () => ({ aud: [server.clientId, 'someone-else'], azp: 'someone-else' })],
    ['has a single audience but a foreign azp', () => ({ azp: 'someone-else' })],
    ['lists an audience the client does not trust, with azp = client_id (Core §3.1.3.7 step 3)', () => ({ aud: [server.clientId, 'https://api.example'], azp: server.clientId })],
    ['expired an hour ago', () => ({ exp: now() - 3600, iat: now() - 7200 })],
    ['was issued an hour in the future', () => ({ iat: now() + 3600, exp: now() + 7200 })],
    ['has no iat', () => ({ iat: undefined })],
    ['has no nonce', () => ({ nonce: undefined })],
    ['has the nonce of another login', () => ({ nonce: 'nonce-of-another-login' })],
    ['has no sub', () => ({ sub: undefined })],
    ['has an empty sub', () => ({ sub: '' })],
    ['has an at_hash that does not match the access token', () => ({ at_hash: 'AAAAAAAAAAAAAAAAAAAAAA' })],
  ];

  it.each(claimCases)('fails the callback when the ID token %s', async (_name, claims) => {
    const run = await hostileLogin(server, { preLogin: true, idTokenClaims: claims() });
    expectFailure(run, server, 'callback', 502, 'id_token_invalid');
  });

  const signingCases: Array<[string, Faults['idToken']]> = [
    ['is unsigned (alg none)', (c, sign) => sign(c, { key: 'none' })],
    ['is HMAC-signed with the client secret', (c, sign) => sign(c, { key: 'hmac-secret' })],
    ['is signed by a foreign key under the published kid', (c, sign) => sign(c, { key: 'foreign' })],
    ['is signed by a key with an unknown kid', (c, sign) => sign(c, { key: 'foreign', kid: server.keys.foreign.kid })],
    ['uses PS256, which the server does not advertise', (c, sign) => sign(c, { alg: 'PS256' })],
    ['embeds the signing key in its header (jwk injection)', (c, sign) => sign(c, { key: 'foreign', kid: server.keys.foreign.kid, header: { jwk: server.keys.foreign.publicJwk } })],
    ['is not a JWT', async () => 'not-a-jwt'],
    ['is a JWE-shaped string', async () => 'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d'],
  ];

  it.each(signingCases)('fails the callback when the ID token %s', async (_name, idToken) => {
    const run = await hostileLogin(server, { preLogin: true, faults: { idToken } });
    expectFailure(run, server, 'callback', 502, 'id_token_invalid');
  });

  it.each([
    ['signed with ES256', { idToken: ((c, sign) => sign(c, { alg: 'ES256' })) as Faults['idToken'] }, () => ({})],
    ['with several audiences and azp = client_id, the other one trusted', {}, () => ({ aud: [server.clientId, 'https://api.example'], azp: server.clientId })],
    ['expired 10 s ago (within the 30 s clock tolerance)', {}, () => ({ exp: now() - 10, iat: now() - 600 })],
  ] as Array<[string, Faults, () => Record<string, unknown>]>)('accepts an ID token %s', async (_name, faults, claims) => {
    const run = await hostileLogin(server, { faults, idTokenClaims: claims(), options: { trustedAudiences: ['https://api.example'] } });
    expect(run.final.status).toBe(302);
    expect(run.loggedIn).toBe(true);
  });
});

describe('the JWKS endpoint misbehaves', () => {
  const cases: Case[] = [
    ['answers HTML', () => ({ jwks: { body: '<html>keys</html>' } }), 502, 'jwks_failed'],
    ['answers truncated JSON', () => ({ jwks: { body: '{"keys": [', contentType: 'application/json' } }), 502, 'jwks_failed'],
    ['answers HTTP 500', () => ({ jwks: { status: 500, body: { error: 'server_error' } } }), 502, 'jwks_failed'],
    ['answers a document without keys', () => ({ jwks: { body: { keys: 'none' } } }), 502, 'jwks_failed'],
    ['answers an empty key set', () => ({ jwks: { body: { keys: [] } } }), 502, 'id_token_invalid'],
    ['answers a 2 MB body', () => ({ jwks: { huge: { bytes: 2 * 1024 * 1024 } } }), 502, 'upstream_response_too_large'],
    ['does not answer', () => ({ jwks: { hang: true } }), 504, 'upstream_timeout'],
  ];

  // The first fetch of the key set, by a fresh app: the callback was reached, so "not logged in" means
  // the failure did not log the browser in.
  it.each(cases)('fails the callback when it %s on the first fetch', async (_name, faults, status, code) => {
    const run = await hostileLogin(server, { faults: faults() });
    expectFailure(run, server, 'callback', status, code);
    expect(server.requestsTo('/jwks')).toHaveLength(1);
  });

  // The refetch after a key rotation, for a browser that is logged in: the failure also ends that login.
  it.each(cases)('fails the callback and ends the earlier login when it %s on the refetch after a key rotation', async (_name, faults, status, code) => {
    const app = await startHostileApp(server);
    const browser = new TestBrowser();
    expect((await attemptLogin(server, browser, app)).final.status).toBe(302);
    expect((await whoami(app, browser)).authenticated).toBe(true);
    await server.rotateSigningKey();
    // past the 30 s refetch cooldown
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 31_000);
    const run = await hostileLogin(server, { app, browser, faults: faults() });
    expectFailure(run, server, 'callback', status, code);
    expect(server.requestsTo('/jwks')).toHaveLength(2);
  });

  it('logs in after a key rotation although the old key set is cached (refetched on the unknown kid)', async () => {
    const app = await startHostileApp(server);
    const first = await hostileLogin(server, { app });
    expect(first.loggedIn).toBe(true);
    expect(server.requestsTo('/jwks')).toHaveLength(1);
    await server.rotateSigningKey();
    // No pause needed after the last fetch (see provider-changes.test.ts for the refetch budget).
    const second = await hostileLogin(server, { app });
    expect(second.final.status).toBe(302);
    expect(second.loggedIn).toBe(true);
    expect(server.requestsTo('/jwks')).toHaveLength(2);
  });
});

it('left no unhandled rejection behind', async () => {
  await settle();
  expect(rejections.list).toEqual([]);
});
