/**
 * `onEvent`: one structured event per protocol step, for logs and traces. Events must never carry a
 * secret, token, authorization code, state, nonce or PKCE verifier, and a throwing listener must not
 * break the login.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { Passport } from 'passport';
import { parAuth, requiresAuth, type ParEvent } from '../lib/index.js';
import { ParStrategy } from '../lib/passport.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startFaultyServer, type Faults, type FaultyServer } from './helpers/faulty-server.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

let provider: TestProvider;
let app: TestApp;
let events: ParEvent[] = [];
let listener: (event: ParEvent) => void = (event) => events.push(event);

function mount(a: Express, baseURL: string) {
  a.use(parAuth({
    issuerBaseURL: provider.issuer,
    baseURL,
    clientID: TEST_CLIENT_ID,
    clientSecret: TEST_CLIENT_SECRET,
    onEvent: (event) => listener(event),
  }));
  a.get('/tokens', requiresAuth(), (req, res) => {
    res.json({ idToken: req.oidc.idToken, accessToken: req.oidc.accessToken, refreshToken: req.oidc.refreshToken ?? null });
  });
}

beforeAll(async () => {
  app = await startApp(mount);
  provider = await startProvider({ redirectUris: [`${app.url}/callback`], postLogoutRedirectUris: [`${app.url}/`] });
});
afterAll(async () => {
  await app?.close();
  await provider?.close();
});
beforeEach(() => {
  events = [];
  listener = (event) => events.push(event);
});

async function login(browser: TestBrowser) {
  const start = await browser.get(`${app.url}/login?returnTo=${encodeURIComponent('/tokens')}`);
  expect(start.status).toBe(302);
  const callbackUrl = await completeProviderLogin(browser, start.location!);
  const callback = await browser.get(callbackUrl);
  return { start, callbackUrl, callback };
}

/** Every value an event must not reveal, from the wire and from the stored login. */
function secretsOf(run: { start: { location?: string }; callbackUrl: string; callback: { headers: Headers } }, tokens: Record<string, string | null>): string[] {
  const pushed = provider.pushedRequests.at(-1)!;
  const tokenRequest = provider.tokenRequests.at(-1)!;
  const callback = new URL(run.callbackUrl).searchParams;
  const cookie = /app\.sid=([^;]+)/.exec(run.callback.headers.get('set-cookie') ?? '')?.[1];
  const values = [
    TEST_CLIENT_SECRET,
    'test-session-secret',
    pushed.state, pushed.nonce, pushed.code_challenge,
    new URL(run.start.location!).searchParams.get('request_uri'),
    callback.get('code'), callback.get('state'),
    tokenRequest.code, tokenRequest.code_verifier,
    tokens.idToken, tokens.accessToken, tokens.refreshToken,
    cookie && decodeURIComponent(cookie),
  ];
  return values.filter((v): v is string => typeof v === 'string' && v.length > 0);
}

function expectNoSecrets(serialised: string, secrets: string[]) {
  expect(secrets.length).toBeGreaterThanOrEqual(12);
  for (const secret of secrets) expect(serialised.includes(secret)).toBe(false);
}

describe('onEvent', () => {
  it('reports login.started, par.pushed and callback.succeeded for a full login, in that order', async () => {
    const browser = new TestBrowser();
    const { callback } = await login(browser);
    expect(callback.status).toBe(302);
    expect(events).toEqual([
      { type: 'login.started', returnTo: '/tokens' },
      { type: 'par.pushed', expires_in: expect.any(Number) },
      { type: 'callback.succeeded', sub: 'alice' },
    ]);
    const pushed = events[1] as Extract<ParEvent, { type: 'par.pushed' }>;
    expect(pushed.expires_in).toBeGreaterThan(0);
  });

  it('never carries a secret, token, code, state, nonce or verifier in any event', async () => {
    const browser = new TestBrowser();
    const run = await login(browser);
    const tokens = JSON.parse((await browser.get(`${app.url}/tokens`)).body) as Record<string, string | null>;
    expect(typeof tokens.accessToken).toBe('string');
    await browser.get(`${app.url}/logout`);
    expect(events.map((e) => e.type)).toEqual(['login.started', 'par.pushed', 'callback.succeeded', 'logout']);
    expectNoSecrets(JSON.stringify(events), secretsOf(run, tokens));
  });

  it('reports callback.failed with the error code for a forged callback', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(`${app.url}/callback?state=forged-state&code=forged-code&iss=${encodeURIComponent(provider.issuer)}`);
    expect(res.status).toBe(400);
    expect(events).toEqual([{ type: 'callback.failed', code: 'state_mismatch', status: 400 }]);
    expect(JSON.stringify(events)).not.toContain('forged');
  });

  it('reports callback.failed when a pending login comes back with a forged code', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/login`);
    const callbackUrl = await completeProviderLogin(browser, start.location!);
    const forged = new URL(callbackUrl);
    forged.searchParams.set('code', 'forged-authorization-code');
    const res = await browser.get(forged.href);
    expect(res.status).toBe(502);
    expect(events.at(-1)).toEqual({ type: 'callback.failed', code: 'token_exchange_failed', status: 502 });
    expect(JSON.stringify(events)).not.toContain('forged-authorization-code');
    expect(JSON.stringify(events)).not.toContain(forged.searchParams.get('state')!);
  });

  it('completes the login when the onEvent listener throws', async () => {
    let calls = 0;
    listener = () => {
      calls += 1;
      throw new Error('listener failure');
    };
    const browser = new TestBrowser();
    const { callback } = await login(browser);
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/tokens`);
    const me = await browser.get(`${app.url}/tokens`);
    expect(me.status).toBe(200);
    expect(calls).toBe(3);
  });
});

describe('login.failed: a login that cannot start (issue #30, item 14)', () => {
  let faulty: FaultyServer;
  const failed: ParEvent[] = [];

  beforeAll(async () => {
    faulty = await startFaultyServer();
  });
  afterAll(async () => {
    await faulty.close();
  });
  beforeEach(() => {
    faulty.reset();
    failed.length = 0;
  });

  /** A fresh app (so discovery is fetched again) with the middleware or the strategy answering /login. */
  function appWith(adapter: 'middleware' | 'passport'): Promise<TestApp> {
    return startApp((a, baseURL) => {
      const options = {
        issuerBaseURL: faulty.issuer, baseURL, clientID: faulty.clientId, clientSecret: faulty.clientSecret, httpTimeout: 300,
        onEvent: (e: ParEvent) => failed.push(e),
      };
      if (adapter === 'middleware') {
        a.use(parAuth(options));
        return;
      }
      const passport = new Passport();
      passport.use(new ParStrategy(options, (_tokens, claims, done) => done(null, { id: claims.sub })));
      a.use(passport.initialize());
      a.get('/login', passport.authenticate('par'));
    });
  }

  async function loginStatus(adapter: 'middleware' | 'passport'): Promise<number> {
    const app = await appWith(adapter);
    try {
      return (await new TestBrowser().get(`${app.url}/login`)).status;
    } finally {
      await app.close();
    }
  }

  const CLOSED_PORT = 'http://127.0.0.1:1/par';
  const cases: Array<[string, () => Faults, number, string]> = [
    ['the PAR endpoint refuses the client', () => ({ par: { status: 401, error: 'invalid_client' } }), 502, 'par_failed'],
    ['the PAR endpoint does not answer in time', () => ({ par: { hang: true } }), 504, 'upstream_timeout'],
    ['the PAR endpoint is unreachable', () => ({ discovery: { merge: { pushed_authorization_request_endpoint: CLOSED_PORT } } }), 502, 'upstream_unreachable'],
  ];
  describe.each(['middleware', 'passport'] as const)('%s', (adapter) => {
    it.each(cases)('is emitted with code and status when %s', async (_name, faults, status, code) => {
      Object.assign(faulty.fault, faults());
      expect(await loginStatus(adapter)).toBe(status);
      expect(failed).toEqual([{ type: 'login.started', returnTo: '/' }, { type: 'login.failed', code, status }]);
    });

    it('is emitted when discovery fails, before any login.started', async () => {
      faulty.fault.discovery = { status: 500, body: 'down' };
      expect(await loginStatus(adapter)).toBe(502);
      expect(failed).toEqual([{ type: 'login.failed', code: 'discovery_failed', status: 502 }]);
    });
  });
});
