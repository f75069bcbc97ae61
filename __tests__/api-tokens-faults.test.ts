/**
 * Tokens for several APIs and rich authorization requests against our purpose-built server, for what
 * oidc-provider cannot do (issue #27): Auth0's `audience` parameter, an access token for another audience
 * than the one asked (Auth0's default audience), opaque API tokens, and `authorization_details` the login
 * did not ask for, at the callback and at a refresh. Every refusal has its documented code, leaves the
 * session as documented, and quotes nothing secret.
 */
import './helpers/capture-logs.js';
import { describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { decodeJwt } from 'jose';
import type { AuthorizationDetail } from '../lib/index.js';
import { TestBrowser } from './helpers/browser.js';
import type { FaultyServer } from './helpers/faulty-server.js';
import {
  attemptLogin, expectFailure, expectNothingSecret, hostileLogin, startHostileApp, useFaultyServer, whoami, type HostileApp,
} from './helpers/hostile.js';

let server: FaultyServer;
useFaultyServer((s) => {
  server = s;
});

const BILLING = 'https://billing.example.com';
const PAYMENT: AuthorizationDetail = { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '123.50' }, creditorName: 'Merchant A' };

function routes(a: Express): void {
  a.get('/api-token', (req, res, next) => {
    req.oidc.getAccessToken(JSON.parse(String(req.query.opts))).then((accessToken) => res.json({ accessToken }), next);
  });
  a.get('/details', (req, res) => {
    res.json({ authenticated: req.oidc.isAuthenticated(), details: req.oidc.authorizationDetails ?? null, refreshToken: req.oidc.refreshToken });
  });
  a.post('/refresh', (req, res, next) => {
    req.oidc.refresh().then(() => res.json({ ok: true }), next);
  });
  a.get('/token', (req, res, next) => {
    req.oidc.getAccessToken({ minTtl: 10 * 24 * 3600 }).then((accessToken) => res.json({ accessToken }), next);
  });
}

async function loggedIn(options: Parameters<typeof startHostileApp>[1] = {}) {
  const app = await startHostileApp(server, options, routes);
  const browser = new TestBrowser();
  const run = await attemptLogin(server, browser, app);
  expect(run.final.status).toBe(302);
  return { app, browser };
}

async function apiToken(app: HostileApp, browser: TestBrowser, opts: Record<string, unknown>) {
  const res = await browser.get(`${app.url}/api-token?opts=${encodeURIComponent(JSON.stringify(opts))}`);
  return { status: res.status, body: JSON.parse(res.body) as { accessToken?: string; code?: string }, raw: res.body };
}

async function details(app: HostileApp, browser: TestBrowser) {
  return JSON.parse((await browser.get(`${app.url}/details`)).body) as { authenticated: boolean; details: AuthorizationDetail[] | null; refreshToken?: string };
}

const refreshes = () => server.requestsTo('/token').filter((r) => r.body.grant_type === 'refresh_token');

describe('API tokens: Auth0\'s audience, and answers for another audience', () => {
  it('asks with audience and scope, and keeps the JWT whose aud is that audience (parallel calls: one refresh)', async () => {
    const { app, browser } = await loggedIn();
    const answers = await Promise.all(Array.from({ length: 5 }, () => apiToken(app, browser, { audience: BILLING, scope: 'read:invoices' })));
    expect(answers.map((a) => a.status)).toEqual(Array(5).fill(200));
    expect(new Set(answers.map((a) => a.body.accessToken)).size).toBe(1);
    expect(decodeJwt(answers[0]!.body.accessToken!)).toMatchObject({ aud: BILLING, scope: 'read:invoices' });
    expect(refreshes().map((r) => ({ audience: r.body.audience, scope: r.body.scope, resource: r.body.resource })))
      .toEqual([{ audience: BILLING, scope: 'read:invoices', resource: undefined }]);
  });

  it('refuses a JWT for another audience with 502 access_token_audience_mismatch, keeping the refresh token it rotated in', async () => {
    const { app, browser } = await loggedIn();
    const before = await details(app, browser);
    server.apiAudience = 'https://default-api.example.com'; // Auth0: the refresh-token policy lacks the audience asked
    const refused = await apiToken(app, browser, { audience: BILLING });
    expect(refused.status).toBe(502);
    expect(refused.body.code).toBe('access_token_audience_mismatch');
    const error = app.captured.at(-1)!;
    expect(error).toMatchObject({ code: 'access_token_audience_mismatch', status: 502 });
    expect(error.message).toContain(BILLING);
    expectNothingSecret(error, server, { body: refused.raw });
    const after = await details(app, browser);
    expect(after.authenticated).toBe(true);
    expect(after.refreshToken).not.toBe(before.refreshToken); // the server rotated it (and spent the old one): kept
    // The kept refresh token is the live one: the login's own refresh and a later API refresh succeed.
    expect((await browser.post(`${app.url}/refresh`, {})).status).toBe(200);
    delete server.apiAudience;
    expect((await apiToken(app, browser, { audience: BILLING })).status).toBe(200);
  });

  it('with several resources, every one must be in aud', async () => {
    const { app, browser } = await loggedIn();
    const resource = ['https://a.example.com/', 'https://b.example.com/'];
    server.apiAudience = ['https://a.example.com/'];
    expect((await apiToken(app, browser, { resource })).body.code).toBe('access_token_audience_mismatch');
    expect(refreshes().at(-1)!.body.resource).toEqual(resource); // RFC 8707 §2: repeated
    server.apiAudience = [...resource, 'https://c.example.com/'];
    expect((await apiToken(app, browser, { resource })).status).toBe(200);
  });

  it('takes an opaque API token as it is (it cannot be checked)', async () => {
    const { app, browser } = await loggedIn();
    server.apiAudience = 'opaque';
    const own = (await browser.get(`${app.url}/token`)).body;
    const answer = await apiToken(app, browser, { audience: BILLING });
    expect(answer.status).toBe(200);
    expect(answer.body.accessToken!.split('.')).toHaveLength(1);
    expect(own).not.toContain(answer.body.accessToken!); // the API's token, not the login's
    expect(refreshes().at(-1)!.body.audience).toBe(BILLING);
  });
});

describe('authorization_details (RFC 9396) at the callback', () => {
  const asked = { scope: 'openid offline_access', authorization_details: [PAYMENT] };

  it('stores what the server granted and reads it as req.oidc.authorizationDetails', async () => {
    const { app, browser } = await loggedIn({ authorizationParams: asked });
    expect(JSON.parse(server.requestsTo('/par').at(-1)!.body.authorization_details as string)).toEqual([PAYMENT]);
    expect(await details(app, browser)).toMatchObject({ authenticated: true, details: [PAYMENT] });
    // A login without them reads undefined.
    const plain = await loggedIn();
    expect((await details(plain.app, plain.browser)).details).toBeNull();
  });

  it.each([
    ['an entry of a type not asked for', asked, [{ type: 'account_information', actions: ['read'] }]],
    ['entries when none were asked for', { scope: 'openid' }, [PAYMENT]],
    ['a value that is not an array', asked, { type: 'payment_initiation' }],
    ['an entry without a type', asked, [{ actions: ['pay'] }]],
    ['an entry whose actions are not strings', asked, [{ type: 'payment_initiation', actions: [1] }]],
    ['more than 16 KiB of them (the session keeps them)', asked, [{ ...PAYMENT, remittanceInformationUnstructured: 'x'.repeat(16 * 1024) }]],
  ])('refuses %s: 502 authorization_details_invalid, and the earlier login ends', async (_what, authorizationParams, granted) => {
    const app = await startHostileApp(server, { authorizationParams }, routes);
    const run = await hostileLogin(server, { app, preLogin: true, faults: { token: { merge: { authorization_details: granted } } } });
    expectFailure(run, server, 'callback', 502, 'authorization_details_invalid');
  });

  it('takes an empty array as none granted', async () => {
    const app = await startHostileApp(server, { authorizationParams: asked }, routes);
    server.fault.token = { merge: { authorization_details: [] } };
    const browser = new TestBrowser();
    expect((await attemptLogin(server, browser, app)).final.status).toBe(302);
    expect(await details(app, browser)).toMatchObject({ authenticated: true, details: null });
  });
});

describe('authorization_details at a refresh', () => {
  const asked = { scope: 'openid offline_access', authorization_details: [PAYMENT] };

  it('keeps them when the response has none, replaces them when it has them', async () => {
    const { app, browser } = await loggedIn({ authorizationParams: asked });
    server.fault.token = { omit: ['authorization_details'], times: 1 };
    expect((await browser.post(`${app.url}/refresh`, {})).status).toBe(200);
    expect((await details(app, browser)).details).toEqual([PAYMENT]);
    const refined = [{ ...PAYMENT, identifier: 'payment-42' }];
    server.fault.token = { merge: { authorization_details: refined }, times: 1 };
    expect((await browser.post(`${app.url}/refresh`, {})).status).toBe(200);
    expect((await details(app, browser)).details).toEqual(refined);
  });

  it('refuses a type not asked for with 502 authorization_details_invalid, and the login ends', async () => {
    const { app, browser } = await loggedIn({ authorizationParams: asked });
    server.fault.token = { merge: { authorization_details: [{ type: 'account_information' }] }, times: 1 };
    const res = await browser.get(`${app.url}/token`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'authorization_details_invalid' });
    expectNothingSecret(app.captured.at(-1)!, server, { body: res.body });
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });

  it('refuses one in an API token\'s answer too', async () => {
    const { app, browser } = await loggedIn({ authorizationParams: asked });
    server.fault.token = { merge: { authorization_details: [{ type: 'account_information' }] }, times: 1 };
    expect((await apiToken(app, browser, { audience: BILLING })).body.code).toBe('authorization_details_invalid');
    expect((await whoami(app, browser)).authenticated).toBe(false);
  });
});
