/**
 * The Passport strategy as an attacker and a failing infrastructure see it (issue #30, items 1, 2, 3, 5
 * and 8): a response that a timeout middleware already sent, a `returnTo` that connect-ensure-login
 * stored raw, a code and state delivered to the wrong route, a session store that fails inside
 * `req.login()`, and links to a callback that carry no pending login.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express, { type ErrorRequestHandler, type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import session, { MemoryStore, type SessionData } from 'express-session';
import { Passport } from 'passport';
import type { ParEvent } from '../lib/index.js';
import { ParStrategy, type ParStrategyOptions } from '../lib/passport.js';
import { listen } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import { recordUnhandledRejections, settle } from './helpers/hostile.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, testClient, type TestProvider } from './helpers/provider.js';

/** A memory store whose next `set` can be made to fail once (a Redis failover, a full disk). */
class FlakyStore extends MemoryStore {
  failNextSet = false;
  override set(sid: string, data: SessionData, callback?: (err?: unknown) => void): void {
    if (this.failNextSet) {
      this.failNextSet = false;
      callback?.(new Error('session store unavailable'));
      return;
    }
    super.set(sid, data, callback);
  }
}

interface Recorded {
  code?: string;
  status?: number;
  message: string;
}

const rejections = recordUnhandledRejections();
let provider: TestProvider;
let faulty: FaultyServer;
let app: { url: string; close(): Promise<void> };
let slow: { url: string; close(): Promise<void> };
const store = new FlakyStore();
const events: ParEvent[] = [];
const errors: Recorded[] = [];

const recordErrors: ErrorRequestHandler = (err, _req, res, _next) => {
  errors.push({ code: err.code, status: err.status, message: String(err.message) });
  if (res.headersSent) return;
  res.status(typeof err.status === 'number' ? err.status : 500).json({ code: err.code });
};

/** connect-ensure-login's ensureLoggedIn(): remembers the page in req.session.returnTo, then sends the browser to the login. */
const ensureLoggedIn: RequestHandler = (req, res, next) => {
  if (req.isAuthenticated()) return next();
  (req.session as { returnTo?: string }).returnTo = req.originalUrl;
  res.redirect('/auth/login');
};

function strategy(baseURL: string, extra: Partial<ParStrategyOptions> & { callbackPath: string }): ParStrategy {
  const options: ParStrategyOptions = {
    issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET, onEvent: (e) => events.push(e), ...extra,
  };
  return new ParStrategy(options, (_tokens, claims, done) => done(null, { id: claims.sub }));
}

function buildApp(baseURL: string): Express {
  const a = express();
  a.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false, name: 'app.sid', store }));
  const passport = new Passport();
  passport.use(strategy(baseURL, { callbackPath: '/auth/callback' }));
  passport.use(strategy(baseURL, { callbackPath: '/other/callback', name: 'par-other' }));
  passport.use(strategy(`${baseURL}/sub`, { callbackPath: '/callback', name: 'par-sub' }));
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Express.User, done) => done(null, user));
  a.use(passport.initialize());
  a.use(passport.session());
  const reached = (req: Request, res: Response) => {
    res.json({ reached: req.path, user: req.user ?? null });
  };
  a.get('/auth/login', passport.authenticate('par'), reached);
  a.get('/auth/callback', passport.authenticate('par', { successReturnToOrRedirect: '/after', keepSessionInfo: true, failureRedirect: '/failed' }), reached);
  a.get('/other/callback', passport.authenticate('par-other', { failureRedirect: '/failed' }), reached);
  const sub = express.Router();
  sub.get('/login', passport.authenticate('par-sub'));
  sub.get('/callback', passport.authenticate('par-sub', { failureRedirect: '/failed' }), (_req, res) => res.redirect('/profile'));
  a.use('/sub', sub);
  a.get('/profile', (req, res) => {
    res.json({ authenticated: req.isAuthenticated(), user: req.user ?? null });
  });
  a.get('/failed', (_req, res) => {
    res.json({ failed: true });
  });
  // Every other page needs a login, as with an app-wide connect-ensure-login guard.
  a.use(ensureLoggedIn, (req, res) => {
    res.json({ page: req.originalUrl });
  });
  a.use(recordErrors);
  return a;
}

/** A connect-timeout-style middleware: answers 503 when the route has not answered within `ms`. */
function answerWithin(ms: number): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction) => {
    const timer = setTimeout(() => {
      if (!res.headersSent) res.status(503).type('text').send('The request timed out');
    }, ms);
    res.on('close', () => clearTimeout(timer));
    next();
  };
}

function buildSlowApp(baseURL: string): Express {
  const a = express();
  a.use(answerWithin(100));
  a.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false, name: 'app.sid' }));
  const passport = new Passport();
  const options = { issuerBaseURL: faulty.issuer, baseURL, clientID: faulty.clientId, clientSecret: faulty.clientSecret, callbackPath: '/auth/callback' };
  passport.use(new ParStrategy(options, (_tokens, claims, done) => done(null, { id: claims.sub })));
  a.use(passport.initialize());
  a.get('/auth/login', passport.authenticate('par'));
  a.use(recordErrors);
  return a;
}

beforeAll(async () => {
  app = await listen(buildApp);
  slow = await listen(buildSlowApp);
  faulty = await startFaultyServer();
  const callbacks = ['/auth/callback', '/other/callback', '/sub/callback'].map((path) => `${app.url}${path}`);
  provider = await startProvider({ clients: [testClient(TEST_CLIENT_ID, callbacks)] });
});
afterAll(async () => {
  rejections.stop();
  await app.close();
  await slow.close();
  await faulty.close();
  await provider.close();
});
beforeEach(() => {
  events.length = 0;
  errors.length = 0;
  faulty.reset();
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

async function profile(browser: TestBrowser): Promise<{ authenticated: boolean; user: { id: string } | null }> {
  return JSON.parse((await browser.get(`${app.url}/profile`)).body);
}

/** Starts a login at `loginPath` and completes it at the provider; the callback URL, not yet requested. */
async function pendingCallback(browser: TestBrowser, loginPath = '/auth/login'): Promise<string> {
  const start = await browser.get(`${app.url}${loginPath}`);
  expect(start.status).toBe(302);
  return completeProviderLogin(browser, start.location!);
}

async function signIn(browser: TestBrowser): Promise<void> {
  const done = await browser.get(await pendingCallback(browser));
  expect(done.status).toBe(302);
  expect((await profile(browser)).authenticated).toBe(true);
}

describe('ParStrategy after the response was already sent (item 1)', () => {
  it('hands the failed redirect to next(err) instead of an unhandled rejection when a timeout middleware answered first', async () => {
    faulty.fault.par = { delayMs: 500 };
    const res = await new TestBrowser().get(`${slow.url}/auth/login`);
    expect(res.status).toBe(503);
    await until(() => errors.length > 0 || rejections.list.length > 0);
    await settle();
    expect(rejections.list).toEqual([]);
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_HTTP_HEADERS_SENT' })]);
    expect(faulty.requestsTo('/par')).toHaveLength(1);
  });
});

describe('ParStrategy and req.session.returnTo (item 2)', () => {
  it('never sends the browser to another site after login, whatever connect-ensure-login stored', async () => {
    const browser = new TestBrowser();
    const page = await browser.get(`${app.url}//evil.example/x`);
    expect(page.location).toBe(`${app.url}/auth/login`);
    const start = await browser.get(page.location!);
    const done = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${app.url}/`);
  });

  it('still lands on the same-origin page that connect-ensure-login stored', async () => {
    const browser = new TestBrowser();
    const page = await browser.get(`${app.url}/orders/7?tab=2`);
    const start = await browser.get(page.location!);
    const done = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(done.location).toBe(`${app.url}/orders/7?tab=2`);
  });
});

describe('ParStrategy recognises a callback only on its callback path (item 3)', () => {
  it('starts a new login when a code and state reach the login route, and the real callback still works', async () => {
    const browser = new TestBrowser();
    const callbackUrl = new URL(await pendingCallback(browser));
    const tokenRequests = provider.tokenRequests.length;
    const misdelivered = await browser.get(`${app.url}/auth/login${callbackUrl.search}`);
    expect(misdelivered.status).toBe(302);
    expect(new URL(misdelivered.location!).origin).toBe(provider.issuer);
    expect(provider.tokenRequests).toHaveLength(tokenRequests);
    expect((await profile(browser)).authenticated).toBe(false);
    const done = await browser.get(callbackUrl.href);
    expect(done.location).toBe(`${app.url}/after`);
    expect((await profile(browser)).user).toEqual({ id: 'alice' });
  });

  it('completes a login in a router mounted under a prefix (redirect_uri path /sub/callback)', async () => {
    const browser = new TestBrowser();
    const callbackUrl = await pendingCallback(browser, '/sub/login');
    expect(new URL(callbackUrl).pathname).toBe('/sub/callback');
    const done = await browser.get(callbackUrl);
    expect(done.location).toBe(`${app.url}/profile`);
    expect((await profile(browser)).authenticated).toBe(true);
  });
});

describe('ParStrategy when the session store fails in req.login() (item 5)', () => {
  it('leaves nobody signed in and emits no callback.succeeded', async () => {
    const browser = new TestBrowser();
    const callbackUrl = await pendingCallback(browser);
    events.length = 0;
    store.failNextSet = true;
    const res = await browser.get(callbackUrl);
    expect(res.status).toBe(500);
    expect(store.failNextSet).toBe(false);
    expect(errors.at(-1)?.message).toBe('session store unavailable');
    expect((await profile(browser)).authenticated).toBe(false);
    expect(events.map((e) => e.type)).not.toContain('callback.succeeded');
  });

  it('emits callback.succeeded once the user is stored in the session', async () => {
    const browser = new TestBrowser();
    await signIn(browser);
    expect(events.filter((e) => e.type === 'callback.succeeded')).toEqual([{ type: 'callback.succeeded', sub: 'alice' }]);
  });
});

describe('ParStrategy and links to a callback that carry no pending login (item 8)', () => {
  it.each([
    ['a made-up state', '/auth/callback?state=junk&code=x'],
    ['no state at all', '/auth/callback?error=access_denied'],
    ['another strategy\'s callback', '/other/callback?state=junk&code=x'],
  ])('fails %s to failureRedirect and leaves the signed-in user alone', async (_name, path) => {
    const browser = new TestBrowser();
    await signIn(browser);
    const res = await browser.get(`${app.url}${path}`);
    expect(res.location).toBe(`${app.url}/failed`);
    expect((await profile(browser)).user).toEqual({ id: 'alice' });
  });
});
