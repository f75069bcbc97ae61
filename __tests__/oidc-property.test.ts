/**
 * `res.oidc` made from `req.oidc` when first read (lib/express/oidc-property.ts), not an own property of
 * every response: it must behave as the own property did, over real HTTP and real logins against
 * oidc-provider, for one mount, two mounts, a sub-app, an assignment, an app that has an `oidc` of its own
 * on `app.response`, and a plain Node server with no Express prototypes at all.
 */
import http from 'node:http';
import { Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express, { type NextFunction, type Request, type Response } from 'express';
import { auth, parAuth, requiresAuth } from '../lib/index.js';
import { provideResponseOidc, RESPONSE_CONTEXT } from '../lib/express/oidc-property.js';
import { listen, startApp, testSession, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

let provider: TestProvider;
let app: TestApp;
/** What the routes saw of res.oidc, by route. */
const seen: Record<string, unknown> = {};

const mountOptions = (issuer: string, baseURL: string) => ({
  issuerBaseURL: issuer,
  baseURL,
  clientID: TEST_CLIENT_ID,
  clientSecret: TEST_CLIENT_SECRET,
});

beforeAll(async () => {
  app = await startApp((a, baseURL) => {
    // A login route of the app's own before the second mount: res.oidc is the first mount's.
    a.use(parAuth(mountOptions(provider.issuer, baseURL)));
    a.get('/first/login', (_req, res, next) => {
      res.oidc.login({ returnTo: '/who' }).catch(next);
    });
    a.get('/reads', (req, res) => {
      seen.reads = {
        own: Object.hasOwn(res, 'oidc'),
        same: res.oidc === res.oidc,
        enumerable: Object.keys(res).includes('oidc'),
        methods: [typeof res.oidc.login, typeof res.oidc.logout, typeof res.oidc.callback],
        requestOwn: Object.hasOwn(req, 'oidc'),
      };
      res.json(seen.reads);
    });
    a.get('/assigned', (_req, res) => {
      const mine = { login: () => Promise.resolve() };
      (res as unknown as { oidc: unknown }).oidc = mine;
      res.json({ kept: (res as unknown as { oidc: unknown }).oidc === mine, own: Object.hasOwn(res, 'oidc') });
    });
    a.get('/who', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user?.sub }));
    // The second mount: its routes are under /b, its callback /b/callback.
    const b = express.Router();
    b.use(parAuth(mountOptions(provider.issuer, `${baseURL}/b`)));
    b.get('/login-here', (_req, res, next) => {
      res.oidc.login({ returnTo: '/b/who' }).catch(next);
    });
    b.get('/who', requiresAuth(), (req, res) => res.json({ sub: req.oidc.user?.sub }));
    a.use('/b', b);
    // A sub-app with its own mount; the parent's route after it reads what the sub-app's mount set.
    const sub = express();
    sub.use(parAuth(mountOptions(provider.issuer, `${baseURL}/sub`)));
    a.use('/sub', sub);
    a.get('/sub/after', (req, res) => {
      res.json({ request: typeof req.oidc?.isAuthenticated, response: typeof res.oidc?.login });
    });
  });
  provider = await startProvider({
    redirectUris: [`${app.url}/callback`, `${app.url}/b/callback`, `${app.url}/sub/callback`],
    postLogoutRedirectUris: [`${app.url}/`],
  });
});
afterAll(async () => {
  await app.close();
  await provider.close();
});

describe('res.oidc made from req.oidc', () => {
  it('is there, the same object at every read, and not an own or enumerable property of the response', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(`${app.url}/reads`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      own: false,
      same: true,
      enumerable: false,
      methods: ['function', 'function', 'function'],
      requestOwn: true,
    });
  });

  it('logs in through the mount whose req.oidc the request has: the first before the second mount, the second after it', async () => {
    for (const [route, callback, who] of [
      ['/first/login', '/callback', '/who'],
      ['/b/login-here', '/b/callback', '/b/who'],
    ] as const) {
      const browser = new TestBrowser();
      const start = await browser.get(`${app.url}${route}`);
      expect(start.status).toBe(302);
      const back = await completeProviderLogin(browser, start.location!);
      expect(new URL(back).pathname).toBe(callback);
      const done = await browser.get(back);
      expect(done.status).toBe(302);
      expect(done.location).toBe(`${app.url}${who}`);
      const me = await browser.get(`${app.url}${who}`);
      expect(JSON.parse(me.body)).toEqual({ sub: 'alice' });
    }
  });

  it('keeps what a route assigns, as an own property', async () => {
    const res = await new TestBrowser().get(`${app.url}/assigned`);
    expect(JSON.parse(res.body)).toEqual({ kept: true, own: true });
  });

  it('stays after a sub-app with a mount hands the request back to its parent', async () => {
    const res = await new TestBrowser().get(`${app.url}/sub/after`);
    expect(JSON.parse(res.body)).toEqual({ request: 'function', response: 'function' });
  });
});

describe("auth()'s res.oidc, made on read", () => {
  it("is express-openid-connect's: silentLogin(), and a failing login goes to next(err)", async () => {
    const eoc = await startApp(
      (a, baseURL) => {
        a.use(auth({
          issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET,
          secret: 'a long random value for the session', authRequired: false,
        }));
        a.get('/reads', (_req, res) => {
          const context = res.oidc as unknown as { silentLogin?: unknown };
          res.json({ own: Object.hasOwn(res, 'oidc'), same: res.oidc === res.oidc, silentLogin: typeof context.silentLogin });
        });
        // This app's redirect_uri is not registered at the provider: the push is refused, and under auth() the
        // error reaches the app's error handler through next(err), as in express-openid-connect.
        a.get('/go', (_req, res) => void res.oidc.login({ returnTo: '/' }));
      },
      { session: false },
    );
    try {
      const browser = new TestBrowser();
      expect(JSON.parse((await browser.get(`${eoc.url}/reads`)).body)).toEqual({ own: false, same: true, silentLogin: 'function' });
      const go = await browser.get(`${eoc.url}/go`);
      expect(go.status).toBeGreaterThanOrEqual(400);
      expect(eoc.errors).toHaveLength(1);
      expect(eoc.errors[0]).toMatchObject({ status: 502, code: 'par_failed' });
    } finally {
      await eoc.close();
    }
  });
});

describe('where res.oidc cannot be made on read', () => {
  it("leaves an app's own `oidc` on app.response alone and gives each response its own res.oidc", async () => {
    const other = await startApp((a, baseURL) => {
      Object.defineProperty(a.response, 'oidc', { value: 'the app\'s own', writable: true, configurable: true });
      a.use(parAuth(mountOptions(provider.issuer, baseURL)));
      a.get('/reads', (_req, res) => {
        res.json({ own: Object.hasOwn(res, 'oidc'), login: typeof res.oidc.login, proto: Object.getPrototypeOf(res).oidc });
      });
    });
    try {
      const res = await new TestBrowser().get(`${other.url}/reads`);
      expect(JSON.parse(res.body)).toEqual({ own: true, login: 'function', proto: "the app's own" });
    } finally {
      await other.close();
    }
  });

  it('gives a response of a plain Node server (no Express prototypes) an own res.oidc', async () => {
    let sawOwn: unknown;
    const session = testSession();
    // A plain request listener: the requests and responses keep Node's own prototypes.
    const server = await listen((baseURL) => {
      const middleware = parAuth(mountOptions(provider.issuer, baseURL));
      return (req: http.IncomingMessage, res: http.ServerResponse) => {
        const request = req as unknown as Request;
        const response = res as unknown as Response;
        const done: NextFunction = (err?: unknown) => {
          sawOwn = { own: Object.hasOwn(res, 'oidc'), login: typeof response.oidc?.login, error: err ? String(err) : null };
          res.end('ok');
        };
        session(request, response, () => middleware(request, response, done));
      };
    });
    try {
      const res = await fetch(`${server.url}/anything`);
      expect(await res.text()).toBe('ok');
      expect(sawOwn).toEqual({ own: true, login: 'function', error: null });
    } finally {
      await server.close();
    }
  });
});

describe('provideResponseOidc() on prototype chains made by hand', () => {
  // Node's prototypes are shared by every test run in this process: each test starts from them untouched,
  // whatever a (mutated) module did before.
  beforeEach(() => {
    delete (http.ServerResponse.prototype as { oidc?: unknown }).oidc;
  });

  /** A response whose chain is res → appResponse → `expressLike` → ServerResponse.prototype, as Express builds it. */
  function responseOn(expressLike: object, requestOidc?: unknown): { res: Response; appResponse: object } {
    const appResponse = Object.create(expressLike) as object;
    const req = new http.IncomingMessage(new Socket());
    const res = new http.ServerResponse(req);
    Object.setPrototypeOf(res, appResponse);
    (req as unknown as { oidc?: unknown }).oidc = requestOidc;
    (res as unknown as { req: unknown }).req = req;
    return { res: res as unknown as Response, appResponse };
  }
  const contextMaking = (made: unknown) => ({ [RESPONSE_CONTEXT]: () => made as Response['oidc'] });

  it("defines the accessor once on Express's object and makes res.oidc from req.oidc", () => {
    const expressLike = Object.create(http.ServerResponse.prototype) as object;
    const made = { made: true };
    const first = responseOn(expressLike, contextMaking(made));
    provideResponseOidc(first.res, contextMaking('not this one'));
    expect(Object.hasOwn(first.res, 'oidc')).toBe(false);
    expect(first.res.oidc).toBe(made);
    const accessor = Object.getOwnPropertyDescriptor(expressLike, 'oidc');
    expect(accessor).toMatchObject({ enumerable: false, configurable: true });
    // A second app (another app.response) on the same Express object: the same accessor, nothing redefined.
    const second = responseOn(expressLike, { notAContext: true });
    provideResponseOidc(second.res, contextMaking('unused'));
    expect(Object.getOwnPropertyDescriptor(expressLike, 'oidc')!.get).toBe(accessor!.get);
    expect(second.res.oidc).toBeUndefined(); // req.oidc is not a context of ours
    // Another response of the first app: made on read as well.
    const again = new http.ServerResponse(new http.IncomingMessage(new Socket())) as unknown as Response;
    Object.setPrototypeOf(again, first.appResponse);
    provideResponseOidc(again, contextMaking('unused'));
    expect(Object.hasOwn(again, 'oidc')).toBe(false);
  });

  it('sets the own property on a frozen Express object, on a chain of another shape, and over an own oidc', () => {
    const frozen = Object.freeze(Object.create(http.ServerResponse.prototype) as object);
    const onFrozen = responseOn(frozen).res;
    provideResponseOidc(onFrozen, contextMaking('own on frozen'));
    expect(Object.hasOwn(onFrozen, 'oidc') && onFrozen.oidc).toBe('own on frozen');

    const plain = new http.ServerResponse(new http.IncomingMessage(new Socket())) as unknown as Response;
    provideResponseOidc(plain, contextMaking('own on plain'));
    expect(Object.hasOwn(plain, 'oidc') && plain.oidc).toBe('own on plain');
    expect(Object.hasOwn(http.ServerResponse.prototype, 'oidc')).toBe(false);

    const expressLike = Object.create(http.ServerResponse.prototype) as object;
    const { res } = responseOn(expressLike);
    (res as unknown as { oidc: unknown }).oidc = 'assigned first';
    provideResponseOidc(res, contextMaking('replaces it'));
    expect(res.oidc).toBe('replaces it');
  });

  it('reads undefined without a request or without a req.oidc, and an assignment becomes a plain own property', () => {
    const expressLike = Object.create(http.ServerResponse.prototype) as object;
    const { res } = responseOn(expressLike, undefined);
    provideResponseOidc(res, contextMaking('unused'));
    expect(res.oidc).toBeUndefined();
    delete (res as unknown as { req?: unknown }).req;
    expect(res.oidc).toBeUndefined();
    (res as unknown as { oidc: unknown }).oidc = 1;
    expect(Object.getOwnPropertyDescriptor(res, 'oidc')).toEqual({ value: 1, writable: true, enumerable: true, configurable: true });
    (res as unknown as { oidc: unknown }).oidc = 2;
    expect(res.oidc).toBe(2);
    delete (res as unknown as { oidc?: unknown }).oidc;
    expect(res.oidc).toBeUndefined(); // the accessor again
  });

  it('gives a response with no prototype, and every response of a refused app, their own property', () => {
    const bare = Object.create(null) as Response;
    provideResponseOidc(bare, contextMaking('own on a bare object'));
    expect(Object.hasOwn(bare, 'oidc') && bare.oidc).toBe('own on a bare object');

    const expressLike = Object.create(http.ServerResponse.prototype) as object;
    const first = responseOn(expressLike);
    Object.defineProperty(first.appResponse, 'oidc', { value: "the app's", writable: true, configurable: true });
    const second = new http.ServerResponse(new http.IncomingMessage(new Socket())) as unknown as Response;
    Object.setPrototypeOf(second, first.appResponse);
    for (const [res, value] of [[first.res, 'first'], [second, 'second']] as const) {
      provideResponseOidc(res, contextMaking(value));
      expect(Object.hasOwn(res, 'oidc') && res.oidc).toBe(value);
    }
  });

  it("leaves someone else's accessor on Express's object in place and sets through it, as an assignment did", () => {
    const expressLike = Object.create(http.ServerResponse.prototype) as object;
    const given: unknown[] = [];
    const get = () => 'theirs';
    Object.defineProperty(expressLike, 'oidc', { get, set: (v: unknown) => void given.push(v), configurable: true });
    const { res } = responseOn(expressLike, contextMaking('unused'));
    provideResponseOidc(res, contextMaking('ours'));
    expect(Object.getOwnPropertyDescriptor(expressLike, 'oidc')!.get).toBe(get);
    expect(given).toEqual(['ours']);
    expect(res.oidc).toBe('theirs');
  });
});
