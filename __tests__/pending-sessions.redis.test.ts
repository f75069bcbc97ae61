/**
 * Security review #15, item 7, with a real store: a script that calls /login in a loop must not fill
 * Redis with day-long sessions. The app configures a one-day cookie (connect-redis derives each key's TTL
 * from it); a session that holds only pending logins lives no longer than its transactions (15 minutes),
 * and gets the app's day back once the user logs in.
 *
 * Needs redis-server (`.ci/run` installs it); without it every test here fails with that message.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import { parAuth } from '../lib/index.js';
import { listen } from './helpers/app.js';
import { TestBrowser } from './helpers/browser.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import { attemptLogin, type HostileApp } from './helpers/hostile.js';
import { createRedisSessionStore, startRedis, type TestRedis, type TestSessionStore } from './helpers/redis.js';

const DAY_S = 24 * 60 * 60;
const TRANSACTION_LIFETIME_S = 15 * 60;

let redis: TestRedis;
let sessions: TestSessionStore;
let server: FaultyServer;
let app: { url: string; close(): Promise<void> };

beforeAll(async () => {
  redis = await startRedis();
  sessions = await createRedisSessionStore(redis, 'pending:');
  server = await startFaultyServer();
  app = await listen((baseURL) => {
    const a = express();
    a.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false, name: 'app.sid', store: sessions.store, cookie: { maxAge: DAY_S * 1000 } }));
    a.use(parAuth({ issuerBaseURL: server.issuer, baseURL, clientID: server.clientId, clientSecret: server.clientSecret }));
    a.get('/whoami', (req, res) => {
      res.json({ authenticated: req.oidc.isAuthenticated(), pending: 0 });
    });
    return a;
  });
});
afterAll(async () => {
  await app?.close();
  await server?.close();
  await sessions?.close();
  await redis?.close();
});

async function ttlAndBytes(ids: string[]) {
  return Promise.all(ids.map(async (id) => ({ ttl: await sessions.client.ttl(`pending:${id}`), bytes: Number(await sessions.client.strLen(`pending:${id}`)) })));
}

describe('anonymous logins against connect-redis with a one-day cookie', () => {
  it('300 anonymous logins leave 300 keys that expire with their transaction, each small', async () => {
    for (let batch = 0; batch < 30; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => new TestBrowser().get(`${app.url}/login`)));
      for (const res of answers) expect(res.status).toBe(302);
    }
    const ids = await sessions.sessionIds();
    expect(ids).toHaveLength(300);
    const keys = await ttlAndBytes(ids);
    for (const { ttl } of keys) {
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(TRANSACTION_LIFETIME_S);
    }
    const total = keys.reduce((sum, key) => sum + key.bytes, 0);
    const largest = Math.max(...keys.map((key) => key.bytes));
    expect(largest).toBeLessThan(1024);
    process.stdout.write(`pending-sessions.redis: 300 anonymous logins, ${total} bytes in Redis (${Math.round(total / 300)} per session, largest ${largest}), every TTL <= ${TRANSACTION_LIFETIME_S} s\n`);
  });

  it('a completed login gets the app\'s one-day lifetime back', async () => {
    const browser = new TestBrowser();
    const run = await attemptLogin(server, browser, { ...app, errors: [], captured: [] } as HostileApp);
    expect(run.final.status).toBe(302);
    const id = decodeURIComponent(browser.cookies('127.0.0.1')['app.sid']!).slice(2).split('.')[0]!;
    const [key] = await ttlAndBytes([id]);
    expect(key!.ttl).toBeGreaterThan(DAY_S - 60);
  });
});
