import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import { startApp, type TestApp } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';

// The loggers read DEBUG when the library's modules load, so set it before importing them.
process.env.DEBUG = 'express-par:*,-express-par:discovery';
const lib = await import('../lib/index.js');
const { createLogger } = await import('../lib/core/log.js');

let provider: TestProvider;
let app: TestApp;
const lines: string[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);

beforeAll(async () => {
  app = await startApp((a: Express, baseURL: string) => {
    a.use(lib.parAuth({ issuerBaseURL: provider.issuer, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET }));
    a.get('/session', (req, res) => {
      res.json(req.session);
    });
  });
  provider = await startProvider({ redirectUris: [`${app.url}/callback`] });
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('express-par:')) {
      lines.push(text);
      return true;
    }
    return (originalWrite as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
});
afterAll(async () => {
  process.stderr.write = originalWrite;
  delete process.env.DEBUG;
  await app.close();
  await provider.close();
});

describe('debug logging', () => {
  it('shows each protocol step of a login under express-par namespaces and never a secret', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${app.url}/login`);
    const callbackUrl = new URL(await completeProviderLogin(browser, start.location!));
    await browser.get(callbackUrl.href);
    const sessionJson = JSON.parse((await browser.get(`${app.url}/session`)).body) as { par: Record<string, { login: Record<string, string> }> };
    const stored = Object.values(sessionJson.par)[0]!.login;
    const log = lines.join('');
    expect(log).toMatch(/express-par:http POST .*\/request \(PAR endpoint\)/);
    expect(log).toMatch(/express-par:engine pushed authorization request, expires_in \d+/);
    expect(log).toMatch(/express-par:http POST .*\/token \(token endpoint\)/);
    expect(log).toContain('express-par:engine login completed');
    expect(log).not.toContain('express-par:discovery'); // excluded by the "-" pattern
    const pushed = provider.pushedRequests.at(-1)!;
    const secrets = [TEST_CLIENT_SECRET, callbackUrl.searchParams.get('code')!, String(pushed.state), String(pushed.nonce), stored.idToken, stored.accessToken, provider.tokenRequests.at(-1)!.code_verifier as string];
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(10);
      expect(log).not.toContain(secret);
    }
  });

  it('matches namespaces like the debug package: wildcards, lists and exclusions', () => {
    const cases: Array<[string | undefined, string, boolean]> = [
      [undefined, 'par', false],
      ['express-par:*', 'par', true],
      ['express-par:par', 'par', true],
      ['express-par:par', 'http', false],
      ['other,express-par:http', 'http', true],
      ['express-par:*,-express-par:http', 'http', false],
      ['*', 'token', true],
    ];
    for (const [spec, step, enabled] of cases) {
      if (spec === undefined) delete process.env.DEBUG;
      else process.env.DEBUG = spec;
      expect([spec, step, createLogger(step).enabled]).toEqual([spec, step, enabled]);
    }
  });
});
