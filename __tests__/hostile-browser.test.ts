/**
 * A hostile browser: property-based callback query strings and `returnTo` values (RFC 9700 §4.11 open
 * redirectors), and the login transactions under pressure (cap, expiry, single use, one per tab;
 * RFC 6749 §10.12, RFC 9700 §2.1).
 */
import './helpers/capture-logs.js'; // first: turns the debug log on before lib/ loads
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { parseCallbackParams } from '../lib/protocol/callback.js';
import { CallbackError } from '../lib/core/errors.js';
import { safeReturnTo } from '../lib/protocol/return-to.js';
import { TestBrowser } from './helpers/browser.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import {
  attemptLogin, closeHostileApps, recordUnhandledRejections, settle, startHostileApp, whoami, type HostileApp,
} from './helpers/hostile.js';

const APP_ORIGIN = 'https://app.example';
// The README's numbers, stated here rather than imported from lib/: changing them must fail a test.
const MAX_PENDING_TRANSACTIONS = 10;
const TRANSACTION_TTL_MS = 15 * 60 * 1000;
let server: FaultyServer;
let app: HostileApp;
const rejections = recordUnhandledRejections();

beforeAll(async () => {
  server = await startFaultyServer();
  app = await startHostileApp(server);
});
beforeEach(() => server.reset());
afterEach(async () => {
  jest.restoreAllMocks();
  await settle();
  expect(rejections.list).toEqual([]);
});
afterAll(async () => {
  rejections.stop();
  await closeHostileApps();
  await server.close();
});

/** Pieces that confuse URL parsers: dot segments, slashes, backslashes, encodings, schemes, whitespace. */
const urlPiece = fc.constantFrom('/', '//', '\\', '.', '..', '%2e', '%2E%2e', '%2f', '%5c', '%09', '%00', '@', ':', '?', '#', '\t', '\n', ' ', 'evil.example', 'javascript:', 'https:', '\u3002', '\uff0f', 'a');
const trickyPath = fc.array(urlPiece, { maxLength: 12 }).map((parts) => parts.join(''));
const returnToValue = fc.oneof(trickyPath, trickyPath.map((p) => `/${p}`), fc.webUrl(), fc.string(), fc.string({ unit: 'grapheme' }));

describe('returnTo values (RFC 9700 §4.11)', () => {
  it('safeReturnTo only ever yields a same-origin path, and is stable', () => {
    // Plain predicates (not expect) keep 20,000 runs fast.
    fc.assert(fc.property(returnToValue, (value) => {
      const out = safeReturnTo(value);
      return out.startsWith('/') && !out.startsWith('//') && !out.startsWith('/\\') && !/[\u0000-\u001f\u007f]/.test(out)
        && new URL(out, APP_ORIGIN).origin === APP_ORIGIN && safeReturnTo(out) === out;
    }), { numRuns: 20_000 });
  });

  it.each(['/.//evil.example', '/a/../..//evil.example', '/%2e%2e//evil.example', '/..//evil.example/x?y#z'])(
    'refuses %s, which normalizes to a protocol-relative URL', (value) => {
      expect(safeReturnTo(value)).toBe('/');
    });

  it('keeps ordinary paths with query and fragment', () => {
    expect(safeReturnTo('/orders/42?tab=items#top')).toBe('/orders/42?tab=items#top');
  });

  it('never sends the browser off-site after a login, whatever returnTo was', async () => {
    await fc.assert(fc.asyncProperty(returnToValue, async (returnTo) => {
      const browser = new TestBrowser();
      const run = await attemptLogin(server, browser, app, { returnTo });
      expect(run.stage).toBe('callback');
      expect(run.final.status).toBe(302);
      expect(new URL(run.final.location!).origin).toBe(app.url);
      expect((await whoami(app, browser)).authenticated).toBe(true);
    }), { numRuns: 100 });
  });
});

describe('callback query strings', () => {
  const key = fc.oneof(
    fc.constantFrom('state', 'code', 'iss', 'error', 'error_description', 'state[]', 'code[0]', 'state[a]', '__proto__', 'constructor', 'returnTo'),
    fc.string({ maxLength: 8 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
  );
  const smallValue = fc.oneof(
    fc.constantFrom('{state}', '{iss}', '%', '%zz', '%C0%AF', '%00', '%E2%80%AE', '%2F%2Fevil.example', '+', '&', '=', '%26state%3D'),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
  );
  const value = fc.oneof(smallValue, fc.string({ minLength: 2000, maxLength: 6000 }));
  const query = fc.array(fc.tuple(key, value, fc.boolean()), { maxLength: 8 });
  const smallQuery = fc.array(fc.tuple(key, smallValue), { maxLength: 8 }).map((q) => q.map(([k, v]) => `${k}=${v}`).join('&'));

  it('parseCallbackParams returns only single string parameters or throws callback_params_invalid', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), smallQuery), (raw) => {
      const names = ['state', 'code', 'iss', 'error', 'error_description'];
      try {
        const params = parseCallbackParams(`/callback?${raw}`);
        return Object.entries(params).every(([name, v]) => names.includes(name) && typeof v === 'string'
          && new URLSearchParams(raw).getAll(name).length === 1 && new URLSearchParams(raw).get(name) === v);
      } catch (err) {
        return err instanceof CallbackError && err.code === 'callback_params_invalid' && err.status === 400;
      }
    }), { numRuns: 20_000 });
  });

  it('parseCallbackParams refuses any repeated parameter and an over-long query', () => {
    fc.assert(fc.property(fc.constantFrom('state', 'code', 'iss', 'error', 'error_description'), fc.string(), fc.string(), (name, a, b) => {
      const q = new URLSearchParams([[name, a], [name, b]]).toString();
      try {
        parseCallbackParams(`/cb?${q}`);
        return false;
      } catch (err) {
        return err instanceof CallbackError && err.code === 'callback_params_invalid';
      }
    }), { numRuns: 5_000 });
    expect(() => parseCallbackParams(`/cb?state=${'a'.repeat(17 * 1024)}`)).toThrow(expect.objectContaining({ code: 'callback_params_invalid' }));
  });

  it('never answers 500, never logs in and never redirects off-site, whatever the query', async () => {
    await fc.assert(fc.asyncProperty(query, async (pairs) => {
      const browser = new TestBrowser();
      const login = await browser.get(`${app.url}/login`);
      const real = new URL((await browser.get(login.location!)).location!);
      const fill = (v: string) => v.replace('{state}', real.searchParams.get('state')!).replace('{iss}', encodeURIComponent(server.issuer));
      const qs = pairs.map(([k, v, encode]) => (encode ? `${encodeURIComponent(k)}=${encodeURIComponent(fill(v))}` : `${k}=${fill(v)}`)).join('&');
      const res = await browser.get(`${app.url}/callback?${qs}`);
      // 4xx for the browser's fault; 502 only when a real state let a forged code reach the token endpoint.
      expect(res.status === 502 || (res.status >= 400 && res.status < 500) ? 'ok' : res.status).toBe('ok');
      if (res.location !== undefined) expect(new URL(res.location).origin).toBe(app.url);
      expect((await whoami(app, browser)).authenticated).toBe(false);
    }), { numRuns: 150 });
  });
});

describe('login transactions', () => {
  it('holds at most MAX_PENDING_TRANSACTIONS after 1,000 logins in one session; the newest still completes', async () => {
    const browser = new TestBrowser();
    const starts: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const res = await browser.get(`${app.url}/login`);
      expect(res.status).toBe(302);
      starts.push(res.location!);
    }
    expect(server.requestsTo('/par')).toHaveLength(1000);
    expect((await whoami(app, browser)).pending).toBe(MAX_PENDING_TRANSACTIONS);
    // the oldest was evicted: its (otherwise valid) response is refused
    const oldest = await browser.get((await browser.get(starts[0]!)).location!);
    expect(oldest.status).toBe(400);
    expect(JSON.parse(oldest.body)).toMatchObject({ code: 'state_mismatch' });
    const newest = await browser.get((await browser.get(starts[999]!)).location!);
    expect(newest.status).toBe(302);
    expect((await whoami(app, browser)).authenticated).toBe(true);
  }, 120_000); // 1,000 real logins: room for a loaded CI machine (a jest timeout, not an assertion)

  it('cannot be replayed: a completed callback used again is refused and the code is not redeemed twice', async () => {
    const browser = new TestBrowser();
    const first = await attemptLogin(server, browser, app);
    expect(first.final.status).toBe(302);
    const replay = await browser.get(first.callbackUrl!);
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body)).toMatchObject({ code: 'state_mismatch' });
    expect(server.requestsTo('/token')).toHaveLength(1);
    // the replay named no pending login: the login the first use made stays (issue #30, item 8)
    expect((await whoami(app, browser)).authenticated).toBe(true);
  });

  it('keeps tabs apart: two logins started in one browser both complete, the second first', async () => {
    const browser = new TestBrowser();
    const tabA = await browser.get(`${app.url}/login?returnTo=/a`);
    const tabB = await browser.get(`${app.url}/login?returnTo=/b`);
    const callbackA = (await browser.get(tabA.location!)).location!;
    const callbackB = (await browser.get(tabB.location!)).location!;
    const doneB = await browser.get(callbackB);
    expect(doneB.status).toBe(302);
    expect(doneB.location).toBe(`${app.url}/b`);
    expect((await whoami(app, browser)).pending).toBe(1);
    const doneA = await browser.get(callbackA);
    expect(doneA.status).toBe(302);
    expect(doneA.location).toBe(`${app.url}/a`);
    expect(await whoami(app, browser)).toMatchObject({ authenticated: true, pending: 0 });
  });

  it('refuses at the callback a login started more than TRANSACTION_TTL_MS ago', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/login`);
    const callback = (await browser.get(start.location!)).location!;
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + TRANSACTION_TTL_MS + 1000);
    const res = await browser.get(callback);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'state_mismatch' });
    expect(server.requestsTo('/token')).toHaveLength(0);
  });
  // The store itself, with the clock injected (cap, expiry, order, tampering): transactions.test.ts.
});

it('left no unhandled rejection behind', async () => {
  await settle();
  expect(rejections.list).toEqual([]);
});
