/**
 * An Express app with express-session and parAuth, listening on 127.0.0.1:0 for real HTTP. The base URL
 * is known before the app is built, so it can be the `baseURL` option and the provider's redirect URI.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import session, { type SessionOptions, type Store } from 'express-session';

export interface TestApp {
  url: string;
  close(): Promise<void>;
  /** Errors that reached the app's error handler, newest last. */
  errors: Array<{ status?: number; code?: string; message: string }>;
}

/** Listens first, then builds the app (lazily) with its own URL. */
export async function listen(build: (baseURL: string) => http.RequestListener | Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Built on the first request, so a test can start the provider after it knows the app's URL.
  let handler: http.RequestListener | undefined;
  server.on('request', (req, res) => {
    handler ??= build(url) as http.RequestListener;
    handler(req, res);
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Session middleware as the README recommends (MemoryStore unless a store is given; several instances share
 * one); `options` override it (e.g. a cookie `maxAge`).
 */
export function testSession(store?: Store, options: Partial<SessionOptions> = {}): RequestHandler {
  return session({ secret: 'test-session-secret', resave: false, saveUninitialized: false, name: 'app.sid', ...(store ? { store } : {}), ...options });
}

/** An app: session, then `mount(app, baseURL)` (parAuth and routes), then a JSON error handler. */
export interface StartAppOptions {
  session?: boolean;
  store?: Store;
  /** express-session options over testSession()'s. */
  sessionOptions?: Partial<SessionOptions>;
}

export async function startApp(mount: (app: Express, baseURL: string) => void, opts: StartAppOptions = {}): Promise<TestApp> {
  const errors: TestApp['errors'] = [];
  const server = await listen((baseURL) => {
    const app = express();
    if (opts.session !== false) app.use(testSession(opts.store, opts.sessionOptions));
    mount(app, baseURL);
    app.get('/', (_req, res) => {
      res.json({ home: true });
    });
    const onError: ErrorRequestHandler = (err, _req, res, _next) => {
      errors.push({ status: err.status, code: err.code, message: String(err.message) });
      res.status(typeof err.status === 'number' ? err.status : 500).json({ code: err.code, status: err.status, message: err.message });
    };
    app.use(onError);
    return app;
  });
  return { ...server, errors };
}
