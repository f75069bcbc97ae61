/**
 * How long metadata is kept (lib/protocol/discovery.ts), against the faulty authorization server with a frozen
 * clock: healthy metadata is cached and refreshed in the background after its TTL while the old copy keeps
 * serving; a failed refresh keeps the old copy; metadata the self-check refused is asked for again after
 * RECHECK_MS; a failed lookup is not kept at all.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createDiscovery, METADATA_TTL_MS, RECHECK_MS } from '../lib/protocol/discovery.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import { settle } from './helpers/hostile.js';

let server: FaultyServer;
let clock: number;
const now = () => clock;

beforeAll(async () => {
  server = await startFaultyServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  clock = Date.UTC(2026, 0, 1);
});

const lookups = () => server.requestsTo('/.well-known/openid-configuration').length;
const discover = () => createDiscovery(server.issuer, { timeout: 2000 }, { now });

/** Waits (bounded) for a background fetch to land: polls, no fixed sleep. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`gave up waiting until ${what}`);
}

describe('healthy metadata', () => {
  it('is fetched once and shared, however many requests ask', async () => {
    const discovery = discover();
    const all = await Promise.all(Array.from({ length: 20 }, () => discovery()));
    expect(new Set(all).size).toBe(1);
    clock += METADATA_TTL_MS - 1;
    await discovery();
    expect(lookups()).toBe(1);
  });

  it('keeps serving after its TTL while one background fetch replaces it', async () => {
    const discovery = discover();
    const first = discovery();
    expect((await first).metadata.end_session_endpoint).toBe(server.url('/logout'));
    server.fault.discovery = { merge: { end_session_endpoint: server.url('/logout?v=2') } };
    clock += METADATA_TTL_MS;
    // Stale: answered at once with the cached metadata, however many ask, and fetched again once.
    expect(discovery()).toBe(first);
    expect(discovery()).toBe(first);
    expect(discovery.refreshing).toBe(true);
    await until(() => !discovery.refreshing, 'the refresh landed');
    expect((await discovery()).metadata.end_session_endpoint).toBe(server.url('/logout?v=2'));
    expect(lookups()).toBe(2);
  });

  it('keeps the key set (its cached keys) across a refresh while jwks_uri stays the same', async () => {
    const discovery = discover();
    const { jwks } = await discovery();
    clock += METADATA_TTL_MS;
    const first = discovery();
    await until(() => !discovery.refreshing, 'the refresh landed');
    expect(discovery()).not.toBe(first);
    expect((await discovery()).jwks).toBe(jwks);
  });

  it('stays when a refresh fails, and the refresh is tried again after RECHECK_MS, not before', async () => {
    const discovery = discover();
    const first = discovery();
    await first;
    server.fault.discovery = { status: 503, body: '' };
    clock += METADATA_TTL_MS;
    expect(discovery()).toBe(first);
    expect(discovery.refreshing).toBe(true);
    await until(() => !discovery.refreshing, 'the refresh failed');
    expect(lookups()).toBe(2);
    clock += RECHECK_MS - 1;
    expect(discovery()).toBe(first);
    expect(discovery.refreshing).toBe(false);
    clock += 1;
    expect(discovery()).toBe(first);
    expect(discovery.refreshing).toBe(true);
    await until(() => !discovery.refreshing, 'the second refresh failed');
    expect(lookups()).toBe(3);
    delete server.fault.discovery;
    clock += RECHECK_MS;
    discovery();
    await until(() => !discovery.refreshing, 'a later refresh landed');
    expect(discovery()).not.toBe(first);
    expect(lookups()).toBe(4);
  });
});

describe('metadata the self-check refused', () => {
  it('is fetched again after RECHECK_MS, not kept for the TTL', async () => {
    const discovery = discover();
    server.parEnabled = false;
    const refused = discovery();
    expect((await refused).metadata).not.toHaveProperty('pushed_authorization_request_endpoint');
    discovery.recheckSoon(refused);
    server.parEnabled = true;
    clock += RECHECK_MS - 1;
    expect(discovery()).toBe(refused);
    expect(lookups()).toBe(1);
    clock += 1;
    const again = discovery();
    expect(again).not.toBe(refused);
    expect((await again).metadata.pushed_authorization_request_endpoint).toBe(server.url('/par'));
    expect(lookups()).toBe(2);
  });

  it('ignores a refusal of metadata that has already been replaced', async () => {
    const discovery = discover();
    const first = discovery();
    await first;
    clock += METADATA_TTL_MS;
    discovery();
    await until(() => !discovery.refreshing, 'the refresh landed');
    const current = discovery();
    expect(current).not.toBe(first);
    discovery.recheckSoon(first);
    clock += RECHECK_MS;
    expect(discovery()).toBe(current);
  });
});

describe('a failed lookup', () => {
  it('is not kept: the next request asks again at once', async () => {
    const discovery = discover();
    server.fault.discovery = { status: 500, body: '', times: 1 };
    await expect(discovery()).rejects.toMatchObject({ code: 'discovery_failed' });
    await settle();
    await expect(discovery()).resolves.toMatchObject({ metadata: { issuer: server.issuer } });
    expect(lookups()).toBe(2);
  });
});
