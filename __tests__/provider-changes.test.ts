/**
 * A provider that changes while the app runs, without a restart: signing keys rotate (a new key is
 * accepted on its first use; made-up kids cannot flood the JWKS endpoint), PAR is turned on after the
 * start-up self-check refused the server, and metadata is refreshed while the cached copy keeps serving.
 * Full logins through parAuth against the faulty authorization server; the clock is frozen (Date.now) and
 * moved by hand where time matters.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RECHECK_MS, METADATA_TTL_MS } from '../lib/protocol/discovery.js';
import { JWKS_REFETCHES_PER_MINUTE } from '../lib/protocol/jwks.js';
import type { FaultyServer } from './helpers/faulty-server.js';
import { expectFailure, hostileLogin, startHostileApp, useFaultyServer } from './helpers/hostile.js';

/** These cases are about keys and metadata, not deadlines: room for a loaded machine (not a time limit under test). */
const ROOMY = { httpTimeout: 10_000 };

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});

let clock: number;
beforeEach(() => {
  clock = Date.now();
  jest.spyOn(Date, 'now').mockImplementation(() => clock);
});
afterEach(() => {
  jest.restoreAllMocks();
});

const jwksFetches = () => server.requestsTo('/jwks').length;
const lookups = () => server.requestsTo('/.well-known/openid-configuration').length;

/** Waits (bounded) for background work to land: polls, no fixed sleep. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`gave up waiting until ${what}`);
}

describe('signing key rotation', () => {
  it('accepts a rotated key on its first use, with no pause after the last JWKS fetch', async () => {
    const app = await startHostileApp(server, ROOMY);
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    expect(jwksFetches()).toBe(1);
    await server.rotateSigningKey();
    // Same frozen instant as the first fetch: jose's 30-second cooldown would have refused this.
    const second = await hostileLogin(server, { app });
    expect(second.final.status).toBe(302);
    expect(second.loggedIn).toBe(true);
    expect(jwksFetches()).toBe(2);
  });

  it('accepts a key the server rotated to just before signing the ID token', async () => {
    const next = await server.addSigningKey({ publish: false });
    const app = await startHostileApp(server, ROOMY);
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    server.fault.idToken = async (claims, sign) => {
      await server.rotateSigningKey({ to: next }); // published now, while the token request is being answered
      return sign(claims);
    };
    const run = await hostileLogin(server, { app });
    expect(run.error).toBeUndefined();
    expect(run.loggedIn).toBe(true);
    expect(jwksFetches()).toBe(2);
  });

  it('needs no refetch for a key published before the app fetched the set', async () => {
    const next = await server.addSigningKey();
    const app = await startHostileApp(server, ROOMY);
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    await server.rotateSigningKey({ to: next });
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    expect(jwksFetches()).toBe(1);
  });

  it('shares one refetch among logins that meet the new key at once', async () => {
    const app = await startHostileApp(server, ROOMY);
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    await server.rotateSigningKey();
    const runs = await Promise.all(Array.from({ length: 10 }, () => hostileLogin(server, { app })));
    expect(runs.map((r) => r.loggedIn)).toEqual(Array(10).fill(true));
    expect(jwksFetches()).toBe(2);
  });
});

describe('ID tokens with unknown kids', () => {
  const madeUpKid = (i: number) => (async (claims: Record<string, unknown>, sign: Parameters<NonNullable<FaultyServer['fault']['idToken']>>[1]) =>
    sign(claims, { key: 'foreign', kid: `made-up-${i}` }));

  it(`fail, and a flood of them costs at most ${JWKS_REFETCHES_PER_MINUTE} JWKS refetches a minute`, async () => {
    const app = await startHostileApp(server, ROOMY);
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    for (let i = 0; i < 20; i++) {
      const run = await hostileLogin(server, { app, faults: { idToken: madeUpKid(i) } });
      expectFailure(run, server, 'callback', 502, 'id_token_invalid');
    }
    expect(jwksFetches()).toBe(1 + JWKS_REFETCHES_PER_MINUTE);
    // A minute later the budget is back, and a real rotation is accepted on its first use.
    clock += 60_001;
    delete server.fault.idToken;
    await server.rotateSigningKey();
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    expect(jwksFetches()).toBe(2 + JWKS_REFETCHES_PER_MINUTE);
  });

  it('arriving together stay within the same bound', async () => {
    const app = await startHostileApp(server, ROOMY);
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    let i = 0;
    server.fault.idToken = (claims, sign) => sign(claims, { key: 'foreign', kid: `made-up-${i++}` });
    const runs = await Promise.all(Array.from({ length: 20 }, () => hostileLogin(server, { app })));
    for (const run of runs) expectFailure(run, server, 'callback', 502, 'id_token_invalid');
    expect(jwksFetches()).toBeLessThanOrEqual(1 + JWKS_REFETCHES_PER_MINUTE);
  });
});

describe('a server that fails the start-up self-check', () => {
  it(`works without a restart once PAR is turned on, asked again at most every ${RECHECK_MS / 1000} s`, async () => {
    server.parEnabled = false;
    const app = await startHostileApp(server, ROOMY);
    expectFailure(await hostileLogin(server, { app }), server, 'login', 502, 'par_not_supported');
    expect(lookups()).toBe(1);

    server.parEnabled = true;
    clock += RECHECK_MS - 1;
    // Still refused from the cache: the server is not asked on every request.
    expectFailure(await hostileLogin(server, { app }), server, 'login', 502, 'par_not_supported');
    expectFailure(await hostileLogin(server, { app }), server, 'login', 502, 'par_not_supported');
    expect(lookups()).toBe(1);

    clock += 1;
    const run = await hostileLogin(server, { app });
    expect(run.final.status).toBe(302);
    expect(run.loggedIn).toBe(true);
    expect(lookups()).toBe(2);
  });

  it('keeps being asked every few seconds while PAR stays off', async () => {
    server.parEnabled = false;
    const app = await startHostileApp(server, ROOMY);
    for (let i = 1; i <= 3; i++) {
      expectFailure(await hostileLogin(server, { app }), server, 'login', 502, 'par_not_supported');
      expect(lookups()).toBe(i);
      clock += RECHECK_MS;
    }
  });
});

describe('metadata refresh', () => {
  /** Logs in until `done()` (the background refresh has landed), at most 20 times; every login must work. */
  async function loginUntil(app: Awaited<ReturnType<typeof startHostileApp>>, done: () => boolean): Promise<void> {
    for (let i = 0; i < 20 && !done(); i++) expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    expect(done()).toBe(true);
  }

  it('keeps serving the cached metadata while it is refreshed, then uses the new one', async () => {
    const app = await startHostileApp(server, ROOMY);
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    server.fault.discovery = { merge: { pushed_authorization_request_endpoint: server.url('/par?v=2') } };
    clock += METADATA_TTL_MS;

    // The login that notices the stale metadata is not held up by the refresh: it uses the cached endpoint.
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    expect(server.requestsTo('/par').map((r) => r.query)).toEqual([{}, {}]);
    await until(() => lookups() === 2, 'the background refresh was sent');
    await loginUntil(app, () => server.requestsTo('/par').at(-1)!.query.v === '2');
    expect(lookups()).toBe(2);
  });

  it('keeps the old metadata when the refresh fails, and retries it after a few seconds', async () => {
    const app = await startHostileApp(server, ROOMY);
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    server.fault.discovery = { status: 503, body: '' };
    clock += METADATA_TTL_MS;
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    await until(() => lookups() === 2, 'the background refresh was sent');
    expect((await hostileLogin(server, { app })).loggedIn).toBe(true);
    expect(lookups()).toBe(2);
    expect(app.captured).toEqual([]);

    delete server.fault.discovery;
    clock += RECHECK_MS;
    await loginUntil(app, () => lookups() === 3);
    expect(app.captured).toEqual([]);
  });
});
