/**
 * A misbehaving authorization server at discovery and at the PAR endpoint (RFC 9126 §2.2/§2.3,
 * OpenID Connect Discovery §4.3, RFC 8414 §3.3): every failure reaches Express with the documented
 * status and code, leaves no login and no pending transaction, and leaks nothing secret.
 */
import './helpers/capture-logs.js'; // first: turns the debug log on before lib/ loads
import { describe, expect, it } from '@jest/globals';
import { startFaultyServer, type Faults, type FaultyServer } from './helpers/faulty-server.js';
import { expectFailure, expectNothingSecret, hostileLogin, useFaultyServer, settle, whoami } from './helpers/hostile.js';

let server: FaultyServer;
const { rejections } = useFaultyServer((started) => {
  server = started;
});

type Case = [name: string, faults: () => Faults, status: number, code: string];

describe('discovery answered wrongly', () => {
  const cases: Case[] = [
    ['a metadata document naming another issuer', () => ({ discovery: { issuer: 'https://evil.example' } }), 502, 'issuer_mismatch'],
    ['a metadata document without an issuer', () => ({ discovery: { omit: ['issuer'] } }), 502, 'discovery_failed'],
    ['metadata without a PAR endpoint', () => ({ discovery: { omit: ['pushed_authorization_request_endpoint'] } }), 502, 'par_not_supported'],
    ['metadata whose PKCE methods lack S256', () => ({ discovery: { merge: { code_challenge_methods_supported: ['plain'] } } }), 502, 'provider_unsupported'],
    ['metadata without a token endpoint', () => ({ discovery: { omit: ['token_endpoint'] } }), 502, 'discovery_failed'],
    ['a javascript: authorization endpoint', () => ({ discovery: { merge: { authorization_endpoint: 'javascript:alert(1)' } } }), 502, 'discovery_failed'],
    ['an HTML page instead of JSON', () => ({ discovery: { body: '<html><body>maintenance</body></html>' } }), 502, 'discovery_failed'],
    ['a JSON array instead of an object', () => ({ discovery: { body: [{ issuer: server.issuer }] } }), 502, 'discovery_failed'],
    ['truncated JSON', () => ({ discovery: { body: '{"issuer": "http://127.0.0.1', contentType: 'application/json' } }), 502, 'discovery_failed'],
    ['HTTP 500', () => ({ discovery: { status: 500, body: { error: 'server_error' } } }), 502, 'discovery_failed'],
    ['a redirect, which is not followed', () => ({ discovery: { status: 302, body: '', headers: { location: 'https://evil.example/.well-known/openid-configuration' } } }), 502, 'discovery_failed'],
    ['404 at both well-known locations', () => ({ discovery: { status: 404, body: { error: 'not_found' } } }), 502, 'discovery_failed'],
    ['a 2 MB metadata document', () => ({ discovery: { huge: { bytes: 2 * 1024 * 1024 } } }), 502, 'upstream_response_too_large'],
    ['no answer at all', () => ({ discovery: { hang: true } }), 504, 'upstream_timeout'],
  ];

  it.each(cases)('fails the login on %s', async (_name, faults, status, code) => {
    const run = await hostileLogin(server, { faults: faults() });
    expect(run.stage).toBe('login');
    expectFailure(run, server, 'login', status, code);
    expect(server.requestsTo('/par')).toHaveLength(0);
  });

  it('fails the login with upstream_unreachable when nothing listens at the issuer', async () => {
    const gone = await startFaultyServer();
    await gone.close();
    const run = await hostileLogin(server, { options: { issuerBaseURL: gone.issuer } });
    expect(run.stage).toBe('login');
    expectFailure(run, server, 'login', 502, 'upstream_unreachable');
  });

  it('uses the RFC 8414 location when OpenID discovery is missing', async () => {
    const run = await hostileLogin(server, { faults: { discovery: { status: 404, body: { error: 'not_found' } }, oauthMetadata: {} } });
    expect(run.final.status).toBe(302);
    expect(run.loggedIn).toBe(true);
  });

  it('does not cache a failed discovery: the next login works once the server recovers', async () => {
    const first = await hostileLogin(server, { faults: { discovery: { hang: true, times: 1 } } });
    expectFailure(first, server, 'login', 504, 'upstream_timeout');
    const second = await hostileLogin(server, { app: first.app, browser: first.browser });
    expect(second.final.status).toBe(302);
    expect(second.loggedIn).toBe(true);
  });
});

describe('the PAR endpoint answered wrongly', () => {
  const cases: Case[] = [
    ['200 instead of 201 (RFC 9126 §2.2)', () => ({ par: { status: 200 } }), 502, 'par_failed'],
    ['a 201 without request_uri', () => ({ par: { omit: ['request_uri'] } }), 502, 'par_response_invalid'],
    ['a numeric request_uri', () => ({ par: { merge: { request_uri: 42 } } }), 502, 'par_response_invalid'],
    ['an empty request_uri', () => ({ par: { merge: { request_uri: '' } } }), 502, 'par_response_invalid'],
    ['a 4 KB request_uri', () => ({ par: { merge: { request_uri: `urn:x:${'a'.repeat(4096)}` } } }), 502, 'par_response_invalid'],
    ['a 201 without expires_in', () => ({ par: { omit: ['expires_in'] } }), 502, 'par_response_invalid'],
    ['expires_in of zero', () => ({ par: { merge: { expires_in: 0 } } }), 502, 'par_response_invalid'],
    ['a negative expires_in', () => ({ par: { merge: { expires_in: -90 } } }), 502, 'par_response_invalid'],
    ['expires_in as a string', () => ({ par: { merge: { expires_in: '90' } } }), 502, 'par_response_invalid'],
    ['a 201 with an HTML body', () => ({ par: { status: 201, body: '<html>created</html>' } }), 502, 'par_response_invalid'],
    ['an RFC 6749 §5.2 error (invalid_request)', () => ({ par: { error: 'invalid_request', errorDescription: 'redirect_uri not registered' } }), 502, 'par_failed'],
    ['an HTML 500 page', () => ({ par: { status: 500, body: '<html><h1>Internal Server Error</h1></html>' } }), 502, 'par_failed'],
    ['503 with an empty body', () => ({ par: { status: 503, body: '' } }), 502, 'par_failed'],
    ['429 Too Many Requests', () => ({ par: { status: 429, body: { error: 'slow_down' } } }), 502, 'par_failed'],
    ['a redirect, which is not followed', () => ({ par: { status: 307, body: '', headers: { location: 'https://evil.example/par' } } }), 502, 'par_failed'],
    ['a 2 MB body', () => ({ par: { huge: { bytes: 2 * 1024 * 1024 }, status: 201 } }), 502, 'upstream_response_too_large'],
    ['no answer at all', () => ({ par: { hang: true } }), 504, 'upstream_timeout'],
  ];

  it.each(cases)('fails the login on %s and keeps no transaction', async (_name, faults, status, code) => {
    const run = await hostileLogin(server, { faults: faults() });
    expect(run.stage).toBe('login');
    expectFailure(run, server, 'login', status, code);
    expect((await whoami(run.app, run.browser)).pending).toBe(0);
    expect(server.requestsTo('/authorize')).toHaveLength(0);
  });

  it.each([
    ['client_secret_basic', 401],
    ['client_secret_post', 401],
  ] as const)('reports an invalid_client error with %s: error, description, upstream status and details, never the secret', async (method, upstream) => {
    const run = await hostileLogin(server, {
      options: { clientAuthMethod: method },
      faults: { par: { status: upstream, error: 'invalid_client', errorDescription: 'client authentication failed' } },
    });
    expectFailure(run, server, 'login', 502, 'par_failed');
    const err = run.error!;
    expect(err).toMatchObject({ error: 'invalid_client', error_description: 'client authentication failed', upstreamStatus: upstream });
    expect(err.details).toMatchObject({ redirect_uri: `${run.app.url}/callback`, client_auth_method: method, endpoint: server.url('/par') });
    expect(err.message).toContain('invalid_client');
    expect(err.message).toContain(`${run.app.url}/callback`);
    expectNothingSecret(err, server);
    // the secret did go to the server, so the check above is not vacuous
    const sent = server.requestsTo('/par')[0]!;
    expect(method === 'client_secret_post' ? sent.body.client_secret : sent.headers.authorization).toBeDefined();
  });

  it('sanitizes a hostile error_description before it reaches the message', async () => {
    const run = await hostileLogin(server, { faults: { par: { error: 'invalid_request\r\nX-Injected: 1', errorDescription: `<script>${'x'.repeat(5000)}</script>\u0000` } } });
    expectFailure(run, server, 'login', 502, 'par_failed');
    expect(run.error!.message).not.toMatch(/[\r\n\u0000]/);
    expect(run.error!.error_description!.length).toBeLessThan(400);
  });
});

it('left no unhandled rejection behind', async () => {
  await settle();
  expect(rejections.list).toEqual([]);
});
