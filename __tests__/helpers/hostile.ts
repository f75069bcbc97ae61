/**
 * Shared plumbing for the hostile-server and hostile-browser suites: an app with parAuth pointed at the
 * faulty authorization server (short httpTimeout), a driver for /login → faulty /authorize → /callback,
 * and the checks every failure must pass (stage, status/code, the session state it leaves, nothing
 * secret in the error, the response body or the log, no unhandled rejection).
 *
 * Test files that use it import './helpers/capture-logs.js' first, so the library's debug log is on
 * and its lines can be scanned.
 */
import { logLines } from './capture-logs.js';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from '@jest/globals';
import type { ErrorRequestHandler, Express } from 'express';
import { parAuth } from '../../lib/index.js';
import type { ParAuthConfig } from '../../lib/core/types.js';
import { startApp, type StartAppOptions, type TestApp } from './app.js';
import { TestBrowser, type BrowserResponse } from './browser.js';
import { startFaultyServer, type Faults, type FaultyServer } from './faulty-server.js';

/** Short enough that hang cases end quickly, long enough for loopback under load. */
export const HOSTILE_TIMEOUT_MS = 1000;

export interface CapturedError {
  status?: number;
  code?: string;
  message: string;
  error?: string;
  error_description?: string;
  upstreamStatus?: number;
  details?: Record<string, unknown>;
}

export interface HostileApp extends TestApp {
  /** Full error objects that reached Express's error handling, newest last. */
  captured: CapturedError[];
}

const openApps = new Set<HostileApp>();

/**
 * An app with parAuth on `server`, `/whoami` (login state and pending transactions), the routes that
 * `routes` adds, and an error recorder; `appOptions` choose the session store and options.
 */
export async function startHostileApp(
  server: FaultyServer,
  options: Partial<ParAuthConfig> = {},
  routes?: (app: Express) => void,
  appOptions: StartAppOptions = {},
): Promise<HostileApp> {
  const captured: CapturedError[] = [];
  const app = await startApp((a: Express, baseURL: string) => {
    a.use(parAuth({
      issuerBaseURL: server.issuer,
      baseURL,
      clientID: server.clientId,
      clientSecret: server.clientSecret,
      httpTimeout: HOSTILE_TIMEOUT_MS,
      ...options,
    }));
    a.get('/whoami', (req, res) => {
      const signIns = Object.values(req.session.par ?? {});
      const pending = signIns.reduce((n, state) => n + Object.keys(state.pending ?? {}).length, 0);
      res.json({ authenticated: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub, pending });
    });
    routes?.(a);
    const record: ErrorRequestHandler = (err, _req, _res, next) => {
      captured.push(err as CapturedError);
      next(err);
    };
    a.use(record);
  }, appOptions);
  const hostile: HostileApp = { ...app, captured, close: async () => { openApps.delete(hostile); await app.close(); } };
  openApps.add(hostile);
  return hostile;
}

/** Closes every app started by startHostileApp (for afterEach/afterAll). */
export async function closeHostileApps(): Promise<void> {
  await Promise.all([...openApps].map((a) => a.close()));
}

export async function whoami(app: HostileApp, browser: TestBrowser): Promise<{ authenticated: boolean; sub?: string; pending: number }> {
  const res = await browser.get(`${app.url}/whoami`);
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as { authenticated: boolean; sub?: string; pending: number };
}

export interface HostileLoginOptions {
  /** parAuth options on top of the defaults. */
  options?: Partial<ParAuthConfig>;
  /** Reuse an app (default: a fresh one, so discovery and JWKS are fetched again). */
  app?: HostileApp;
  browser?: TestBrowser;
  /** Log in successfully first, so the case also proves a failure logs the session out. */
  preLogin?: boolean;
  /** Faults set on the server right before the attempt under test (after any pre-login). */
  faults?: Faults;
  /** Claims merged into the ID token of the attempt under test. */
  idTokenClaims?: Record<string, unknown>;
  returnTo?: string;
  /** Rewrites the callback URL the faulty server redirected to before the browser requests it. */
  editCallback?: (url: URL) => string;
}

export type HostileStage = 'login' | 'authorize' | 'callback';

export interface HostileRun {
  /** Where the flow stopped: the app's /login answer, the server's /authorize answer, or the app's /callback answer. */
  stage: HostileStage;
  final: BrowserResponse;
  /** The error that reached Express for the attempt under test, if any. */
  error?: CapturedError;
  loggedIn: boolean;
  /** Login transactions still pending in the session after the attempt. */
  pending: number;
  /** express-par log lines written during the attempt (empty unless capture-logs was imported first). */
  logs: string[];
  app: HostileApp;
  browser: TestBrowser;
  /** The callback URL requested, when the flow got that far. */
  callbackUrl?: string;
}

/** /login → /authorize → /callback with a scripted browser; never throws for an app-side failure. */
export async function attemptLogin(server: FaultyServer, browser: TestBrowser, app: HostileApp, opts: Pick<HostileLoginOptions, 'returnTo' | 'editCallback'> = {}) {
  const query = opts.returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(opts.returnTo)}`;
  const login = await browser.get(`${app.url}/login${query}`);
  if (login.status !== 302 || !login.location?.startsWith(server.issuer)) return { stage: 'login' as const, final: login };
  const authorize = await browser.get(login.location);
  if (authorize.status !== 302 || !authorize.location?.startsWith(app.url)) return { stage: 'authorize' as const, final: authorize };
  const callbackUrl = opts.editCallback ? opts.editCallback(new URL(authorize.location)) : authorize.location;
  return { stage: 'callback' as const, final: await browser.get(callbackUrl), callbackUrl };
}

/** Runs one hostile login and reports how it ended. */
export async function hostileLogin(server: FaultyServer, opts: HostileLoginOptions = {}): Promise<HostileRun> {
  const app = opts.app ?? (await startHostileApp(server, opts.options));
  const browser = opts.browser ?? new TestBrowser();
  if (opts.preLogin) {
    const ok = await attemptLogin(server, browser, app);
    expect(ok.final.status).toBe(302);
    expect((await whoami(app, browser)).authenticated).toBe(true);
  }
  Object.assign(server.fault, opts.faults ?? {});
  Object.assign(server.idTokenClaims, opts.idTokenClaims ?? {});
  const before = app.captured.length;
  const logFrom = logLines().length;
  const run = await attemptLogin(server, browser, app, opts);
  const logs = logLines().slice(logFrom);
  const { authenticated, pending } = await whoami(app, browser);
  return { ...run, error: app.captured[before], loggedIn: authenticated, pending, logs, app, browser };
}

/** Random base64url runs (mixed case and digits, 32+ chars) are tokens, codes, states or verifiers. */
export function tokenLikeRuns(text: string): string[] {
  return [...text.matchAll(/[A-Za-z0-9_-]{32,}/g)].map((m) => m[0]).filter((run) => /[A-Z]/.test(run) && /[a-z]/.test(run) && /\d/.test(run));
}

/**
 * The contract's promises for a failed login: it stopped at `stage` with the documented status and code;
 * the session is not logged in (after a pre-login, that proves the failure ended the login; `loggedIn:
 * true` for a callback that named no pending login, which leaves an earlier login alone); a failure at
 * /login leaves no transaction behind; nothing secret in the error, the response body or the log.
 */
export function expectFailure(
  run: HostileRun, server: FaultyServer, stage: HostileStage, status: number, code: string, opts: { loggedIn?: boolean } = {},
): void {
  expect({ stage: run.stage, status: run.final.status, code: run.error?.code, errStatus: run.error?.status })
    .toEqual({ stage, status, code, errStatus: status });
  expect(JSON.parse(run.final.body)).toMatchObject({ code, status });
  expect(run.loggedIn).toBe(opts.loggedIn ?? false);
  if (stage === 'login') expect(run.pending).toBe(0);
  expectNothingSecret(run.error!, server, { body: run.final.body, logs: run.logs });
}

/** The secrets a failed login could leak: the client secret, everything the server issued, and what the client sent. */
function secretsOf(server: FaultyServer): string[] {
  const sent: unknown[] = [];
  for (const rec of server.requestsTo('/token')) sent.push(rec.body.code_verifier, rec.body.code, rec.body.refresh_token);
  for (const rec of server.requestsTo('/par')) sent.push(rec.body.state, rec.body.nonce);
  return [server.clientSecret, ...server.issued, ...sent.filter((v): v is string => typeof v === 'string' && v.length >= 16)];
}

/**
 * No secret in the error (message, description, details), in the HTTP response the browser got, or in the
 * log lines written meanwhile. With `logs`, at least one line must have been captured, so an import
 * order that turned logging off cannot make the scan vacuous.
 */
export function expectNothingSecret(err: CapturedError, server: FaultyServer, seen: { body?: string; logs?: string[] } = {}): void {
  const exposed = JSON.stringify({ message: err.message, error_description: err.error_description, details: err.details });
  const places: Array<[string, string]> = [['the error', exposed], ['the response body', seen.body ?? ''], ['the log', (seen.logs ?? []).join('\n')]];
  if (seen.logs) expect(seen.logs.length).toBeGreaterThan(0);
  const secrets = secretsOf(server);
  expect(secrets).toContain(server.clientSecret);
  for (const [where, text] of places) {
    const leaked = secrets.filter((secret) => text.includes(secret));
    expect({ where, leaked }).toEqual({ where, leaked: [] });
  }
  expect(tokenLikeRuns(err.message)).toEqual([]);
  expect(tokenLikeRuns(seen.body ?? '')).toEqual([]);
  expect(tokenLikeRuns((seen.logs ?? []).join('\n'))).toEqual([]);
}

/** Records unhandled rejections while a test file runs; assert the list stays empty. */
export function recordUnhandledRejections(): { list: unknown[]; stop(): void } {
  const list: unknown[] = [];
  const onRejection = (reason: unknown) => {
    list.push(reason);
  };
  // Jest gives each test file a copy of `process` whose events never fire; Node emits
  // 'unhandledRejection' on the real one, reached through a function built in the outer realm.
  const realProcess = (Buffer.constructor as FunctionConstructor)('return process')() as NodeJS.Process;
  const targets = realProcess === process ? [process] : [process, realProcess];
  for (const target of targets) target.on('unhandledRejection', onRejection);
  return { list, stop: () => { for (const target of targets) target.off('unhandledRejection', onRejection); } };
}

/** Lets pending rejections surface (they are reported after the microtask queue drains). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The lifecycle every hostile-server file shares: one faulty server for the file (handed to `onStart`),
 * reset before each test; after each test the apps are closed and no unhandled rejection may have happened.
 */
export function useFaultyServer(onStart: (server: FaultyServer) => void): { rejections: { list: unknown[] } } {
  let server: FaultyServer;
  const rejections = recordUnhandledRejections();
  beforeAll(async () => {
    server = await startFaultyServer();
    onStart(server);
  });
  beforeEach(() => server.reset());
  afterEach(async () => {
    await closeHostileApps();
    await settle();
    expect(rejections.list).toEqual([]);
  });
  afterAll(async () => {
    rejections.stop();
    await server.close();
  });
  return { rejections };
}
