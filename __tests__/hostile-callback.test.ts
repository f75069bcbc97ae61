/**
 * A misbehaving (or impersonated) authorization response at the callback: RFC 9207 `iss`, RFC 6749
 * §4.1.2.1 errors, missing and repeated parameters (RFC 6749 §3.1), code injection (RFC 9700 §4.5).
 * Each case logs in first, so it also proves that a failed callback of a pending login logs the session
 * out, while a response that names no pending login (no state, an unknown one, unparseable parameters)
 * leaves the earlier login alone: it cannot be a login in progress, and any site can link to it.
 */
import './helpers/capture-logs.js'; // first: turns the debug log on before lib/ loads
import { describe, expect, it } from '@jest/globals';
import { TestBrowser } from './helpers/browser.js';
import { type AuthorizeFault, type FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, expectFailure, hostileLogin, useFaultyServer, settle, startHostileApp, whoami } from './helpers/hostile.js';

let server: FaultyServer;
const { rejections } = useFaultyServer((started) => {
  server = started;
});

/** Failures before any pending login was found: the earlier login stays. */
const NO_PENDING_LOGIN = new Set(['state_missing', 'state_mismatch', 'callback_params_invalid']);

describe('the authorization response is wrong', () => {
  const cases: Array<[string, () => AuthorizeFault, number, string]> = [
    ['iss names another issuer (mix-up, RFC 9207 §2.4)', () => ({ iss: 'https://evil.example' }), 400, 'iss_mismatch'],
    ['iss is a trailing-slash variant of the issuer', () => ({ iss: `${server.issuer}/` }), 400, 'iss_mismatch'],
    ['iss is missing although the server advertises it', () => ({ iss: null }), 400, 'iss_missing'],
    ['an error response comes from another issuer', () => ({ iss: 'https://evil.example', error: 'access_denied' }), 400, 'iss_mismatch'],
    ['the user denied access', () => ({ error: 'access_denied', errorDescription: 'The user said no' }), 403, 'access_denied'],
    ['the server needs interaction (login_required)', () => ({ error: 'login_required' }), 401, 'login_required'],
    ['the server reports server_error', () => ({ error: 'server_error', errorDescription: 'try later' }), 400, 'authorization_error'],
    ['the server reports an unknown error code', () => ({ error: 'x_weird error!' }), 400, 'authorization_error'],
    ['the code is missing', () => ({ code: null }), 400, 'code_missing'],
    ['the code is empty', () => ({ code: '' }), 400, 'code_missing'],
    ['the state is missing', () => ({ state: null }), 400, 'state_missing'],
    ['the state is another one', () => ({ state: 'A'.repeat(43) }), 400, 'state_mismatch'],
    ['the state is not a state at all', () => ({ state: '../../etc/passwd' }), 400, 'state_mismatch'],
    ['state is duplicated', () => ({ extraParams: [['state', 'other']] }), 400, 'callback_params_invalid'],
    ['code is duplicated', () => ({ extraParams: [['code', 'other']] }), 400, 'callback_params_invalid'],
    ['iss is duplicated', () => ({ extraParams: [['iss', 'https://evil.example']] }), 400, 'callback_params_invalid'],
  ];

  it.each(cases)('fails the callback when %s, with the documented error and no login', async (_name, authorize, status, code) => {
    const run = await hostileLogin(server, { preLogin: true, faults: { authorize: authorize() } });
    expect(run.stage).toBe('callback');
    expectFailure(run, server, 'callback', status, code, { loggedIn: NO_PENDING_LOGIN.has(code) });
    // only the pre-login redeemed a code: the faulty response never reached the token endpoint
    expect(server.requestsTo('/token')).toHaveLength(1);
  });

  it('carries the server\'s error and description on access_denied, and ends the earlier login', async () => {
    const run = await hostileLogin(server, { preLogin: true, faults: { authorize: { error: 'access_denied', errorDescription: 'The user said no' } } });
    expectFailure(run, server, 'callback', 403, 'access_denied');
    expect(run.error).toMatchObject({ error: 'access_denied', error_description: 'The user said no' });
  });

  it('treats an error response without state as the server\'s error, not as a login, and keeps the earlier login', async () => {
    const run = await hostileLogin(server, { preLogin: true, faults: { authorize: { error: 'access_denied', state: null } } });
    expectFailure(run, server, 'callback', 403, 'access_denied', { loggedIn: true });
    // no state: the pending transaction was not consumed
    expect(run.pending).toBe(1);
  });

  it('ignores a PHP-style state[] array', async () => {
    const run = await hostileLogin(server, {
      preLogin: true,
      editCallback: (url) => url.href.replace(/([?&])state=/, '$1state[]='),
    });
    expectFailure(run, server, 'callback', 400, 'state_missing', { loggedIn: true });
  });

  it('rejects a code injected from another login: PKCE makes the server refuse it (RFC 9700 §4.5)', async () => {
    const app = await startHostileApp(server);
    const attacker = new TestBrowser();
    const attackerLogin = await attacker.get(`${app.url}/login`);
    const attackerCallback = new URL((await attacker.get(attackerLogin.location!)).location!);
    const stolenCode = attackerCallback.searchParams.get('code')!;

    const run = await hostileLogin(server, {
      app,
      preLogin: true,
      editCallback: (url) => {
        url.searchParams.set('code', stolenCode);
        return url.href;
      },
    });
    expectFailure(run, server, 'callback', 502, 'token_exchange_failed');
    expect(run.error).toMatchObject({ error: 'invalid_grant' });
  });

  it('keeps the transaction consumed after a failed callback: a retry with the right code is refused', async () => {
    const app = await startHostileApp(server);
    const browser = new TestBrowser();
    let real = '';
    const run = await hostileLogin(server, {
      app,
      browser,
      preLogin: true,
      editCallback: (url) => {
        real = url.href;
        url.searchParams.set('iss', 'https://evil.example');
        return url.href;
      },
    });
    expectFailure(run, server, 'callback', 400, 'iss_mismatch');
    const retry = await browser.get(real);
    expect(retry.status).toBe(400);
    expect(JSON.parse(retry.body)).toMatchObject({ code: 'state_mismatch' });
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });

  it('refuses a response delivered to another browser (login CSRF, RFC 6749 §10.12): the victim is never logged in as the attacker', async () => {
    const app = await startHostileApp(server);
    const victim = new TestBrowser();
    server.sub = 'victim';
    expect((await attemptLogin(server, victim, app)).final.status).toBe(302);
    expect(await whoami(app, victim)).toMatchObject({ authenticated: true, sub: 'victim' });

    server.sub = 'attacker';
    const attacker = new TestBrowser();
    const start = await attacker.get(`${app.url}/login`);
    const callback = (await attacker.get(start.location!)).location!;
    const tokenCalls = server.requestsTo('/token').length;
    const res = await victim.get(callback);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'state_mismatch' });
    // not the attacker's account: the victim's own login stays (a state that names no pending login of
    // this browser cannot be a login in progress, so a planted link logs nobody out)
    expect(await whoami(app, victim)).toMatchObject({ authenticated: true, sub: 'victim' });
    // the attacker's code was never redeemed, so it still works for nobody but the attacker's session
    expect(server.requestsTo('/token')).toHaveLength(tokenCalls);
  });

  it.each([
    ['/callback?state=junk', 'state_mismatch'],
    ['/callback?error=access_denied', 'access_denied'],
    ['/callback?state=a&state=b', 'callback_params_invalid'],
  ])('answers a link to %s with its 4xx and leaves the signed-in user alone', async (path, code) => {
    const app = await startHostileApp(server);
    const browser = new TestBrowser();
    expect((await attemptLogin(server, browser, app)).final.status).toBe(302);
    const res = await browser.get(`${app.url}${path}`);
    expect(JSON.parse(res.body)).toMatchObject({ code });
    expect(await whoami(app, browser)).toMatchObject({ authenticated: true, sub: 'user-123' });
  });

  it('does not follow a login whose response lands elsewhere: the leaked code and state are useless to whoever caught them', async () => {
    // A server that redirects the authorization response to another site hands the code and state to
    // that site. What would go wrong: the catcher replays them at our callback and is logged in as the
    // user. State is bound to the user's session and the code to its PKCE verifier, so this must fail.
    const app = await startHostileApp(server);
    const browser = new TestBrowser();
    server.fault.authorize = { redirectUri: 'https://evil.example/cb' };
    const run = await attemptLogin(server, browser, app);
    expect(run.stage).toBe('authorize');
    const leaked = new URL(run.final.location!);
    expect(leaked.origin).toBe('https://evil.example');
    expect(leaked.searchParams.get('code')).toEqual(expect.any(String));
    expect(leaked.searchParams.get('state')).toEqual(expect.any(String));
    // the user's browser never reached our callback: still logged out, the login still pending
    expect(await whoami(app, browser)).toMatchObject({ authenticated: false, pending: 1 });

    const catcher = new TestBrowser();
    const replay = await catcher.get(`${app.url}/callback${leaked.search}`);
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toMatchObject({ code: 'state_mismatch' });
    expect(await whoami(app, catcher)).toMatchObject({ authenticated: false });
    expect(server.requestsTo('/token')).toHaveLength(0);
    // and the user's own pending login was not consumed by the catcher's attempt
    expect((await whoami(app, browser)).pending).toBe(1);
  });
});

it('left no unhandled rejection behind', async () => {
  await settle();
  expect(rejections.list).toEqual([]);
});
