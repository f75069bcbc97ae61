/**
 * End to end in a real browser: the demo app (demo-app/app.mjs, running the TypeScript sources) with its
 * embedded oidc-provider, driven by headless Chromium through playwright-core. Needs the Debian
 * `chromium` package at /usr/bin/chromium (playwright never downloads a browser here).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDemo, type Demo } from '../demo-app/app.mjs';
import { startEmbeddedProvider, type RunningEmbeddedProvider } from '../demo-app/embedded-provider.mjs';
import * as lib from '../lib/index.js';
import * as passportLib from '../lib/passport.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = 'test-output/e2e';
const JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

let browser: Browser;

beforeAll(async () => {
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  } catch (err) {
    throw new Error(`Chromium did not start from ${CHROMIUM} (Debian: apt-get install -y chromium; or set CHROMIUM_PATH): ${(err as Error).message}`, { cause: err });
  }
  await mkdir(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** Fills the embedded provider's development login form, then its consent form, and waits to be back at the app. */
async function signInAtProvider(page: Page, appUrl: string, issuer: string, user: string): Promise<void> {
  await page.waitForURL((url) => url.origin === issuer);
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', 'any password works');
  await page.click('button[type="submit"]');
  // Then either the consent form or, when the provider skips it, straight back to the app.
  const consent = page.getByRole('button', { name: 'Continue' });
  const backAtApp = (url: URL) => url.href.startsWith(appUrl);
  await Promise.race([page.waitForURL(backAtApp), consent.waitFor()]);
  if (!page.url().startsWith(appUrl)) {
    await consent.click();
    await page.waitForURL(backAtApp);
  }
}

describe.each(['express', 'passport'] as const)('the demo app in %s mode', (mode) => {
  let demo: Demo;

  beforeAll(async () => {
    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await demo?.close();
  });

  it('signs a user in through PAR, shows what PAR did without raw tokens, and signs them out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(demo.url);
      await expect(page.locator('h1').textContent()).resolves.toBe('You are signed out');

      const authorizationRequest = page.waitForRequest((request) => new URL(request.url()).origin === demo.issuer);
      await page.locator('main').getByRole('link', { name: 'Sign in' }).click();
      const authorize = new URL((await authorizationRequest).url());
      await signInAtProvider(page, demo.url, demo.issuer, 'alice');

      expect(new URL(page.url()).pathname).toBe('/');
      await expect(page.locator('h1').textContent()).resolves.toBe('Hello, Alice');
      await expect(page.getByTestId('sub').textContent()).resolves.toBe('alice');
      await page.screenshot({ path: `${SCREENSHOTS}/${mode === 'express' ? 'signed-in' : `signed-in-${mode}`}.png`, fullPage: true });

      await page.goto(`${demo.url}/protected`);
      await expect(page.locator('h1').textContent()).resolves.toBe('Protected page');

      await page.goto(`${demo.url}/par`);
      await page.screenshot({ path: `${SCREENSHOTS}/par-${mode}.png`, fullPage: true });
      const requestUri = await page.getByTestId('request-uri').textContent();
      expect(requestUri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      const html = await page.content();
      expect(html).toContain('code_challenge_method');
      expect(html).toContain('[redacted JWT (RS256)');
      expect(html).not.toMatch(JWT);
      const issued = demo.embedded!.issuedTokens();
      expect(issued.length).toBeGreaterThanOrEqual(2);
      for (const token of issued) expect(html).not.toContain(token);
      // The login redirect itself: the authorization endpoint got nothing but client_id and request_uri.
      expect(authorize.searchParams.get('request_uri')).toBe(requestUri);
      expect([...authorize.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);

      await page.locator('header').getByRole('link', { name: 'Sign out' }).click();
      await page.waitForURL((url) => url.origin === demo.issuer);
      await page.getByRole('button', { name: 'Yes, sign me out' }).click();
      await page.waitForURL((url) => url.href.startsWith(demo.url));
      await expect(page.locator('h1').textContent()).resolves.toBe('You are signed out');

      await page.goto(`${demo.url}/protected`);
      expect(new URL(page.url()).origin).toBe(demo.issuer);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('sends a signed-out visitor of the protected page to sign in and back to that page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${demo.url}/protected`);
      await signInAtProvider(page, demo.url, demo.issuer, 'bob');
      expect(new URL(page.url()).pathname).toBe('/protected');
      await expect(page.locator('main').textContent()).resolves.toContain('bob');
    } finally {
      await context.close();
    }
  }, 60_000);
});

/** A port that was free a moment ago (the external provider must know the app's redirect URI first). */
async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the demo app with an external provider (ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET)', () => {
  let provider: RunningEmbeddedProvider;
  let demo: Demo;

  beforeAll(async () => {
    const port = await freePort();
    const url = `http://localhost:${port}`;
    provider = await startEmbeddedProvider({ redirectUri: `${url}/callback`, postLogoutRedirectUri: `${url}/` });
    const external = { issuerBaseURL: provider.issuer, clientID: provider.clientID, clientSecret: provider.clientSecret, audience: 'https://api.example.com' };
    demo = await startDemo({ lib, mode: 'express', port, host: '127.0.0.1', provider: external });
  });
  afterAll(async () => {
    await demo?.close();
    await provider?.close();
  });

  it('shows what the app can see of PAR, with the tokens it stored redacted', async () => {
    expect(demo.embedded).toBeUndefined();
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(demo.url);
      await page.locator('main').getByRole('link', { name: 'Sign in' }).click();
      await signInAtProvider(page, demo.url, provider.issuer, 'carol');
      await expect(page.locator('h1').textContent()).resolves.toBe('Hello, Carol');

      await page.goto(`${demo.url}/par`);
      await expect(page.getByTestId('request-uri').textContent()).resolves.toMatch(/^urn:ietf:params:oauth:request_uri:/);
      const html = await page.content();
      expect(html).toContain('(random, per sign-in)');
      expect(html).toContain('https://api.example.com');
      expect(html).toContain('as the app stored it');
      expect(html).not.toMatch(JWT);
      const issued = provider.issuedTokens();
      expect(issued.length).toBeGreaterThanOrEqual(2); // an empty list would make the loop below prove nothing
      for (const token of issued) expect(html).not.toContain(token);
    } finally {
      await context.close();
    }
  }, 60_000);
});
