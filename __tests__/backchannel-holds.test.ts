/**
 * Contract, "Back-channel logout holds": a logout token answered 200 ends the logins it names for as long as
 * those sessions could live. Each case is one way issue #24 found a 200 that did not hold: tokens for one
 * user arriving together (MemoryStore and Redis), a sid-only token long after the login, a cookie without
 * maxAge, many later logouts, and a store that fails part-way (the provider's retry must then succeed).
 * Time moves by mocking Date.now (no sleeping); the faulty server signs the logout tokens.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import session, { type SessionData, type Store } from 'express-session';
import type { ParAuthConfig } from '../lib/core/types.js';
import { TestBrowser } from './helpers/browser.js';
import type { StartAppOptions } from './helpers/app.js';
import type { FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, startHostileApp, useFaultyServer, whoami, type HostileApp } from './helpers/hostile.js';
import { logoutTokenClaims } from './helpers/logout-token.js';
import { createRedisSessionStore, startRedis, type TestRedis, type TestSessionStore } from './helpers/redis.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});

let redis: TestRedis;
const redisStores: TestSessionStore[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(redisStores.map((s) => s.close()));
  await redis?.close();
});

const realNow = Date.now.bind(Date);
/** Moves the clock of this process (app, store, faulty server) `ms` ahead of the real one. */
function advance(ms: number): void {
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);
}
afterEach(() => {
  jest.restoreAllMocks();
});

function logoutToken(claims: Record<string, unknown>): Promise<string> {
  return server.signIdToken(logoutTokenClaims(server, claims), { header: { typ: 'logout+jwt' } });
}

async function post(app: HostileApp, token: string): Promise<number> {
  const res = await fetch(`${app.url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  await res.text();
  return res.status;
}

function startBclApp(appOptions: StartAppOptions = {}, options: Partial<ParAuthConfig> = {}): Promise<HostileApp> {
  return startHostileApp(server, { backchannelLogout: true, ...options }, undefined, appOptions);
}

/** A browser logged in at `app` whose login's ID token carries `sid`. */
async function loggedIn(app: HostileApp, sid: string): Promise<TestBrowser> {
  const browser = new TestBrowser();
  server.idTokenClaims.sid = sid;
  const run = await attemptLogin(server, browser, app);
  expect(run.final.status).toBe(302);
  expect((await whoami(app, browser)).authenticated).toBe(true);
  return browser;
}

const authenticated = async (app: HostileApp, browser: TestBrowser) => (await whoami(app, browser)).authenticated;

describe('tokens for several sessions of one user that arrive together', () => {
  const stores: Array<[string, () => Promise<Store>]> = [
    ['MemoryStore', async () => new session.MemoryStore()],
    ['Redis (connect-redis)', async () => {
      const store = await createRedisSessionStore(redis, `bcl-${redisStores.length}:`);
      redisStores.push(store);
      return store.store;
    }],
  ];

  it.each(stores)('%s: ten sid tokens for ten sessions of one user, delivered at once, all answered 200, end all ten', async (_name, makeStore) => {
    const app = await startBclApp({ store: await makeStore() });
    const sids = Array.from({ length: 10 }, (_, i) => `op-session-together-${i}`);
    const browsers: TestBrowser[] = [];
    for (const sid of sids) browsers.push(await loggedIn(app, sid));
    const tokens = await Promise.all(sids.map((sid) => logoutToken({ sid })));
    expect(await Promise.all(tokens.map((token) => post(app, token)))).toEqual(Array(10).fill(200));
    expect(await Promise.all(browsers.map((browser) => authenticated(app, browser)))).toEqual(Array(10).fill(false));
  });
});

describe('how long a logout holds', () => {
  it('a sid-only token 25 hours after the login (30-day cookie) ends that login', async () => {
    const app = await startBclApp({ sessionOptions: { cookie: { maxAge: 30 * DAY } } });
    const browser = await loggedIn(app, 'op-session-25h');
    advance(25 * HOUR);
    expect(await post(app, await logoutToken({ sub: undefined, sid: 'op-session-25h' }))).toBe(200);
    expect(await authenticated(app, browser)).toBe(false);
  });

  it('with rolling sessions too: a sid-only token 25 hours after the login (1-day rolling cookie, visited meanwhile)', async () => {
    const app = await startBclApp({ sessionOptions: { cookie: { maxAge: DAY }, rolling: true } });
    const browser = await loggedIn(app, 'op-session-rolling');
    advance(20 * HOUR);
    expect(await authenticated(app, browser)).toBe(true); // a visit keeps the rolling session alive
    advance(25 * HOUR);
    expect(await post(app, await logoutToken({ sub: undefined, sid: 'op-session-rolling' }))).toBe(200);
    advance(40 * HOUR); // unvisited since 20 h: the session lives until 44 h
    expect(await authenticated(app, browser)).toBe(false);
  });

  it('a cookie without maxAge: a session logged out and not visited stays logged out a day and a week later', async () => {
    const app = await startBclApp(); // express-session's default cookie: no maxAge
    const dayLater = await loggedIn(app, 'op-session-day');
    const weekLater = await loggedIn(app, 'op-session-week');
    expect(await post(app, await logoutToken({ sid: 'op-session-day' }))).toBe(200);
    expect(await post(app, await logoutToken({ sid: 'op-session-week' }))).toBe(200);
    // Nobody visits either session until then (a copy of the cookie that waits).
    advance(25 * HOUR);
    expect(await authenticated(app, dayLater)).toBe(false);
    advance(8 * DAY);
    expect(await authenticated(app, weekLater)).toBe(false);
  });

  it('a cookie without maxAge: a login is not honoured longer than backchannelLogout.maxSessionAge', async () => {
    const app = await startBclApp({}, { backchannelLogout: { maxSessionAge: 2 * DAY } });
    const browser = await loggedIn(app, 'op-session-bounded');
    advance(2 * DAY - HOUR);
    expect(await authenticated(app, browser)).toBe(true);
    advance(2 * DAY + HOUR);
    expect(await authenticated(app, browser)).toBe(false);
  });

  it('a session ended by sid stays ended after 60 later sid logouts of the same user', async () => {
    const app = await startBclApp();
    const first = await loggedIn(app, 'op-session-first');
    expect(await post(app, await logoutToken({ sid: 'op-session-first' }))).toBe(200);
    for (let i = 0; i < 60; i++) expect(await post(app, await logoutToken({ sid: `op-session-later-${i}` }))).toBe(200);
    expect(await authenticated(app, first)).toBe(false);
  });

  it('a login that begins after a sid logout with the same sid is not ended by it (no login loop)', async () => {
    const app = await startBclApp();
    expect(await post(app, await logoutToken({ sid: 'op-session-again' }))).toBe(200);
    advance(2000); // a later second than the token
    const browser = await loggedIn(app, 'op-session-again');
    expect(await authenticated(app, browser)).toBe(true);
  });
});

/** A MemoryStore whose writes of back-channel records fail when their number (1, 2, …) is in `failing`. */
class FlakyStore extends session.MemoryStore {
  writes = 0;
  failing = new Set<number>();
  override set(sid: string, data: SessionData, callback?: (err?: unknown) => void): void {
    if (sid.startsWith('express-par:')) {
      this.writes += 1;
      if (this.failing.has(this.writes)) {
        setImmediate(() => callback?.(new Error('store write failed')));
        return;
      }
    }
    super.set(sid, data, callback);
  }
}

describe('a store that fails while a logout is recorded', () => {
  const cases = [[[1]], [[2]], [[2, 3]], [[1, 2, 3]]];
  it.each(cases)('fails writes %j: each failed delivery is a 5xx, and the provider\'s retry of the same token succeeds', async (failing) => {
    const store = new FlakyStore();
    const app = await startBclApp({ store });
    const browser = await loggedIn(app, 'op-session-flaky');
    const token = await logoutToken({ sid: 'op-session-flaky' });
    store.failing = new Set(failing);
    const answers: number[] = [];
    for (let delivery = 0; delivery < 5 && answers.at(-1) !== 200; delivery++) answers.push(await post(app, token));
    expect(answers.at(-1)).toBe(200);
    expect(answers.slice(0, -1).every((status) => status >= 500)).toBe(true);
    expect(app.captured.map((err) => err.code)).toEqual(answers.slice(0, -1).map(() => 'session_save_failed'));
    expect(await authenticated(app, browser)).toBe(false);
    expect(await post(app, token)).toBe(400); // now marked as used
  });
});
