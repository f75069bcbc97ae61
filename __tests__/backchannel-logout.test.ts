/**
 * OpenID Connect Back-Channel Logout 1.0 (`backchannelLogout: true`), against the faulty authorization
 * server: the OpenID Foundation's RP back-channel modules (named after them), forged and replayed logout
 * tokens, and what a valid one ends. Every refused token is tried on a logged-in browser: nobody may be
 * logged out by it. The multi-instance case (oidc-provider delivering to another instance through Redis)
 * is in `instances.redis.test.ts`.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { TestBrowser } from './helpers/browser.js';
import { type FaultyServer, type SignIdTokenOptions } from './helpers/faulty-server.js';
import { attemptLogin, startHostileApp, useFaultyServer, whoami, type HostileApp } from './helpers/hostile.js';
import { logoutTokenClaims } from './helpers/logout-token.js';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});
afterEach(() => {
  jest.restoreAllMocks();
});

const now = () => Math.floor(Date.now() / 1000);

const logoutClaims = (extra: Record<string, unknown> = {}) => logoutTokenClaims(server, { sid: 'op-session-1', ...extra });

function sign(claims: Record<string, unknown>, opts: SignIdTokenOptions = {}): Promise<string> {
  return server.signIdToken(claims, { header: { typ: 'logout+jwt' }, ...opts });
}

async function post(app: HostileApp, body: string, contentType = 'application/x-www-form-urlencoded') {
  const res = await fetch(`${app.url}/backchannel-logout`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, cacheControl: res.headers.get('cache-control'), body: await res.text() };
}

const form = (token: string) => new URLSearchParams({ logout_token: token }).toString();

/** An app with back-channel logout and a browser logged in there (its OP session id `sid`). */
async function loggedIn(sid = 'op-session-1', app?: HostileApp) {
  const target = app ?? (await startHostileApp(server, { backchannelLogout: true }));
  const browser = new TestBrowser();
  server.idTokenClaims.sid = sid;
  const run = await attemptLogin(server, browser, target);
  expect(run.final.status).toBe(302);
  expect((await whoami(target, browser)).authenticated).toBe(true);
  return { app: target, browser };
}

describe('OpenID Foundation RP back-channel logout modules', () => {
  it('oidcc-client-test-rp-backchannel-rpinitlogout: a valid logout token is answered 200, no-store, and ends the login', async () => {
    const { app, browser } = await loggedIn();
    const res = await post(app, form(await sign(logoutClaims())));
    expect(res).toMatchObject({ status: 200, cacheControl: 'no-store' });
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });

  const refused: Array<[string, () => Promise<string>]> = [
    ['oidcc-client-test-rp-backchannel-rpinitlogout-alg-none', () => sign(logoutClaims(), { key: 'none' })],
    ['oidcc-client-test-rp-backchannel-rpinitlogout-no-event', () => sign(logoutClaims({ events: undefined }))],
    ['oidcc-client-test-rp-backchannel-rpinitlogout-with-nonce', () => sign(logoutClaims({ nonce: 'a-nonce' }))],
    // The ID tokens were RS256: an ES256 logout token (with a published EC key) is the wrong algorithm.
    ['oidcc-client-test-rp-backchannel-rpinitlogout-wrong-alg', () => sign(logoutClaims(), { alg: 'ES256' })],
    ['oidcc-client-test-rp-backchannel-rpinitlogout-wrong-aud', () => sign(logoutClaims({ aud: 'another-client' }))],
    ['oidcc-client-test-rp-backchannel-rpinitlogout-wrong-event', () => sign(logoutClaims({ events: { 'http://schemas.openid.net/event/other': {} } }))],
    ['oidcc-client-test-rp-backchannel-rpinitlogout-wrong-issuer', () => sign(logoutClaims({ iss: 'https://evil.example' }))],
  ];

  it.each(refused)('%s: answered 400 with an OAuth error, and nobody is logged out', async (_module, token) => {
    const { app, browser } = await loggedIn();
    const res = await post(app, form(await token()));
    expect(res.status).toBe(400);
    expect(res.cacheControl).toBe('no-store');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request', error_description: expect.any(String) });
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });
});

describe('forged, replayed and malformed logout tokens', () => {
  const forged: Array<[string, () => Promise<string> | string]> = [
    ['signed by a key the server does not publish', () => sign(logoutClaims(), { key: 'foreign' })],
    ['HMAC-signed with the client secret', () => sign(logoutClaims(), { key: 'hmac-secret' })],
    ['without sid and sub', () => sign(logoutClaims({ sid: undefined, sub: undefined }))],
    ['without jti', () => sign(logoutClaims({ jti: undefined }))],
    ['typed as something else', () => sign(logoutClaims(), { header: { typ: 'JWT' } })],
    ['expired', () => sign(logoutClaims({ iat: now() - 600, exp: now() - 300 }))],
    ['issued in the future', () => sign(logoutClaims({ iat: now() + 600, exp: now() + 900 }))],
    ['issued long ago without exp', () => sign(logoutClaims({ iat: now() - 3600, exp: undefined }))],
    ['for this client and an audience it does not trust', () => sign(logoutClaims({ aud: [server.clientId, 'https://other.example'] }))],
    ['an ID token (it has a nonce and no events)', () => sign(logoutClaims({ nonce: 'n', events: undefined }), { header: {} })],
    ['not a JWT', () => 'not-a-jwt'],
  ];

  it.each(forged)('refuses a logout token %s with 400, logging nobody out', async (_name, token) => {
    const { app, browser } = await loggedIn();
    expect((await post(app, form(await token()))).status).toBe(400);
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });

  it('refuses a replayed jti: the second delivery is 400 (and a later login of the user survives it)', async () => {
    const { app } = await loggedIn();
    const token = await sign(logoutClaims({ sid: undefined, iat: now() - 5 }));
    expect((await post(app, form(token))).status).toBe(200);
    // A login in a later second than the logout was recorded (T = max(iat, the time it was recorded)).
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 1100);
    const again = await loggedIn('op-session-2', app);
    expect((await post(app, form(token))).status).toBe(400);
    expect((await whoami(app, again.browser)).authenticated).toBe(true);
  });

  it('refuses a body without logout_token, a JSON body and a repeated logout_token', async () => {
    const { app, browser } = await loggedIn();
    const token = await sign(logoutClaims());
    expect((await post(app, 'other=1')).status).toBe(400);
    expect((await post(app, JSON.stringify({ logout_token: token }), 'application/json')).status).toBe(400);
    expect((await post(app, `${form(token)}&${form(token)}`)).status).toBe(400);
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });

  it('answers only POST on the route: a GET with a valid token changes nothing', async () => {
    const { app, browser } = await loggedIn();
    const res = await fetch(`${app.url}/backchannel-logout?${form(await sign(logoutClaims()))}`);
    expect(res.status).toBe(404);
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });

  it('mounts no route and reads nothing when the option is off', async () => {
    const app = await startHostileApp(server);
    const { browser } = await loggedIn('op-session-1', app);
    expect((await post(app, form(await sign(logoutClaims())))).status).toBe(404);
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });
});

describe('what a valid logout token ends', () => {
  it('by sid: that session only, not another session of the same user', async () => {
    const first = await loggedIn('op-session-1');
    const second = await loggedIn('op-session-2', first.app);
    expect((await post(first.app, form(await sign(logoutClaims({ sid: 'op-session-1' }))))).status).toBe(200);
    expect((await whoami(first.app, first.browser)).authenticated).toBe(false);
    expect((await whoami(first.app, second.browser)).authenticated).toBe(true);
  });

  it('by sid alone (no sub): the login\'s own sid names it', async () => {
    const { app, browser } = await loggedIn('op-session-9');
    expect((await post(app, form(await sign(logoutClaims({ sub: undefined, sid: 'op-session-9' }))))).status).toBe(200);
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });

  it('by sub: every login of the user that began before the token, not a later one', async () => {
    const first = await loggedIn('op-session-1');
    const second = await loggedIn('op-session-2', first.app);
    expect((await post(first.app, form(await sign(logoutClaims({ sid: undefined, iat: now() })))))).toMatchObject({ status: 200 });
    expect((await whoami(first.app, first.browser)).authenticated).toBe(false);
    expect((await whoami(first.app, second.browser)).authenticated).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a login in a later second than the token's iat
    const later = await loggedIn('op-session-3', first.app);
    expect((await whoami(first.app, later.browser)).authenticated).toBe(true);
  });

  it('another user\'s login is untouched', async () => {
    const { app } = await loggedIn('op-session-1');
    server.sub = 'someone-else';
    const other = await loggedIn('op-session-5', app);
    server.sub = 'user-123';
    expect((await post(app, form(await sign(logoutClaims({ sid: undefined }))))).status).toBe(200);
    expect((await whoami(app, other.browser)).authenticated).toBe(true);
  });
});
