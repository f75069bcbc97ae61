/**
 * The demo's "around the sign-in" pages (issue #10), over real HTTP with the embedded provider: the
 * "Sign up" link pushes screen_hint=signup, the "Staff only" page is gated on a claim (403, never a
 * loop), and the landing page's silent sign-in (DEMO_SILENT_LOGIN=1) runs once and comes back anonymous.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { startDemo, type Demo } from '../demo-app/app.mjs';
import * as lib from '../lib/index.js';
import * as passportLib from '../lib/passport.js';
import { completeProviderLogin, TestBrowser } from './helpers/browser.js';

let demo: Demo | undefined;
afterEach(async () => {
  await demo?.close();
  demo = undefined;
});

async function signIn(browser: TestBrowser, name: string, path = '/login') {
  const start = await browser.get(`${demo!.url}${path}`);
  expect(start.status).toBe(302);
  const callback = await browser.get(await completeProviderLogin(browser, start.location!, { login: name }));
  expect(callback.status).toBe(302);
}

describe.each(['express', 'passport'] as const)('the demo in %s mode', (mode) => {
  it('offers "Sign up", which pushes screen_hint=signup for that request only', async () => {
    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1' });
    const browser = new TestBrowser();
    const home = await browser.get(`${demo.url}/`);
    expect(home.status).toBe(200);
    expect(home.body).toContain('<a class="button secondary" href="/signup">Sign up</a>');
    await signIn(browser, 'newbie', '/signup');
    const trace = (await browser.get(`${demo.url}/par`)).body;
    expect(trace).toMatch(/<code>screen_hint<\/code><\/th><td><code>signup<\/code>/);
    const plain = new TestBrowser();
    await signIn(plain, 'olivia');
    const plainTrace = (await plain.get(`${demo.url}/par`)).body;
    expect(plainTrace).toContain('<code>scope</code>');
    expect(plainTrace).not.toContain('screen_hint');
  });

  it('offers "Pay €123.50": it pushes the payment as authorization_details and shows what was asked and granted', async () => {
    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1' });
    const browser = new TestBrowser();
    const before = await browser.get(`${demo.url}/pay`);
    expect(before.status).toBe(200);
    expect(before.body).toContain('<h1>Pay €123.50</h1>');
    expect(before.body).toContain('<a class="button" href="/pay/start">Pay €123.50</a>');
    expect(before.body).toContain('Nothing granted in this session yet.');
    await signIn(browser, 'paula', '/pay/start');
    const trace = (await browser.get(`${demo.url}/par`)).body;
    expect(trace).toMatch(/<code>authorization_details<\/code><\/th><td><code>\[\{&quot;type&quot;:&quot;payment_initiation&quot;/);
    const after = await browser.get(`${demo.url}/pay`);
    const granted = /<div data-testid="granted"><pre>([\s\S]*?)<\/pre>/.exec(after.body)?.[1];
    const asked = /<div data-testid="asked"><pre>([\s\S]*?)<\/pre>/.exec(after.body)?.[1];
    const decode = (html: string) => JSON.parse(html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&'));
    expect(decode(granted!)).toEqual(decode(asked!));
    expect(decode(granted!)[0]).toMatchObject({ type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '123.50' } });
  });

  it('gates "Staff only" on a claim: sign-in first, 403 without the claim, the page with it', async () => {
    demo = await startDemo({ lib, passportLib, mode, port: 0, host: '127.0.0.1' });
    const anonymous = await new TestBrowser().get(`${demo.url}/staff`);
    expect(anonymous.status).toBe(302);
    expect(new URL(anonymous.location!).pathname).toBe('/login');

    const bob = new TestBrowser();
    await signIn(bob, 'bob');
    const refused = await bob.get(`${demo.url}/staff`);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('<h1>Not allowed</h1>');
    expect(refused.body).toContain('insufficient_claims');

    const sam = new TestBrowser();
    await signIn(sam, 'staff-sam');
    const page = await sam.get(`${demo.url}/staff`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>Staff only</h1>');
    expect(page.body).toContain('[&quot;staff&quot;]');
  });
});

describe('the demo\'s token pages', () => {
  it('shows the userinfo claims and a "Call the API" that renews the access token (express mode)', async () => {
    demo = await startDemo({ lib, passportLib, mode: 'express', port: 0, host: '127.0.0.1' });
    const anonymous = await new TestBrowser().get(`${demo.url}/userinfo`);
    expect(anonymous.status).toBe(302);
    const browser = new TestBrowser();
    await signIn(browser, 'uma');
    const userinfo = await browser.get(`${demo.url}/userinfo`);
    expect(userinfo.status).toBe(200);
    expect(userinfo.body).toContain('<h1>Userinfo</h1>');
    expect(userinfo.body).toContain('&quot;sub&quot;: &quot;uma&quot;');
    const page = await browser.get(`${demo.url}/api`);
    expect(page.body).toContain('<button class="button" type="submit">Call the API</button>');
    // A token renewed in the last 10 seconds is not renewed again: the call comes a little later.
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 11_000);
    const called = await browser.get(`${demo.url}/api?call=1`);
    jest.restoreAllMocks();
    expect(called.status).toBe(200);
    expect(called.body).toContain('<tr><th>renewed</th><td>yes</td></tr>');
    expect(called.body).toContain('<th>API answered</th><td>HTTP 200</td>');
  });

  it('says the token pages belong to the express mode (passport mode)', async () => {
    demo = await startDemo({ lib, passportLib, mode: 'passport', port: 0, host: '127.0.0.1' });
    const browser = new TestBrowser();
    await signIn(browser, 'uma');
    expect((await browser.get(`${demo.url}/userinfo`)).body).toContain('is shown in the <code>express</code> mode');
    expect((await browser.get(`${demo.url}/api?call=1`)).body).toContain('is shown in the <code>express</code> mode');
  });
});

describe('the demo with DEMO_SILENT_LOGIN', () => {
  it('tries a silent sign-in on the landing page once, and comes back signed out', async () => {
    demo = await startDemo({ lib, mode: 'express', port: 0, host: '127.0.0.1', silentLogin: true });
    const browser = new TestBrowser();
    const first = await browser.get(`${demo.url}/`);
    expect(first.status).toBe(302);
    expect(new URL(first.location!).origin).toBe(demo.issuer);
    let back: string | undefined;
    await browser.follow(first.location!, { stopAt: (u) => (u.origin === demo!.issuer ? false : ((back = u.href), true)) });
    expect(new URL(back!).searchParams.get('error')).toBe('login_required');
    const callback = await browser.get(back!);
    expect(callback.location).toBe(`${demo.url}/`);
    const home = await browser.get(`${demo.url}/`);
    expect(home.status).toBe(200);
    expect(home.body).toContain('Silent sign-in is on');
  });

  it('is off by default', async () => {
    demo = await startDemo({ lib, mode: 'express', port: 0, host: '127.0.0.1' });
    expect((await new TestBrowser().get(`${demo.url}/`)).status).toBe(200);
  });
});
