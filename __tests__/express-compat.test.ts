/**
 * Which Express the suite runs against. `npm run test:express4` (EXPRESS_MAJOR=4) maps `express` to the
 * `express4` dev dependency; the default run uses Express 5. The version is printed so CI output shows
 * that both ran, and a full login goes through the loaded Express.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type Express } from 'express';
import { parAuth, requiresAuth } from '../lib/index.js';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

const expectedMajor = process.env.EXPRESS_MAJOR === '4' ? 4 : 5;
const loadedVersion: string = createRequire(import.meta.url)('express/package.json').version;

let provider: TestProvider;
let app: TestApp;

function mount(a: Express, baseURL: string) {
  a.use(parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET }));
  a.get('/me', requiresAuth(), (req, res) => {
    res.json({ sub: req.oidc.user?.sub, authenticated: req.oidc.isAuthenticated() });
  });
}

beforeAll(async () => {
  process.stdout.write(`express-compat: running against Express ${loadedVersion} (EXPRESS_MAJOR=${process.env.EXPRESS_MAJOR ?? 'unset'})\n`);
  app = await startApp(mount);
  provider = await startProvider({ redirectUris: [`${app.url}/callback`], postLogoutRedirectUris: [`${app.url}/`] });
});
afterAll(async () => {
  await app?.close();
  await provider?.close();
});

describe(`the suite runs against Express ${expectedMajor}`, () => {
  it(`loads Express ${expectedMajor}.x as "express"`, () => {
    expect(Number(loadedVersion.split('.')[0])).toBe(expectedMajor);
  });

  it('loads an Express whose API matches that major', () => {
    // Express 5 removed app.del() and res.sendfile(); Express 4 still has both.
    const legacy = typeof (express.application as unknown as Record<string, unknown>).del === 'function';
    expect(legacy).toBe(expectedMajor === 4);
  });

  it('works with either major because the library imports only types from express', () => {
    const lib = join(dirname(fileURLToPath(import.meta.url)), '../lib');
    const runtimeImports = readdirSync(lib)
      .filter((name) => name.endsWith('.ts'))
      .flatMap((name) => readFileSync(join(lib, name), 'utf8').split('\n').map((line) => ({ name, line })))
      .filter(({ line }) => /^\s*import\s(?!type\s).*from\s+'express'/.test(line) || /require\('express'\)|import\('express'\)/.test(line));
    expect(runtimeImports).toEqual([]);
  });

  it('signs a user in and guards a route with the loaded Express', async () => {
    const browser = new TestBrowser();
    const guarded = await browser.get(`${app.url}/me`);
    expect(guarded.status).toBe(302);
    expect(guarded.location).toBe(`${app.url}/login?returnTo=${encodeURIComponent('/me')}`);
    const start = await browser.get(guarded.location!);
    const callbackUrl = await completeProviderLogin(browser, start.location!);
    const callback = await browser.get(callbackUrl);
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/me`);
    const me = await browser.get(`${app.url}/me`);
    expect(JSON.parse(me.body)).toEqual({ sub: 'alice', authenticated: true });
  });

  it('passes a forged callback to the Express error handler with a 4xx status', async () => {
    const browser = new TestBrowser();
    const res = await browser.get(`${app.url}/callback?state=forged&code=forged&iss=${encodeURIComponent(provider.issuer)}`);
    expect(res.status).toBe(400);
    expect(app.errors.at(-1)?.code).toBe('state_mismatch');
  });
});
