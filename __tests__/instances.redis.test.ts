/**
 * Several app instances behind one public URL, sharing their sessions through Redis (connect-redis), as in
 * production behind a load balancer. Two apps with the same session secret, each with its own Redis client
 * and store over our own redis-server; one oidc-provider; browsers whose cookie jars send the session
 * cookie to both instances. The test plays the load balancer: it sends each request to the instance it
 * chooses.
 *
 * Needs redis-server (`.ci/run` installs it); without it every test here fails with that message.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Express } from 'express';
import { parAuth, requiresAuth } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, parseForms, TestBrowser, type BrowserResponse } from './helpers/browser.js';
import { recordUnhandledRejections, settle } from './helpers/hostile.js';
import { createRedisSessionStore, startRedis, type TestRedis, type TestSessionStore } from './helpers/redis.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

let redis: TestRedis;
let provider: TestProvider;
const stores: TestSessionStore[] = [];
let a: TestApp;
let b: TestApp;
/** The one public origin both instances are configured with (the load balancer's). */
let publicBase: string;
/** When set, the provider stops Redis while it answers the next token request (mid-callback). */
let stopRedisAtTokenRequest = false;
/** Statuses our back-channel route answered the provider's logout calls with. */
const backchannelResponses: number[] = [];
const rejections = recordUnhandledRejections();

function mount(name: string) {
  return (app: Express) => {
    app.use(parAuth({
      issuerBaseURL: provider.issuer,
      baseURL: publicBase,
      clientID: TEST_CLIENT_ID,
      clientSecret: TEST_CLIENT_SECRET,
      // 200 logins at once on a shared 2-core machine queue behind the provider's CPU (RS256 signing):
      // room for that, not a time limit under test.
      httpTimeout: 60_000,
      backchannelLogout: true,
    }));
    app.get('/me', requiresAuth(), (req, res) => {
      res.json({ instance: name, sub: req.oidc.user?.sub });
    });
    app.get('/whoami', (req, res) => {
      res.json({ instance: name, authenticated: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub ?? null });
    });
  };
}

beforeAll(async () => {
  redis = await startRedis();
  for (let i = 0; i < 2; i++) stores.push(await createRedisSessionStore(redis));
  a = await startApp(mount('a'), { store: stores[0]!.store });
  b = await startApp(mount('b'), { store: stores[1]!.store });
  publicBase = a.url;
  const stopRedisMidCallback = async (ctx: any, next: () => Promise<void>) => {
    if (stopRedisAtTokenRequest && ctx.method === 'POST' && ctx.path === '/token') {
      stopRedisAtTokenRequest = false;
      await redis.stop();
    }
    await next();
  };
  provider = await startProvider({
    redirectUris: [`${publicBase}/callback`],
    middleware: [stopRedisMidCallback],
    storeSize: 20_000,
    configure(config) {
      config.features.backchannelLogout = { enabled: true };
      // The provider delivers logout tokens to instance B (the load balancer's choice for this call).
      config.clients[0].backchannel_logout_uri = `${b.url}/backchannel-logout`;
      config.clients[0].backchannel_logout_session_required = true;
      // oidc-provider refuses outgoing calls to loopback (SSRF guard): let its fetch reach our instance.
      config.fetch = async (url: string, { dispatcher: _dispatcher, ...options }: Record<string, unknown>) => {
        const res = await globalThis.fetch(url, options);
        backchannelResponses.push(res.status);
        return res;
      };
    },
  });
});

afterEach(async () => {
  jest.restoreAllMocks();
  // Every test leaves Redis running and both clients connected.
  if (!redis?.running) await redis?.start();
  await Promise.all(stores.map((s) => s.ready()));
  await settle();
  expect(rejections.list).toEqual([]);
});

afterAll(async () => {
  rejections.stop();
  await Promise.all([a?.close(), b?.close(), provider?.close()]);
  await Promise.all(stores.map((s) => s.close()));
  await redis?.close();
});

/** The load balancer: the same path and query, served by `instance`. */
function on(instance: TestApp, url: string): string {
  const u = new URL(url);
  return `${instance.url}${u.pathname}${u.search}`;
}

async function whoami(browser: TestBrowser, instance: TestApp) {
  const res = await browser.get(`${instance.url}/whoami`);
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as { instance: string; authenticated: boolean; sub: string | null };
}

/** /login on `start`, the provider's login as `user`, the callback on `finish`. */
async function login(browser: TestBrowser, start: TestApp, finish: TestApp, user: string): Promise<{ callbackUrl: string; callback: BrowserResponse }> {
  const res = await browser.get(`${start.url}/login?returnTo=/me`);
  expect(res.status).toBe(302);
  const callbackUrl = on(finish, await completeProviderLogin(browser, res.location!, { login: user }));
  return { callbackUrl, callback: await browser.get(callbackUrl) };
}

describe('a login across instances', () => {
  it('starts on instance A and finishes on instance B; both then see the user, and a logout on one ends it on both', async () => {
    const browser = new TestBrowser();
    const { callback } = await login(browser, a, b, 'alice');
    expect(callback.status).toBe(302);
    expect(new URL(callback.location!).pathname).toBe('/me');
    expect(await whoami(browser, a)).toEqual({ instance: 'a', authenticated: true, sub: 'alice' });
    expect(await whoami(browser, b)).toEqual({ instance: 'b', authenticated: true, sub: 'alice' });

    const logout = await browser.get(`${a.url}/logout`);
    expect(logout.status).toBe(302);
    expect((await whoami(browser, b)).authenticated).toBe(false);
  });

  it('keeps 200 concurrent logins spread over both instances apart: none lost, none crossed', async () => {
    const before = new Set(await stores[0]!.sessionIds());
    const users = Array.from({ length: 200 }, (_, i) => ({ user: `user-${i}`, browser: new TestBrowser(), start: i % 2 ? b : a, finish: i % 3 ? a : b }));
    const callbacks = await Promise.all(users.map(({ user, browser, start, finish }) => login(browser, start, finish, user).then((r) => r.callback)));
    expect([...a.errors, ...b.errors]).toEqual([]);
    expect(callbacks.map((c) => c.status)).toEqual(Array(200).fill(302));
    for (const { user, browser } of users) {
      expect(await whoami(browser, a)).toMatchObject({ authenticated: true, sub: user });
      expect(await whoami(browser, b)).toMatchObject({ authenticated: true, sub: user });
    }
    // One session per browser in Redis (the pre-login ones were replaced at login: session fixation).
    const added = (await stores[0]!.sessionIds()).filter((id) => !before.has(id));
    expect(added.filter((id) => !id.startsWith('express-par:'))).toHaveLength(200);
    // and back-channel logout writes nothing at login: a logout token names the login by its own sid or sub
    expect(added.filter((id) => id.startsWith('express-par:'))).toEqual([]);
  }, 180_000);
});

describe('back-channel logout through the shared store', () => {
  it('the provider delivers a logout token to instance B, and the login ends on instance A', async () => {
    const browser = new TestBrowser();
    const other = new TestBrowser();
    await login(browser, a, a, 'dave');
    await login(other, a, a, 'erin');
    expect(await whoami(browser, a)).toMatchObject({ authenticated: true, sub: 'dave' });
    // The user signs out at the provider (not through the app): the provider calls B's back-channel route.
    const posted = backchannelResponses.length;
    const end = await browser.follow(`${provider.issuer}/session/end?client_id=${TEST_CLIENT_ID}`);
    const form = parseForms(end.at(-1)!.body, end.at(-1)!.url).find((f) => f.action.includes('/session/end/confirm'))!;
    const done = await browser.post(form.action, { ...form.fields, logout: 'yes' });
    expect(done.status).toBeLessThan(400);
    for (let i = 0; i < 100 && backchannelResponses.length === posted; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(backchannelResponses.slice(posted)).toEqual([200]);
    // B recorded it: at once. A may answer from its cache of records for maxStaleness (1 s by default).
    expect(await whoami(browser, b)).toEqual({ instance: 'b', authenticated: false, sub: null });
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 1001);
    expect(await whoami(browser, a)).toEqual({ instance: 'a', authenticated: false, sub: null });
    // Only that user's session ended.
    expect(await whoami(other, b)).toMatchObject({ authenticated: true, sub: 'erin' });
  });
});

describe('Redis goes away in the middle of a login', () => {
  it('fails the callback with session_save_failed, leaves nobody logged in, and logins work again once Redis is back', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${a.url}/login?returnTo=/me`);
    expect(start.status).toBe(302);
    const callbackUrl = on(b, await completeProviderLogin(browser, start.location!, { login: 'carol' }));

    stopRedisAtTokenRequest = true;
    const failed = await browser.get(callbackUrl);
    expect(redis.running).toBe(false);
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toMatchObject({ code: 'session_save_failed', status: 500 });
    expect(failed.headers.get('location')).toBeNull();
    expect(b.errors.map((e) => e.code)).toContain('session_save_failed');

    // While Redis is down neither instance can load the session, so neither serves it as logged in.
    const meanwhile = await browser.get(`${a.url}/me`);
    expect(meanwhile.status).toBe(500);

    await redis.start();
    await Promise.all(stores.map((s) => s.ready()));
    expect((await whoami(browser, a)).authenticated).toBe(false);
    expect((await whoami(browser, b)).authenticated).toBe(false);
    // The interrupted login cannot be finished later: its transaction is gone.
    const replay = await browser.get(callbackUrl);
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body).code).toBe('state_mismatch');
    expect((await whoami(browser, b)).authenticated).toBe(false);

    const again = await login(browser, a, b, 'carol');
    expect(again.callback.status).toBe(302);
    expect(await whoami(browser, a)).toMatchObject({ authenticated: true, sub: 'carol' });
  });

  it('fails a login that starts while Redis is down with session_save_failed, and it works once Redis is back', async () => {
    await redis.stop();
    const browser = new TestBrowser();
    const res = await browser.get(`${b.url}/login`);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'session_save_failed' });
    expect(res.headers.get('location')).toBeNull();

    await redis.start();
    await Promise.all(stores.map((s) => s.ready()));
    const { callback } = await login(browser, b, a, 'dave');
    expect(callback.status).toBe(302);
    expect(await whoami(browser, b)).toMatchObject({ authenticated: true, sub: 'dave' });
  });
});
