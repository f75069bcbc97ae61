/**
 * Rich authorization requests (RFC 9396; issue #27 part 2) against oidc-provider with its
 * `richAuthorizationRequests` feature (a `payment_initiation` type; details need a resource indicator, so
 * resource indicators are on with a default resource): `authorization_details` configured, per login
 * (`res.oidc.login()`), per Passport request and inside a signed request object (JAR) are pushed as JSON,
 * consented to, granted, and read back as `req.oidc.authorizationDetails` (or the verify callback's
 * `tokens.authorization_details`); a refresh keeps them. Bad values are a `TypeError` naming the option.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Express } from 'express';
import { decodeJwt, type JWK } from 'jose';
import { Passport } from 'passport';
import { parAuth, type AuthorizationDetail } from '../lib/index.js';
import { ParStrategy, type ParTokenSet } from '../lib/passport.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { generateKeyPairSync } from './helpers/keys.js';
import { serveClientJwks, startProvider, TEST_CLIENT_SECRET, testClient, type ClientJwksServer, type TestProvider } from './helpers/provider.js';

const PAYMENTS = 'https://payments.example.com/';
const pay = (amount: string): AuthorizationDetail => ({
  type: 'payment_initiation', locations: [PAYMENTS], instructedAmount: { currency: 'EUR', amount }, creditorName: 'Merchant A',
});
const jarKey: KeyObject = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

let provider: TestProvider;
let jwks: ClientJwksServer;
const apps = {} as Record<'configured' | 'jar' | 'passport', TestApp>;
const verified: ParTokenSet[] = [];

function mountParAuth(clientID: string, extra: Record<string, unknown>) {
  return (a: Express, baseURL: string) => {
    a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID, clientSecret: TEST_CLIENT_SECRET, ...extra }));
    a.get('/details', (req, res) => {
      res.json({ authenticated: req.oidc.isAuthenticated(), details: req.oidc.authorizationDetails ?? null });
    });
    a.get('/pay', (req, res, next) => {
      const details = req.query.details === undefined ? [pay(String(req.query.amount))] : JSON.parse(String(req.query.details));
      res.oidc.login({ returnTo: '/details', authorizationParams: { authorization_details: details } }).catch(next);
    });
    a.post('/refresh', (req, res, next) => {
      req.oidc.refresh().then(() => res.json({ ok: true }), next);
    });
  };
}

function mountPassport(a: Express, baseURL: string) {
  const passport = new Passport();
  passport.use(new ParStrategy({ issuerBaseURL: provider.issuer, baseURL, clientID: 'passport-client', clientSecret: TEST_CLIENT_SECRET, callbackPath: '/auth/callback' },
    (tokens, claims, done) => {
      verified.push(tokens);
      done(null, { id: claims.sub });
    }));
  passport.serializeUser((user, done) => done(null, JSON.stringify(user)));
  passport.deserializeUser((raw: string, done) => done(null, JSON.parse(raw)));
  a.use(passport.initialize());
  a.use(passport.session());
  a.get('/auth/pay', (req, res, next) => {
    const details = req.query.details === undefined ? [pay('9.99')] : JSON.parse(String(req.query.details));
    passport.authenticate('par', { authorizationParams: { authorization_details: details } })(req, res, next);
  });
  a.get('/auth/callback', passport.authenticate('par', { failureRedirect: '/failed' }), (_req, res) => {
    res.redirect('/');
  });
}

beforeAll(async () => {
  jwks = await serveClientJwks({ jar: { keys: [{ ...(createPublicKey(jarKey).export({ format: 'jwk' }) as JWK), kid: 'jar-ec' }] } });
  apps.configured = await startApp(mountParAuth('rar-client', {
    authorizationParams: { scope: 'openid offline_access', prompt: 'consent', authorization_details: [pay('123.50')] },
  }));
  apps.jar = await startApp(mountParAuth('jar-client', {
    authorizationParams: { scope: 'openid', authorization_details: [pay('42.00')] },
    requestObjectSigningKey: { ...(jarKey.export({ format: 'jwk' }) as JWK), kid: 'jar-ec' },
  }));
  apps.passport = await startApp(mountPassport);
  const rar = { authorization_details_types: ['payment_initiation'] };
  provider = await startProvider({
    clients: [
      testClient('rar-client', [`${apps.configured.url}/callback`], [], rar),
      testClient('jar-client', [`${apps.jar.url}/callback`], [], { ...rar, jwks_uri: `${jwks.url}/jar`, request_object_signing_alg: 'ES256', require_signed_request_object: true }),
      testClient('passport-client', [`${apps.passport.url}/auth/callback`], [], rar),
    ],
    configure: (config) => {
      config.features.requestObjects = { enabled: true };
      config.features.resourceIndicators = {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string | string[]) => oneOf ?? PAYMENTS,
        useGrantedResource: async () => false,
        getResourceServerInfo: async () => ({ scope: 'payments', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      };
      config.features.richAuthorizationRequests = {
        enabled: true,
        types: {
          payment_initiation: {
            validate(_ctx: unknown, detail: { instructedAmount?: { amount?: unknown } }) {
              if (typeof detail.instructedAmount?.amount !== 'string') throw new TypeError('instructedAmount.amount is required');
            },
          },
        },
        // The server's policy here: what the user consented to is what the code and its tokens carry.
        authorizationDetailsForGrantSource: async (ctx: { oidc: { grant: { rar?: unknown[] } } }) => ctx.oidc.grant.rar,
        authorizationDetailsForAccessToken: async (_ctx: unknown, _token: unknown, source: { rar?: unknown[] }) => source.rar,
        authorizationDetailsForIntrospection: async (_ctx: unknown, token: { rar?: unknown[] }) => token.rar,
      };
    },
  });
});
afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.close()));
  await provider.close();
  await jwks.close();
});

async function login(browser: TestBrowser, start: string) {
  const begin = await browser.get(start);
  expect({ status: begin.status, body: begin.status === 302 ? '' : begin.body }).toEqual({ status: 302, body: '' });
  const callback = await browser.get(await completeProviderLogin(browser, begin.location!));
  expect({ status: callback.status, body: callback.status === 302 ? '' : callback.body }).toEqual({ status: 302, body: '' });
  return callback;
}

async function details(browser: TestBrowser, app: TestApp) {
  return JSON.parse((await browser.get(`${app.url}/details`)).body) as { authenticated: boolean; details: AuthorizationDetail[] | null };
}

describe('authorization_details against oidc-provider\'s richAuthorizationRequests', () => {
  it('configured: pushed as JSON, consented, granted, and read as req.oidc.authorizationDetails; a refresh keeps them', async () => {
    const browser = new TestBrowser();
    await login(browser, `${apps.configured.url}/login`);
    const pushed = provider.pushedRequests.at(-1)!;
    expect(typeof pushed.authorization_details).toBe('string');
    expect(JSON.parse(pushed.authorization_details as string)).toEqual([pay('123.50')]);
    expect(await details(browser, apps.configured)).toEqual({ authenticated: true, details: [pay('123.50')] });
    expect((await browser.post(`${apps.configured.url}/refresh`, {})).status).toBe(200);
    expect((await details(browser, apps.configured)).details).toEqual([pay('123.50')]);
  });

  it('per login: res.oidc.login({ authorizationParams: { authorization_details } }) replaces the configured ones', async () => {
    const browser = new TestBrowser();
    const back = await login(browser, `${apps.configured.url}/pay?amount=7.25`);
    expect(back.location).toBe(`${apps.configured.url}/details`);
    expect(JSON.parse(provider.pushedRequests.at(-1)!.authorization_details as string)).toEqual([pay('7.25')]);
    expect((await details(browser, apps.configured)).details).toEqual([pay('7.25')]);
  });

  it('with JAR: signed into the request object as a JSON array, and granted', async () => {
    const browser = new TestBrowser();
    await login(browser, `${apps.jar.url}/login`);
    const pushed = provider.pushedRequests.at(-1)!;
    expect(pushed.authorization_details).toBeUndefined(); // only client_id and request travel outside
    expect(decodeJwt(pushed.request as string).authorization_details).toEqual([pay('42.00')]);
    expect((await details(browser, apps.jar)).details).toEqual([pay('42.00')]);
  });

  it('Passport: authorization_details per request, granted in the verify callback\'s tokens', async () => {
    const browser = new TestBrowser();
    await login(browser, `${apps.passport.url}/auth/pay`);
    expect(JSON.parse(provider.pushedRequests.at(-1)!.authorization_details as string)).toEqual([pay('9.99')]);
    expect(verified.at(-1)!.authorization_details).toEqual([pay('9.99')]);
  });
});

describe('authorization_details that are not RFC 9396 §2 objects are a TypeError naming the option', () => {
  const bad: Array<[string, unknown]> = [
    ['an empty array', []],
    ['an object, not an array', { type: 'payment_initiation' }],
    ['a JSON string', JSON.stringify([pay('1.00')])],
    ['an entry without a type', [{ actions: ['pay'] }]],
    ['an entry with an empty type', [{ type: '' }]],
    ['an entry whose locations are not strings', [{ type: 'payment_initiation', locations: [PAYMENTS, 1] }]],
  ];

  it.each(bad)('configured: %s', (_what, value) => {
    const config = { issuerBaseURL: 'https://op.example.com', baseURL: 'https://app.example.com', clientID: 'c', clientSecret: 's' };
    expect(() => parAuth({ ...config, authorizationParams: { authorization_details: value as AuthorizationDetail[] } }))
      .toThrow(new RegExp('^"authorizationParams\\.authorization_details" must be a non-empty array of objects, each with a string "type"'));
  });

  it.each(bad)('per login (res.oidc.login) and per Passport request: %s, and nothing is pushed', async (_what, value) => {
    const browser = new TestBrowser();
    const pushed = provider.pushedRequests.length;
    for (const [app, path] of [[apps.configured, '/pay'], [apps.passport, '/auth/pay']] as const) {
      const res = await browser.get(`${app.url}${path}?details=${encodeURIComponent(JSON.stringify(value))}`);
      expect(res.status).toBe(500);
      expect(app.errors.at(-1)?.message).toMatch(/^"authorizationParams\.authorization_details" must be a non-empty array of objects/);
    }
    expect(provider.pushedRequests.length).toBe(pushed);
  });
});
