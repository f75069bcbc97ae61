import './helpers/capture-logs.js'; // first: turns the debug log on before lib/ loads
/**
 * The OpenID Foundation's relying-party conformance modules for OpenID Connect (Basic RP plan, Config RP
 * plan, RP-initiated logout) that apply to a confidential code-flow client with PAR, one test per module,
 * named after it. Each builds the module's condition against the faulty authorization server and expects
 * what the module expects: the login is refused (and, for a browser already logged in, ended) or it
 * succeeds. Modules that need userinfo, refresh through getAccessToken() or back-channel logout are in
 * the table of docs/conformance.md.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { decodeProtectedHeader } from 'jose';
import { BACKCHANNEL_LOGOUT_EVENT } from '../lib/protocol/logout-token.js';
import { TestBrowser } from './helpers/browser.js';
import { type FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, expectFailure, hostileLogin, startHostileApp, useFaultyServer, whoami, type HostileApp, type HostileRun } from './helpers/hostile.js';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});
afterEach(() => {
  jest.restoreAllMocks();
});

/** The module expects the client to accept: the browser ends up logged in as the server's user. */
function expectAccepted(run: HostileRun): void {
  expect(run.stage).toBe('callback');
  expect(run.final.status).toBe(302);
  expect(run.error).toBeUndefined();
  expect(run.loggedIn).toBe(true);
}

/** The module expects the client to refuse the ID token: 502 id_token_invalid, and an earlier login ended. */
async function expectIdTokenRefused(opts: Parameters<typeof hostileLogin>[1]): Promise<HostileRun> {
  const run = await hostileLogin(server, { preLogin: true, ...opts });
  expectFailure(run, server, 'callback', 502, 'id_token_invalid');
  return run;
}

const withoutKid = (jwk: Record<string, unknown>) => {
  const { kid: _kid, ...rest } = jwk;
  return rest;
};

/** Moves Date.now by `ms` (jose's JWKS cooldown and the library read it). */
function shiftClock(ms: number): void {
  jest.restoreAllMocks();
  const realNow = Date.now.bind(Date);
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);
}

describe('Basic RP plan (oidcc-client-basic-certification-test-plan)', () => {
  it('oidcc-client-test', async () => {
    // rp-response_type-code: a code flow login; the pushed request says response_type=code and scope openid
    const run = await hostileLogin(server, {});
    expectAccepted(run);
    const pushed = server.requestsTo('/par')[0]!.body;
    expect(pushed.response_type).toBe('code');
    expect(String(pushed.scope).split(' ')).toContain('openid');
  });

  it('oidcc-client-test-invalid-iss', async () => {
    await expectIdTokenRefused({ idTokenClaims: { iss: 'https://issuer.invalid' } });
  });

  it('oidcc-client-test-missing-sub', async () => {
    await expectIdTokenRefused({ idTokenClaims: { sub: undefined } });
  });

  it('oidcc-client-test-invalid-aud', async () => {
    await expectIdTokenRefused({ idTokenClaims: { aud: 'another-client' } });
  });

  it('oidcc-client-test-missing-iat', async () => {
    await expectIdTokenRefused({ idTokenClaims: { iat: undefined } });
  });

  it('oidcc-client-test-kid-absent-single-jwks', async () => {
    const run = await hostileLogin(server, {
      faults: { jwks: { body: { keys: [withoutKid(server.keys.signing.publicJwk as Record<string, unknown>)] } }, idToken: (c, sign) => sign(c, { kid: null }) },
    });
    expectAccepted(run);
  });

  // Not in the Basic or Config plans (the suite's full RP plan has it); RFC 7517 §5: ignore keys you cannot use.
  it('oidcc-client-test-ignores-unparseable-key-in-jwks', async () => {
    const keys = [
      { kty: 'AKP', alg: 'ML-DSA-999', kid: 'pq-key', pub: 'AAAA' },
      { kty: 'MADE-UP', kid: 'made-up-key', x: 'AAAA' },
      server.keys.signing.publicJwk,
    ];
    const run = await hostileLogin(server, { faults: { jwks: { body: { keys } } } });
    expectAccepted(run);
  });

  it('oidcc-client-test-kid-absent-multiple-jwks', async () => {
    // The module accepts either answer: refuse (no kid to choose a key by) or try every key. express-par
    // refuses: jose will not guess between several matching keys.
    const keys = [server.keys.foreign.publicJwk, server.keys.signing.publicJwk].map((k) => withoutKid(k as Record<string, unknown>));
    // (a fresh app: the key set under test is the first one it fetches)
    const run = await hostileLogin(server, { faults: { jwks: { body: { keys } }, idToken: (c, sign) => sign(c, { kid: null }) } });
    expectFailure(run, server, 'callback', 502, 'id_token_invalid');
    expect(run.error!.message).toContain('ERR_JWKS_MULTIPLE_MATCHING_KEYS');
  });

  it('oidcc-client-test-idtoken-sig-rs256', async () => {
    const run = await hostileLogin(server, {});
    expectAccepted(run);
    const issued = server.issued.find((t) => t.startsWith('eyJ'))!;
    expect(decodeProtectedHeader(issued).alg).toBe('RS256');
  });

  it('oidcc-client-test-idtoken-sig-none', async () => {
    // A client registered for unsigned ID tokens (id_token_signed_response_alg none) accepts one from
    // the token endpoint; express-par does only when told so (idTokenSigningAlgs: ['none']).
    const run = await hostileLogin(server, { options: { idTokenSigningAlgs: ['none'] }, faults: { idToken: (c, sign) => sign(c, { key: 'none' }) } });
    expectAccepted(run);
    // and a client not registered for it refuses the same token
    delete server.fault.idToken;
    await expectIdTokenRefused({ faults: { idToken: (c, sign) => sign(c, { key: 'none' }) } });
  });

  it('oidcc-client-test-invalid-sig-rs256', async () => {
    await expectIdTokenRefused({ faults: { idToken: (c, sign) => sign(c, { key: 'foreign' }) } });
  });

  it('oidcc-client-test-nonce-invalid', async () => {
    await expectIdTokenRefused({ idTokenClaims: { nonce: 'a-nonce-this-client-never-sent' } });
  });

  it('oidcc-client-test-client-secret-basic', async () => {
    const run = await hostileLogin(server, { options: { clientAuthMethod: 'client_secret_basic' } });
    expectAccepted(run);
    expect(server.requestsTo('/token').map((r) => r.clientAuth)).toEqual(['client_secret_basic']);
    expect(server.requestsTo('/token')[0]!.headers.authorization).toMatch(/^Basic /);
  });
});

describe('Config RP plan (oidcc-client-config-certification-test-plan)', () => {
  it('oidcc-client-test-discovery-openid-config', async () => {
    const run = await hostileLogin(server, {});
    expectAccepted(run);
    // the first request is the OpenID Provider Configuration, and its endpoints are the ones used
    expect(server.requests[0]!.path).toBe('/.well-known/openid-configuration');
    expect(server.requests.map((r) => r.path)).toEqual(expect.arrayContaining(['/par', '/token', '/jwks']));
  });

  it('oidcc-client-test-discovery-jwks-uri-keys', async () => {
    // jwks_uri is wherever the configuration says (here a path that changes per server)
    const run = await hostileLogin(server, { faults: { discovery: { merge: { jwks_uri: server.url(server.jwksAlias) } } } });
    expectAccepted(run);
    expect(server.requestsTo(server.jwksAlias)).toHaveLength(1);
    expect(server.requestsTo('/jwks')).toHaveLength(0);
  });

  it('oidcc-client-test-discovery-issuer-mismatch', async () => {
    const run = await hostileLogin(server, { faults: { discovery: { issuer: 'https://issuer.invalid' } } });
    expectFailure(run, server, 'login', 502, 'issuer_mismatch');
    expect(server.requestsTo('/par')).toHaveLength(0);
  });

  it('oidcc-client-test-signing-key-rotation-just-before-signing', async () => {
    // The server rotates its key right before it signs the ID token: a client that fetched the key set
    // earlier must fetch it again. Here the app holds the old key set from a login 2 s before, and a
    // fresh app fetches it for the first time.
    const rotateThenSign = async (claims: Record<string, unknown>, sign: (c: Record<string, unknown>) => Promise<string>) => {
      await server.rotateSigningKey();
      return sign(claims);
    };
    // Making an RSA key takes a while: more than the suite's 300 ms httpTimeout on a busy machine.
    const options = { httpTimeout: 10_000 };
    const app = await startHostileApp(server, options);
    expectAccepted(await hostileLogin(server, { app }));
    shiftClock(2_000);
    const cached = await hostileLogin(server, { app, faults: { idToken: rotateThenSign } });
    expectAccepted(cached);
    expect(server.requestsTo('/jwks')).toHaveLength(2);

    server.fault.idToken = rotateThenSign;
    expectAccepted(await hostileLogin(server, { options }));
  });

  it('oidcc-client-test-signing-key-rotation', async () => {
    // Two logins; the keys rotate after the first ID token. The second ID token's kid is unknown to the
    // cached key set, so the client refetches it at once (at most 5 refetches a minute, against kid
    // flooding): the second login comes seconds after the first, as in the suite.
    const app = await startHostileApp(server);
    const browser = new TestBrowser();
    expect((await attemptLogin(server, browser, app)).final.status).toBe(302);
    await server.rotateSigningKey();
    shiftClock(2_000);
    const second = await hostileLogin(server, { app, browser });
    expectAccepted(second);
    expect(server.requestsTo('/jwks')).toHaveLength(2);
  });
});

describe('RP-initiated logout plan (oidcc-client-rp-initiated-logout-certification-test-plan)', () => {
  // Every module of the plan needs a back- or front-channel logout URI at the client; express-par's is the
  // back-channel one (`backchannelLogout: true`). The suite then: receives the end_session request, sends
  // the back-channel logout token for the session, and redirects the browser to post_logout_redirect_uri.
  const SID = 'op-session-logout-plan';

  /** A browser logged in to an app with back-channel logout (and /signout sending `state`); the ID token issued. */
  async function loggedIn() {
    const app = await startHostileApp(server, { backchannelLogout: true }, (a) => {
      a.get('/signout', (req, res, next) => {
        res.oidc.logout({ logoutParams: { state: String(req.query.state) } }).catch(next);
      });
    });
    const browser = new TestBrowser();
    server.idTokenClaims.sid = SID;
    expect((await attemptLogin(server, browser, app)).final.status).toBe(302);
    expect((await whoami(app, browser)).authenticated).toBe(true);
    const idToken = server.issued.find((t) => t.startsWith('eyJ'))!;
    return { app, browser, idToken };
  }

  /** What the suite does after the end_session request: a valid logout token for the OP session, POSTed to the client. */
  async function deliverLogoutToken(app: HostileApp) {
    const now = Math.floor(Date.now() / 1000);
    const token = await server.signIdToken(
      { iss: server.issuer, aud: server.clientId, iat: now, exp: now + 120, jti: randomBytes(16).toString('base64url'), sid: SID, sub: 'user-123', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } },
      { header: { typ: 'logout+jwt' } },
    );
    const res = await fetch(`${app.url}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }) });
    expect(res.status).toBe(200);
  }

  it('oidcc-client-test-rp-init-logout: end_session with id_token_hint, client_id, post_logout_redirect_uri; the logout token and the redirect back are handled', async () => {
    const { app, browser, idToken } = await loggedIn();
    const logout = await browser.get(`${app.url}/logout`);
    expect(logout.status).toBe(302);
    const endSession = new URL(logout.location!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(server.url('/logout'));
    expect(Object.fromEntries(endSession.searchParams)).toEqual({ id_token_hint: idToken, client_id: server.clientId, post_logout_redirect_uri: `${app.url}/` });
    // the login ended before the browser left
    expect((await whoami(app, browser)).authenticated).toBe(false);
    await deliverLogoutToken(app);
    const back = await browser.get(endSession.searchParams.get('post_logout_redirect_uri')!);
    expect(back.status).toBe(200);
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });

  // The two state modules require a `state` in the end_session request (RP-Initiated Logout 1.0 §2: optional).
  // express-par's /logout sends none (the contract's parameters); an app sends one with res.oidc.logout().
  for (const [module, back] of [
    ['oidcc-client-test-rp-init-logout-no-state', (uri: string) => uri],
    ['oidcc-client-test-rp-init-logout-other-state', (uri: string) => `${uri}?state=${randomBytes(8).toString('hex')}`],
  ] as const) {
    it(`${module}: sends state at logout, and the redirect back (${module.endsWith('no-state') ? 'without state' : 'with another state'}) is handled, logged out`, async () => {
      const { app, browser, idToken } = await loggedIn();
      const state = randomBytes(16).toString('base64url');
      const logout = await browser.get(`${app.url}/signout?state=${state}`);
      expect(logout.status).toBe(302);
      const endSession = new URL(logout.location!);
      expect(Object.fromEntries(endSession.searchParams)).toEqual({ id_token_hint: idToken, client_id: server.clientId, post_logout_redirect_uri: `${app.url}/`, state });
      expect((await whoami(app, browser)).authenticated).toBe(false);
      await deliverLogoutToken(app);
      const landed = await browser.get(back(endSession.searchParams.get('post_logout_redirect_uri')!));
      expect(landed.status).toBe(200);
      expect((await whoami(app, browser)).authenticated).toBe(false);
    });
  }
});
