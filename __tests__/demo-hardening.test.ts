/**
 * The demo as people copy it (issue #30, item 16), over real HTTP with the embedded provider: its log
 * cannot be forged through a user's `sub`, its error page never repeats text from a crafted link, a
 * failed callback creates no session in either mode, sessions expire, and the cookie is `Secure` when the
 * base URL is https.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { startDemo, type Demo } from '../demo-app/app.mjs';
import * as lib from '../lib/index.js';
import * as passportLib from '../lib/passport.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';

let demo: Demo | undefined;
afterEach(async () => {
  await demo?.close();
  demo = undefined;
});

const MODES = ['express', 'passport'] as const;
const SPOOF = 'Your account is locked. Call +1 555 0100 now';

async function signIn(browser: TestBrowser, name: string) {
  const start = await browser.get(`${demo!.url}/login`);
  expect(start.status).toBe(302);
  const callback = await browser.get(await completeProviderLogin(browser, start.location!, { login: name }));
  expect(callback.status).toBe(302);
}

describe.each(MODES)('the demo in %s mode', (mode) => {
  it('logs a sub with a line break as one line: no forged log line', async () => {
    const lines: string[] = [];
    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1', log: (line) => lines.push(line) });
    await signIn(new TestBrowser(), 'eve\n[demo] GET /admin failed: 500 forged\r\u2028x');
    expect(lines.some((line) => line.startsWith('[express-par] callback.succeeded'))).toBe(true);
    for (const line of lines) expect(line).not.toMatch(/[\u0000-\u001f\u007f\u2028\u2029]/);
    expect(lines.join('\n').split('\n').filter((line) => line.startsWith('[demo] GET /admin'))).toEqual([]);
  });

  it('shows the error code and a fixed sentence, never the error_description of a crafted link', async () => {
    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1' });
    const query = new URLSearchParams({ error: 'access_denied', error_description: SPOOF });
    const res = await new TestBrowser().get(`${demo.url}/callback?${query}`);
    expect(res.status).toBe(403);
    expect(res.body).toContain('<code>access_denied</code>');
    expect(res.body).toContain('The sign-in was cancelled or refused.');
    expect(res.body).not.toContain('locked');
    expect(res.body).not.toContain('555');
  });

  it('creates no session for an anonymous failed callback', async () => {
    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1' });
    const res = await fetch(`${demo.url}/callback?state=x`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    await res.text();
    expect(res.status).toBe(400);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('gives the signed-in session cookie a lifetime, and Secure when the base URL is https', async () => {
    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1' });
    const browser = new TestBrowser();
    const start = await browser.get(`${demo.url}/login`);
    const callback = await browser.get(await completeProviderLogin(browser, start.location!));
    expect(callback.headers.get('set-cookie')).toMatch(/^demo\.sid=.*; Expires=/);
    expect(callback.headers.get('set-cookie')).not.toMatch(/; Secure/);
    await demo.close();
    demo = undefined;

    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1', baseURL: 'https://demo.example' });
    // Behind the TLS-terminating proxy that an https base URL means.
    const res = await fetch(`http://127.0.0.1:${demo.port}/login`, { headers: { 'x-forwarded-proto': 'https' }, redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('set-cookie')).toMatch(/^demo\.sid=.*; Secure/);
  });
});
