/**
 * auth()'s options (issue #26): express-openid-connect's names, defaults and environment variables, mapped
 * onto express-par's configuration; the defaults where EOC differs from parAuth() (authRequired,
 * idpLogout, clockTolerance) each pinned; what cannot apply refused or taken with a warning said once.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { createRequire } from 'node:module';
import session from 'express-session';
import { auth } from '../lib/index.js';
import { resolveConfig } from '../lib/config/resolve.js';
import { resolveEocConfig, urlJoin, type EocConfig } from '../lib/eoc/config.js';
import { expressSessionOptions } from '../lib/eoc/session.js';
import { MemoryStore } from '../lib/eoc/memory-store.js';
import type { ConfigParams } from '../lib/eoc/types.js';
import { generateKeyPairSync } from './helpers/keys.js';

const ENV = {
  ISSUER_BASE_URL: 'https://tenant.example.com',
  BASE_URL: 'https://app.example.com',
  CLIENT_ID: 'env-client',
  CLIENT_SECRET: 'env-client-secret',
  SECRET: 'LONG_RANDOM_VALUE',
};
const resolve = (config: ConfigParams = {}, env: NodeJS.ProcessEnv = ENV): EocConfig => resolveEocConfig(config, env);
const message = (config: ConfigParams, env: NodeJS.ProcessEnv = ENV): string => {
  try {
    resolve(config, env);
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).message;
  }
  throw new Error('no error');
};

afterEach(() => {
  jest.restoreAllMocks();
});

describe('auth() reads its configuration as express-openid-connect does', () => {
  it('is configured from ISSUER_BASE_URL, BASE_URL, CLIENT_ID, CLIENT_SECRET and SECRET alone', () => {
    const { resolved, session: s } = resolve();
    expect(resolved).toMatchObject({ issuer: 'https://tenant.example.com', clientID: 'env-client', clientSecret: 'env-client-secret' });
    expect(resolved.baseURL.href).toBe('https://app.example.com/');
    expect(resolved.clientAuthMethod).toBe('client_secret_basic');
    expect(s.secret).toEqual(['LONG_RANDOM_VALUE']);
  });

  it('lets an option given in code win over the environment, an explicit undefined too', () => {
    const { resolved } = resolve({ clientID: 'code-client', clientSecret: undefined });
    expect(resolved.clientID).toBe('code-client');
    expect(resolved.clientSecret).toBeUndefined();
    expect(resolved.clientAuthMethod).toBe('none');
  });

  it.each([
    ['secret', 'SECRET'], ['issuerBaseURL', 'ISSUER_BASE_URL'], ['baseURL', 'BASE_URL'], ['clientID', 'CLIENT_ID'],
  ])('names %s and its environment variable when neither is given', (option, variable) => {
    expect(message({}, { ...ENV, [variable]: undefined })).toBe(`"${option}" is required (or the ${variable} environment variable)`);
  });

  it('takes auth() with no argument at all (process.env)', () => {
    const saved = { ...process.env };
    Object.assign(process.env, ENV);
    try {
      expect(typeof auth()).toBe('function');
    } finally {
      for (const key of Object.keys(ENV)) if (saved[key] === undefined) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});

describe('the defaults where express-openid-connect differs from parAuth()', () => {
  it('protects every route: authRequired is true unless set to false (the silent risk of moving to parAuth())', () => {
    expect(resolve().authRequired).toBe(true);
    expect(resolve({ authRequired: false }).authRequired).toBe(false);
  });

  it('logs out locally only: idpLogout false (auth0Logout or idpLogout true end the provider session too)', () => {
    expect(resolve().resolved.rpInitiatedLogout).toBe(false);
    expect(resolve({ idpLogout: true }).resolved.rpInitiatedLogout).toBeUndefined();
    expect(resolve({ auth0Logout: true }).resolved.rpInitiatedLogout).toBeUndefined();
    expect(resolveConfig({ issuerBaseURL: ENV.ISSUER_BASE_URL, baseURL: ENV.BASE_URL, clientID: 'c' }).rpInitiatedLogout).toBeUndefined();
  });

  it('allows 60 s of clock skew (parAuth(): 30 s)', () => {
    expect(resolve().resolved.clockTolerance).toBe(60);
    expect(resolve({ clockTolerance: 5 }).resolved.clockTolerance).toBe(5);
    expect(resolveConfig({ issuerBaseURL: ENV.ISSUER_BASE_URL, baseURL: ENV.BASE_URL, clientID: 'c' }).clockTolerance).toBe(30);
  });

  it('starts the login where a page needs one (also with routes.login: false); errorOnRequiredAuth answers 401', () => {
    expect(resolve().resolved.onRequiredAuth).toBe('login');
    expect(resolve({ errorOnRequiredAuth: true }).resolved.onRequiredAuth).toBe('error');
  });

  it('filters the protocol claims out of req.oidc.user, or those of identityClaimFilter', () => {
    expect(resolve().identityClaimFilter).toEqual(['aud', 'iss', 'iat', 'exp', 'nbf', 'nonce', 'azp', 'auth_time', 's_hash', 'at_hash', 'c_hash']);
    expect(resolve({ identityClaimFilter: ['email'] }).identityClaimFilter).toEqual(['email']);
    expect(message({ identityClaimFilter: 'email' as never })).toBe('"identityClaimFilter" must be an array of claim names');
  });

  it('returns to baseURL after logout, joined as EOC joins it (no slash added), or to an absolute URL', () => {
    expect(resolve().resolved.postLogoutRedirectUri).toBe('https://app.example.com');
    expect(resolve({}, { ...ENV, BASE_URL: 'https://app.example.com/' }).resolved.postLogoutRedirectUri).toBe('https://app.example.com');
    expect(resolve({ routes: { postLogoutRedirect: '/custom-logout' } }).resolved.postLogoutRedirectUri).toBe('https://app.example.com/custom-logout');
    const absolute = 'https://www.example.com/bye?x=1';
    expect(resolve({ routes: { postLogoutRedirect: absolute } }).resolved.postLogoutRedirectUri).toBe(absolute);
    expect(message({ routes: { postLogoutRedirect: 'http://www.example.com/' } })).toMatch(/^"routes.postLogoutRedirect" must use https:/);
    expect(urlJoin('http://a/app', '/')).toBe('http://a/app/');
  });
});

describe('authorizationParams as express-openid-connect apps write them', () => {
  it('takes response_type code without a word', () => {
    const { resolved, warnings } = resolve({ authorizationParams: { response_type: 'code', audience: 'https://api' } });
    expect(Object.fromEntries(resolved.authorizationParams)).toEqual({ audience: 'https://api', scope: 'openid profile email' });
    expect(warnings).toEqual([]);
  });

  it.each(['id_token', 'code id_token'])('serves response_type %s by the code flow, and says so', (type) => {
    const { resolved, warnings } = resolve({ authorizationParams: { response_type: type, response_mode: 'form_post' } });
    expect(resolved.authorizationParams.has('response_type')).toBe(false);
    expect(resolved.authorizationParams.has('response_mode')).toBe(false);
    expect(warnings).toEqual([
      expect.stringMatching(new RegExp(`^authorizationParams.response_type "${type}" is served by the code flow: the ID token comes from the token endpoint`)),
      'authorizationParams.response_mode "form_post" is answered with "query": the callback is a GET',
    ]);
  });

  it('refuses what EOC refuses, naming it', () => {
    expect(message({ authorizationParams: { response_type: 'token' } }))
      .toBe('"authorizationParams.response_type" must be one of [id_token, code id_token, code]');
    expect(message({ authorizationParams: { response_mode: 'fragment' } })).toBe('"authorizationParams.response_mode" must be "query" or "form_post"');
    expect(message({ authorizationParams: { scope: 'profile' } })).toBe('"authorizationParams.scope" must include "openid"');
  });

  it('makes authorizationParams.redirect_uri the redirect_uri of every login and of the callback', () => {
    expect(resolve({ authorizationParams: { redirect_uri: 'https://app.example.com/cb' } }).resolved.redirectUri).toBe('https://app.example.com/cb');
    expect(resolve().resolved.redirectUri).toBe('https://app.example.com/callback');
    expect(message({ authorizationParams: { redirect_uri: '/cb' } })).toMatch(/^"authorizationParams.redirect_uri" must be an absolute URL/);
  });

  it('reads idTokenSigningAlg as the one algorithm accepted, and refuses none', () => {
    expect(resolve({ idTokenSigningAlg: 'rs256' }).resolved.idTokenSigningAlgs).toEqual(['RS256']);
    expect(resolve().resolved.idTokenSigningAlgs).toBeUndefined();
    expect(message({ idTokenSigningAlg: 'none' })).toBe('"idTokenSigningAlg" contains an invalid value');
  });

  it('takes a PEM Buffer as clientAssertionSigningKey (private_key_jwt), as EOC does', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    const { resolved } = resolve({ clientSecret: undefined, clientAssertionSigningKey: Buffer.from(pem) });
    expect([resolved.clientAuthMethod, resolved.clientAssertionAlg]).toEqual(['private_key_jwt', 'ES256']);
  });

  it('takes a config-level logoutParams and requestObjectSigningKeyId', () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const jar = { requestObjectSigningKey: pem, requestObjectSigningAlg: 'RS256', requestObjectSigningKeyId: 'jar-1' };
    const { resolved } = resolve({ logoutParams: { federated: '' }, ...jar });
    expect([...resolved.logoutParams!]).toEqual([['federated', '']]);
    expect(resolved.requestObjectKid).toBe('jar-1');
  });
});

describe('options that cannot apply', () => {
  it.each([
    [{ tokenEndpointParams: { audience: 'x' } }, /^"tokenEndpointParams" is not supported/],
    [{ customFetch: fetch }, /^"customFetch" is not supported/],
    [{ useMtls: true }, /^"useMtls" is not supported: give the client certificate as tls/],
    [{ authRequired: 'yes' as never }, /^"authRequired" must be a boolean/],
    [{ afterCallback: 'store' as never }, /^"afterCallback" must be a function/],
    [{ clientIdd: 'typo' } as never, /^"clientIdd" is not an auth\(\) option/],
    [{ routes: { home: '/' } } as never, /^"routes.home" is not a route/],
  ])('refuses %p with a TypeError naming it', (config, expected) => {
    expect(message(config as ConfigParams)).toMatch(expected);
  });

  it('takes httpAgent, httpUserAgent, discoveryCacheMaxAge and the back-channel hooks, and names them in warnings', () => {
    const { warnings } = resolve({
      httpAgent: {}, httpUserAgent: 'app/1', discoveryCacheMaxAge: 1000, backchannelLogout: { isLoggedOut: false, onLogin: false },
    } as ConfigParams);
    expect(warnings).toEqual([
      '"httpAgent" and "httpUserAgent" are ignored: express-par\'s HTTP client is fixed',
      '"discoveryCacheMaxAge" is ignored: the metadata is cached for an hour and refreshed in the background',
      expect.stringMatching(/^"backchannelLogout.isLoggedOut", "backchannelLogout.onLogin" ignored: express-par records logouts/),
    ]);
  });

  it('takes what it does anyway without a word: enableTelemetry, PAR, the transaction cookie settings', () => {
    const { warnings, resolved } = resolve({
      enableTelemetry: false, pushedAuthorizationRequests: true, legacySameSiteCookie: false, transactionCookie: { sameSite: 'Lax' },
      backchannelLogout: true, useMtls: false,
    });
    expect(warnings).toEqual([]);
    expect(resolved.backchannelLogout).toBeDefined();
    expect(resolved.routes.backchannelLogout).toBe('/backchannel-logout');
  });

  it('says each warning once, at start-up, through process.emitWarning', () => {
    const emit = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    auth({ ...envOptions(), authorizationParams: { response_type: 'id_token' }, httpUserAgent: 'x' });
    expect(emit.mock.calls.map(([text]) => String(text))).toEqual([
      expect.stringMatching(/^auth\(\): "httpAgent" and "httpUserAgent" are ignored/),
      expect.stringMatching(/^auth\(\): authorizationParams.response_type "id_token" is served by the code flow/),
    ]);
  });

  it('warns under NODE_ENV=production that sessions are in memory when no session.store is given', () => {
    const emit = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      auth(envOptions());
      auth({ ...envOptions(), session: { store: new MemoryStore({ ttlMs: 1000 }) } });
    } finally {
      process.env.NODE_ENV = saved;
    }
    expect(emit.mock.calls.map(([text]) => String(text))).toEqual([
      'auth(): sessions are kept in this process\'s memory: give session.store (e.g. connect-redis) in production',
    ]);
  });
});

function envOptions(): ConfigParams {
  return { issuerBaseURL: ENV.ISSUER_BASE_URL, baseURL: ENV.BASE_URL, clientID: ENV.CLIENT_ID, clientSecret: ENV.CLIENT_SECRET, secret: ENV.SECRET };
}

describe('the session, mapped onto express-session', () => {
  it('has EOC\'s defaults: cookie appSession, rolling one day, Lax, httpOnly, Secure on an https baseURL', () => {
    const options = expressSessionOptions(resolve().session);
    expect(options).toMatchObject({
      name: 'appSession', secret: ['LONG_RANDOM_VALUE'], resave: false, saveUninitialized: false, rolling: true, proxy: true,
      cookie: { httpOnly: true, secure: true, sameSite: 'lax', maxAge: 86_400_000 },
    });
    expect(options.store).toBeInstanceOf(session.Store);
    expect(resolve().session.absoluteDuration).toBe(604800);
  });

  it('maps name, durations, cookie attributes, a transient cookie and the store', () => {
    const store = new MemoryStore({ ttlMs: 1000 });
    const eoc = resolve({
      secret: ['new-secret-value', 'old-secret-value'],
      session: {
        name: 'sid', rolling: false, rollingDuration: false as never, absoluteDuration: 3600, store,
        cookie: { domain: 'example.com', path: '/app', sameSite: 'Strict' },
      },
    }).session;
    const options = expressSessionOptions(eoc);
    expect(options).toMatchObject({ name: 'sid', secret: ['new-secret-value', 'old-secret-value'], rolling: false, store });
    expect(options.cookie).toEqual({ domain: 'example.com', path: '/app', httpOnly: true, secure: true, sameSite: 'strict', maxAge: 3_600_000 });
    expect(expressSessionOptions(resolve({ session: { cookie: { transient: true } } }).session).cookie).not.toHaveProperty('maxAge');
    expect(expressSessionOptions(resolve({ session: { rolling: false } }).session).cookie).toMatchObject({ maxAge: 604_800_000 });
  });

  it('hands session.genid to express-session, refusing an id it cannot use (a promise) with a TypeError', () => {
    const req = {} as never;
    expect(expressSessionOptions(resolve({ session: { genid: () => 'id-from-the-app' } }).session).genid!(req)).toBe('id-from-the-app');
    const async = expressSessionOptions(resolve({ session: { genid: async () => 'late' } }).session).genid!;
    expect(() => async(req)).toThrow(new TypeError('"session.genid" must return a non-empty string, synchronously (express-session calls it)'));
  });

  it.each([
    [{ secret: 'short' }, /^"secret" must be a string of at least 8 characters/],
    [{ session: { name: 'my session!' } }, /^"session.name" must be letters/],
    [{ session: { rolling: false, rollingDuration: 100 } }, /^"session.rollingDuration" must be false when/],
    [{ session: { rolling: false, rollingDuration: false as never, absoluteDuration: false } }, /^"session.absoluteDuration" must be a number/],
    [{ session: { cookie: { sameSite: 'lenient' } } }, /^"session.cookie.sameSite" must be "Lax", "Strict" or "None"/],
    [{ session: { store: {} as never } }, /^"session.store" must be an express-session store/],
    [{ session: { cookie: { secure: true } } }, /^"session.cookie.secure": a Secure cookie is never sent over http/],
  ])('refuses %p, naming the option', (config, expected) => {
    expect(message(config as ConfigParams, { ...ENV, BASE_URL: 'http://localhost:3000' })).toMatch(expected);
  });

  it('gives auth.Store = express-session\'s Store, so require("memorystore")(auth) makes a store express-session takes', () => {
    expect(auth.Store).toBe(session.Store);
    const memorystore = createRequire(import.meta.url)('memorystore') as (s: unknown) => new (o?: object) => session.Store;
    const MemoryStoreOfAuth = memorystore(auth);
    const store = new MemoryStoreOfAuth({ checkPeriod: 24 * 60 * 1000 });
    expect(store).toBeInstanceOf(session.Store);
    expect(resolve({ session: { store } }).session.store).toBe(store);
    (store as unknown as { stopInterval(): void }).stopInterval();
  });
});

describe('the default memory store', () => {
  it('forgets a session once its cookie expires, and one without expiry ttlMs after its last write', async () => {
    const store = new MemoryStore({ ttlMs: 50 });
    const get = (sid: string) => new Promise((resolve) => store.get(sid, (_err, data) => resolve(data)));
    const now = Date.now();
    const spy = jest.spyOn(Date, 'now');
    spy.mockReturnValue(now);
    store.set('a', { cookie: { expires: new Date(now + 1000) } } as never);
    store.set('b', { cookie: {} } as never);
    expect(await get('a')).toMatchObject({ cookie: {} });
    spy.mockReturnValue(now + 100);
    expect([await get('a'), await get('b')]).toEqual([{ cookie: { expires: new Date(now + 1000).toISOString() } }, null]);
    spy.mockReturnValue(now + 2000);
    expect(await get('a')).toBeNull();
    store.set('c', { cookie: {} } as never);
    store.destroy('c');
    expect(await get('c')).toBeNull();
  });
});
