/**
 * Mistakes caught at start-up, not at the first login (issue #28, item 3): options that throw a TypeError
 * naming the option from parAuth() and new ParStrategy(); warnings (process.emitWarning, once) for what the
 * options alone show at creation and for a provider that fails the self-check at the first request; and a
 * missing or misordered express-session answered with the setup error on any route. Apps over real HTTP
 * against the faulty server (no oidc-provider needed: nothing here logs in).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { Passport } from 'passport';
import { parAuth } from '../lib/index.js';
import { ParStrategy } from '../lib/passport.js';
import type { ParAuthConfig } from '../lib/core/types.js';
import { listen, testSession } from './helpers/app.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import { TestBrowser } from './helpers/browser.js';

const base = { issuerBaseURL: 'https://op.example', baseURL: 'https://app.example', clientID: 'client' };
const verify = () => undefined;

/** The TypeError both adapters throw for `options`. */
function refusals(options: Record<string, unknown>): string[] {
  const messages: string[] = [];
  for (const build of [() => parAuth(options as unknown as ParAuthConfig), () => new ParStrategy(options as never, verify)]) {
    try {
      build();
      messages.push('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(TypeError);
      messages.push((err as Error).message);
    }
  }
  return messages;
}

describe('options refused at start-up', () => {
  const unset = (option: string) =>
    `"${option}" is undefined (an unset environment variable?): set it, or set clientAuthMethod "none" for a public client`;

  it('refuses clientSecret: undefined (an unset environment variable), which used to make the client public', () => {
    expect(refusals({ ...base, clientSecret: undefined })).toEqual([unset('clientSecret'), unset('clientSecret')]);
    expect(refusals({ ...base, clientAssertionSigningKey: undefined })).toEqual([unset('clientAssertionSigningKey'), unset('clientAssertionSigningKey')]);
  });

  it('accepts clientSecret: undefined when clientAuthMethod or a signing key says how the client authenticates', () => {
    expect(refusals({ ...base, clientSecret: undefined, clientAuthMethod: 'none' })).toEqual(['accepted', 'accepted']);
    const key = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' };
    expect(refusals({ ...base, clientSecret: undefined, clientAssertionSigningKey: key })).toEqual(['accepted', 'accepted']);
    // Absent (not given at all) is a public client, as before.
    expect(refusals(base)).toEqual(['accepted', 'accepted']);
  });

  it('refuses a clientSecret with clientAuthMethod "none"', () => {
    const message = '"clientSecret" is set but clientAuthMethod is "none" (a public client has no secret): remove one of them';
    expect(refusals({ ...base, clientSecret: 'shh', clientAuthMethod: 'none' })).toEqual([message, message]);
  });

  it('refuses routes.backchannelLogout without backchannelLogout: true', () => {
    const message = '"routes.backchannelLogout" is set but "backchannelLogout" is off: turn it on, or remove the route';
    expect(refusals({ ...base, clientSecret: 'shh', routes: { backchannelLogout: '/bcl' } })).toEqual([message, message]);
    expect(refusals({ ...base, clientSecret: 'shh', routes: { backchannelLogout: false } })).toEqual(['accepted', 'accepted']);
    expect(() => parAuth({ ...base, clientSecret: 'shh', backchannelLogout: true, routes: { backchannelLogout: '/bcl' } })).not.toThrow();
  });
});


// ---------------------------------------------------------------------------------------------------------
// Warnings: process.emitWarning, type ExpressParWarning, one code once per parAuth() / ParStrategy.

interface Seen {
  code: string;
  message: string;
}
const seen: Seen[] = [];
// Jest's sandboxed `process` does not hear the real process's 'warning' events: the calls are recorded instead
// (and not printed).
type EmitWarning = (warning: string | Error, options?: { type?: string; code?: string }) => void;
const record: EmitWarning = (warning, options) => {
  if (options?.type === 'ExpressParWarning') seen.push({ code: options.code ?? '', message: String(warning) });
};
/** Warnings are emitted on the next tick: wait for it, then read what came. */
async function warnings(code?: string): Promise<Seen[]> {
  await new Promise((resolve) => setImmediate(resolve));
  return seen.filter((w) => code === undefined || w.code === code);
}
/** The first warning with `code`, once it has come (polled; gives up after ~20 s so nothing outlives the test). */
async function warningOf(code: string): Promise<Seen | undefined> {
  for (let i = 0; i < 2000; i++) {
    const found = (await warnings(code))[0];
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return undefined;
}

let server: FaultyServer;
beforeAll(async () => {
  jest.spyOn(process, 'emitWarning').mockImplementation(record as typeof process.emitWarning);
  server = await startFaultyServer();
});
afterAll(async () => {
  jest.restoreAllMocks();
  await server.close();
});
afterEach(() => {
  seen.length = 0;
  server.reset();
});

const withServer = (extra: Partial<ParAuthConfig> = {}): ParAuthConfig => ({
  issuerBaseURL: server.issuer, baseURL: 'http://127.0.0.1:1', clientID: server.clientId, clientSecret: server.clientSecret, ...extra,
});

const onError: ErrorRequestHandler = (err, _req, res, _next) => {
  res.status(typeof err.status === 'number' ? err.status : 500).json({ code: err.code, message: err.message });
};

/** An app built by `mount`, then a home route and a JSON error handler. */
async function appWith(mount: (app: express.Express) => void) {
  return listen(() => {
    const app = express();
    mount(app);
    app.get('/', (_req, res) => {
      res.json({ home: true });
    });
    app.use(onError);
    return app;
  });
}

describe('warnings at creation: what the options alone show, without calling the server', () => {
  it('warns once when baseURL is http: off loopback (the cookie and the callback in the clear)', async () => {
    parAuth(withServer({ baseURL: 'http://app.example:8080/base' }));
    new ParStrategy(withServer({ baseURL: 'http://intranet.example' }), () => undefined);
    const found = await warnings('EXPRESS_PAR_CLEARTEXT_BASE_URL');
    expect(found.map((w) => w.message)).toEqual([
      'baseURL http://app.example:8080 is http: off loopback: the session cookie, the callback and its code travel in the clear. Use the https: URL the browser sees (also behind a proxy that terminates TLS).',
      'baseURL http://intranet.example is http: off loopback: the session cookie, the callback and its code travel in the clear. Use the https: URL the browser sees (also behind a proxy that terminates TLS).',
    ]);
    parAuth(withServer({ baseURL: 'http://localhost:3000' }));
    parAuth(withServer({ baseURL: 'https://app.example' }));
    expect(await warnings()).toHaveLength(2);
    expect(server.requests).toEqual([]); // nothing asked of the server at creation
  });

  it('warns once when the client certificate (tls) expires within 14 days', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'express-par-cert-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3', '-subj', '/CN=soon', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const tls = { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
      parAuth(withServer({ tls }));
      const [warning, ...more] = await warnings('EXPRESS_PAR_CLIENT_CERTIFICATE');
      expect(more).toEqual([]);
      expect(warning!.message).toMatch(/^the client certificate \(tls\.cert\) expires on \d{4}-\d\d-\d\dT[\d:.]+Z: renew it and register the new one\.$/);
      expect(warning!.message).not.toContain('BEGIN');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the provider self-check, in the background at the first request', () => {
  it('warns once, without DEBUG, when the provider fails it; the page itself is served', async () => {
    server.parEnabled = false;
    const app = await appWith((a) => {
      a.use(testSession());
      a.use(parAuth(withServer()));
    });
    try {
      expect(server.requests).toEqual([]); // not at creation
      const browser = new TestBrowser();
      expect((await browser.get(`${app.url}/`)).status).toBe(200);
      const warning = await warningOf('EXPRESS_PAR_PROVIDER_NOT_READY');
      expect(warning?.message).toBe(
        `The authorization server ${server.issuer} cannot be used as configured: it advertises no pushed_authorization_request_endpoint (RFC 9126 §5). (par_not_supported) ` +
          `Logins fail until this is fixed; "npx express-par check --issuer ${server.issuer}" lists each problem with its fix.`,
      );
      await browser.get(`${app.url}/`);
      expect((await browser.get(`${app.url}/login`)).status).toBe(502);
      expect(await warnings('EXPRESS_PAR_PROVIDER_NOT_READY')).toHaveLength(1);
      expect(server.requestsTo('/.well-known/openid-configuration')).toHaveLength(1); // the login shared it
    } finally {
      await app.close();
    }
  });

  it('warns once for ParStrategy too, at its first authenticate()', async () => {
    server.parEnabled = false;
    const passport = new Passport();
    passport.use(new ParStrategy(withServer({ routes: { callback: '/auth/callback' } }), () => undefined));
    const app = await appWith((a) => {
      a.use(testSession());
      a.use(passport.initialize());
      a.get('/auth/login', passport.authenticate('par'));
    });
    try {
      const browser = new TestBrowser();
      for (let i = 0; i < 2; i++) expect((await browser.get(`${app.url}/auth/login`)).status).toBe(502);
      expect((await warnings('EXPRESS_PAR_PROVIDER_NOT_READY')).map((w) => w.message)).toEqual([expect.stringContaining('(par_not_supported)')]);
    } finally {
      await app.close();
    }
  });

  it('says nothing about a provider that passes it', async () => {
    const app = await appWith((a) => {
      a.use(testSession());
      a.use(parAuth(withServer()));
    });
    try {
      const browser = new TestBrowser();
      expect((await browser.get(`${app.url}/`)).status).toBe(200);
      // The login waits for the same self-check: once it has answered, the check has settled.
      expect((await browser.get(`${app.url}/login`)).status).toBe(302);
      expect(server.requestsTo('/.well-known/openid-configuration')).toHaveLength(1);
      expect(await warnings()).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('express-session missing or misordered: the setup error at the first request, on any route', () => {
  const MISSING = 'express-par needs a session, and no express-session runs before parAuth(): add app.use(session({ secret, resave: false, saveUninitialized: false })) from express-session before it.';
  const AFTER = 'express-session is mounted after parAuth(), so parAuth() runs before there is a session: move app.use(session(...)) above app.use(parAuth(...)).';
  const FOREIGN = 'req.session has no save() and regenerate(): express-par needs express-session (cookie-session and other session middleware cannot give the session a new id at login).';
  const SKIPPED = 'express-session ran before parAuth() but gave this request no session: its store is disconnected, or the path is outside cookie.path. Routes that need the session answer session_unavailable meanwhile.';
  /** What a mistaken set-up answers on the home page, twice, and the warnings it gave. */
  async function homeTwice(mount: (app: express.Express) => void) {
    const app = await appWith(mount);
    try {
      const browser = new TestBrowser();
      const answers: Array<Record<string, unknown>> = [];
      for (const path of ['/', '/']) {
        const res = await browser.get(`${app.url}${path}`);
        answers.push({ status: res.status, ...(JSON.parse(res.body) as Record<string, unknown>) });
      }
      return { answers, warned: (await warnings('EXPRESS_PAR_SESSION_SETUP')).map((w) => w.message) };
    } finally {
      await app.close();
    }
  }
  const quoted = (message: string) => message.replace(/"/g, '“'); // SetupError messages: typographic quotes

  it('answers every route with session_unavailable when no express-session runs, and warns once', async () => {
    const { answers, warned } = await homeTwice((a) => a.use(parAuth(withServer())));
    expect(answers).toEqual([
      { status: 500, code: 'session_unavailable', message: quoted(MISSING) },
      { status: 500, code: 'session_unavailable', message: quoted(MISSING) },
    ]);
    expect(warned).toEqual([MISSING]);
  });

  it('names the order when express-session is mounted after parAuth()', async () => {
    const { answers, warned } = await homeTwice((a) => {
      a.use(parAuth(withServer()));
      a.use(testSession());
    });
    expect(answers.map((a) => [a.status, a.code, a.message])).toEqual([[500, 'session_unavailable', AFTER], [500, 'session_unavailable', AFTER]]);
    expect(warned).toEqual([AFTER]);
  });

  it('finds parAuth() in a router and express-session after it', async () => {
    const { answers } = await homeTwice((a) => {
      const router = express.Router();
      router.use(parAuth(withServer()));
      a.use(router);
      a.use(testSession());
    });
    expect(answers[0]).toMatchObject({ status: 500, message: AFTER });
  });

  it('refuses a req.session that is not express-session’s (no save, no regenerate)', async () => {
    const cookieSession: RequestHandler = (req, _res, next) => {
      (req as unknown as { session: object }).session = { views: 1 };
      next();
    };
    const { answers, warned } = await homeTwice((a) => {
      a.use(cookieSession);
      a.use(parAuth(withServer()));
    });
    expect(answers[0]).toMatchObject({ status: 500, code: 'session_unavailable', message: FOREIGN });
    expect(warned).toEqual([FOREIGN]);
  });

  it('lets a request through, with one warning, when express-session ran first but its store is disconnected', async () => {
    const store = new (await import('express-session')).default.MemoryStore();
    const app = await appWith((a) => {
      a.use(testSession(store));
      a.use(parAuth(withServer()));
    });
    try {
      const browser = new TestBrowser();
      expect((await browser.get(`${app.url}/`)).status).toBe(200); // builds the app: express-session listens to the store
      store.emit('disconnect'); // express-session then skips the session: req.session stays undefined
      expect((await browser.get(`${app.url}/`)).status).toBe(200);
      const login = await browser.get(`${app.url}/login`);
      expect([login.status, JSON.parse(login.body).code]).toEqual([500, 'session_unavailable']);
      expect((await warnings('EXPRESS_PAR_SESSION_SETUP')).map((w) => w.message)).toEqual([SKIPPED]);
      store.emit('connect');
      expect((await browser.get(`${app.url}/login`)).status).toBe(302);
    } finally {
      await app.close();
    }
  });

  it('says nothing and changes nothing when express-session comes first', async () => {
    const { answers, warned } = await homeTwice((a) => {
      a.use(testSession());
      a.use('/admin', express.Router().use(parAuth(withServer())));
      a.use(parAuth(withServer()));
    });
    expect(answers).toEqual([{ status: 200, home: true }, { status: 200, home: true }]);
    expect(warned).toEqual([]);
  });
});
