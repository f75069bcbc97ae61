/**
 * The documented Passport set-up, run as pasted (issue #30, item 6; the block moved from README.md to
 * docs/passport.md in issue #25): the test reads the first code block of its "A complete set-up" section, swaps
 * its four `import` lines for the same modules, and runs it against oidc-provider: login with a return path,
 * the profile from the session, logout with `id_token_hint`. Editing the documented block changes what this test runs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import express, { type Express } from 'express';
import session from 'express-session';
import { Passport } from 'passport';
import { ParStrategy } from '../lib/passport.js';
import { listen } from './helpers/app.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, testClient, type TestProvider } from './helpers/provider.js';

const IMPORTS = [
  "import express from 'express';",
  "import session from 'express-session';",
  "import passport from 'passport';",
  "import { ParStrategy } from 'express-par/passport';",
];

/** The documented block, its imports checked and taken out. */
function readmeBlock(): string {
  const page = readFileSync(new URL('../docs/passport.md', import.meta.url), 'utf8');
  const block = /\n## A complete set-up\n[\s\S]*?```js\n([\s\S]*?)\n```/.exec(page)?.[1];
  if (!block) throw new Error('docs/passport.md has no code block in its "A complete set-up" section');
  const lines = block.split('\n');
  expect(lines.filter((line) => line.startsWith('import '))).toEqual(IMPORTS);
  return lines.filter((line) => !line.startsWith('import ')).join('\n');
}

/** Runs the block with the imported modules and the placeholders it leaves to the reader; returns its `app`. */
function readmeApp(baseURL: string, issuerBaseURL: string): Express {
  const deps = {
    express, session, passport: new Passport(), ParStrategy,
    issuerBaseURL, baseURL, clientID: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET,
    process: { env: { SESSION_SECRET: 'a-session-secret-for-the-readme-test' } },
  };
  const run = new Function('deps', `const { ${Object.keys(deps).join(', ')} } = deps;\n${readmeBlock()}\nreturn app;`);
  return run(deps) as Express;
}

let provider: TestProvider;
let app: { url: string; close(): Promise<void> };

beforeAll(async () => {
  app = await listen((baseURL) => readmeApp(baseURL, provider.issuer));
  provider = await startProvider({ clients: [testClient(TEST_CLIENT_ID, [`${app.url}/auth/callback`], [`${app.url}/`])] });
});
afterAll(async () => {
  await app.close();
  await provider.close();
});

describe('the Passport block of docs/passport.md, as pasted', () => {
  it('signs in and back to the page, keeps the user in the session, and logs out with id_token_hint', async () => {
    const browser = new TestBrowser();
    const page = await browser.get(`${app.url}/profile`);
    expect(page.status).toBe(302);
    const start = await browser.get(page.location!);
    expect(new URL(start.location!).origin).toBe(provider.issuer);
    const callback = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(`${app.url}/profile`);

    const profile = await browser.get(`${app.url}/profile`);
    expect(profile.status).toBe(200);
    const user = JSON.parse(profile.body) as { id: string; idToken: string };
    expect(user).toMatchObject({ id: 'alice', idToken: expect.stringMatching(/^eyJ/) });

    const out = await browser.get(`${app.url}/logout`);
    expect(out.status).toBe(302);
    const endSession = new URL(out.location!);
    expect(endSession.origin).toBe(provider.issuer);
    expect(endSession.searchParams.get('id_token_hint')).toBe(user.idToken);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/`);
    expect((await browser.get(`${app.url}/profile`)).status).toBe(302);
  });
});
