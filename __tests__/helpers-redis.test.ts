/**
 * The Redis test helper: our own redis-server on a free loopback port, stopped and started again on the
 * same port (an outage that loses the data), killed at the end; and the connect-redis store over it.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createRedisSessionStore, ping, startRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('runs redis-server on a free loopback port and answers PING', async () => {
  expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
  expect(redis.running).toBe(true);
  expect(await ping(redis.port)).toBe(true);
});

it('stores sessions through connect-redis, and an outage (stop, start on the same port) loses them', async () => {
  const sessions = await createRedisSessionStore(redis, 'helper-test:');
  try {
    await new Promise<void>((resolve, reject) => sessions.store.set('sid-1', { cookie: {} } as never, (err?: unknown) => (err ? reject(err) : resolve())));
    expect(await sessions.sessionIds()).toEqual(['sid-1']);

    const pid = redis.pid!;
    await redis.stop();
    expect(redis.running).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(await ping(redis.port)).toBe(false);
    await expect(new Promise<void>((resolve, reject) => sessions.store.get('sid-1', (err?: unknown) => (err ? reject(err) : resolve())))).rejects.toBeDefined();

    await redis.start();
    await sessions.ready();
    expect(await ping(redis.port)).toBe(true);
    expect(await sessions.sessionIds()).toEqual([]);
  } finally {
    await sessions.close();
  }
});

it('kills redis-server when closed', async () => {
  const other = await startRedis();
  const pid = other.pid!;
  expect(other.port).not.toBe(redis.port);
  await other.close();
  expect(alive(pid)).toBe(false);
});
