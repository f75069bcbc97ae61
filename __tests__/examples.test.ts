/**
 * examples/, run as a user would run them: express-par packed and installed from the tarball into a
 * scratch project (helpers/pack.ts, once for the file), the examples copied next to it, the TypeScript one
 * compiled with the repo's tsc (strict) against only the @types packages the README names, then all three
 * started as child processes at once, configured from the environment, against an in-process
 * oidc-provider. A TestBrowser goes home → protected page → provider login → back signed in → logout.
 * With EXPRESS_MAJOR=4 the examples run on Express 4.
 *
 * In the same scratch project (one pack for both), express-openid-connect's own ten examples (issue #26,
 * helpers/eoc-examples.ts) run with their import changed to express-par, each logged in through as EOC's
 * end-to-end tests do, against an oidc-provider registered like EOC's fixture.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { completeProviderLogin, parseForms, TestBrowser } from './helpers/browser.js';
import { install, pack, root, run, tsc } from './helpers/pack.js';
import { startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestProvider } from './helpers/provider.js';
import { freePort } from './helpers/redis.js';
import {
  baseUrlOf, EOC_EXAMPLE_LINKS, EOC_EXAMPLES, prepareEocExamples, startEocExample, startEocProvider, type EocExample,
  type EocProvider, type RunningExample,
} from './helpers/eoc-examples.js';

interface Example {
  name: 'typescript-esm' | 'commonjs' | 'passport';
  /** What `npm start` runs, relative to the example's folder. */
  entry: string;
}

const EXAMPLES: Example[] = [
  { name: 'typescript-esm', entry: 'dist/app.js' },
  { name: 'commonjs', entry: 'app.js' },
  { name: 'passport', entry: 'app.js' },
];

/** The peers, and only the @types packages README's Install names for a TypeScript user of the middleware. */
const LINKS = {
  express: process.env.EXPRESS_MAJOR === '4' ? 'express4' : 'express',
  'express-session': 'express-session',
  passport: 'passport',
  '@types/express': '@types/express',
  '@types/express-session': '@types/express-session',
  '@types/node': '@types/node',
  ...EOC_EXAMPLE_LINKS,
};

interface Running {
  url: string;
  child: ChildProcess;
  stdout: string;
  stderr: string;
}

let work: string;
let project: string;
let provider: TestProvider;
const running = new Map<Example['name'], Running>();
let eocProvider: EocProvider;
const eocRunning = new Map<EocExample | 'api', RunningExample>();

/** Starts `node <entry>` in the example's folder; resolves once it prints that it listens. */
function start(example: Example, port: number): Promise<Running> {
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    ISSUER_BASE_URL: provider.issuer,
    BASE_URL: url,
    CLIENT_ID: TEST_CLIENT_ID,
    CLIENT_SECRET: TEST_CLIENT_SECRET,
    SESSION_SECRET: `examples-test-session-secret-${example.name}`,
    PORT: String(port),
  };
  const cwd = join(project, 'examples', example.name);
  const child = spawn(process.execPath, [example.entry], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const app: Running = { url, child, stdout: '', stderr: '' };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`${example.name} ${why}: ${app.stderr || app.stdout}`));
    const timer = setTimeout(() => fail('did not start within 20 s'), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => (app.stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      app.stdout += chunk.toString();
      if (app.stdout.includes(`listening on http://localhost:${port}`)) {
        clearTimeout(timer);
        resolve(app);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(`exited (${signal ?? code}) before listening`);
    });
  });
}

/** tsc -p on the TypeScript example; throws with tsc's report when it does not compile. */
async function compileTypeScriptExample(): Promise<void> {
  try {
    await run(process.execPath, [tsc, '-p', join(project, 'examples/typescript-esm/tsconfig.json')], { cwd: project });
  } catch (err) {
    const report = String((err as { stdout?: string }).stdout ?? err);
    throw new Error(`examples/typescript-esm does not compile: ${report}`, { cause: err });
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'express-par-examples-'));
  project = join(work, 'project');
  const { tarball } = await pack(work);
  await install(tarball, project, LINKS);
  const filter = (source: string) => !/[/\\](dist|node_modules)$/.test(source); // what a local build or install left
  await cp(join(root, 'examples'), join(project, 'examples'), { recursive: true, filter });
  const ports = await Promise.all(EXAMPLES.map(() => freePort()));
  const origins = ports.map((port) => `http://127.0.0.1:${port}`);
  [provider] = await Promise.all([
    startProvider({
      redirectUris: origins.map((origin) => `${origin}/callback`),
      postLogoutRedirectUris: origins.map((origin) => `${origin}/`),
    }),
    compileTypeScriptExample(),
  ]);
  const apps = await Promise.allSettled(EXAMPLES.map((example, i) => start(example, ports[i]!)));
  apps.forEach((app, i) => app.status === 'fulfilled' && running.set(EXAMPLES[i]!.name, app.value));
  const failed = apps.find((app) => app.status === 'rejected');
  if (failed) throw failed.reason;
}, 180_000);

beforeAll(async () => {
  await prepareEocExamples(project);
  const names = [...EOC_EXAMPLES, 'api'] as const;
  const ports = await Promise.all(names.map(() => freePort()));
  eocProvider = await startEocProvider(EOC_EXAMPLES.map((name, i) => baseUrlOf(name, ports[i]!)));
  const env = { apiPort: ports.at(-1)!, issuer: eocProvider.provider.issuer };
  const started = await Promise.allSettled(names.map((name, i) => startEocExample(project, name, { ...env, port: ports[i]! })));
  started.forEach((app, i) => app.status === 'fulfilled' && eocRunning.set(names[i]!, app.value));
  const failed = started.find((app) => app.status === 'rejected');
  if (failed) throw failed.reason;
}, 120_000);

afterAll(async () => {
  await Promise.all([...running.values(), ...eocRunning.values()].map(({ child }) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  })));
  await provider?.close();
  await eocProvider?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('examples/', () => {
  it('the TypeScript example compiled with strict on, resolving express-par from the installed tarball', async () => {
    const tsconfig = JSON.parse(await readFile(join(project, 'examples/typescript-esm/tsconfig.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ strict: true, module: 'NodeNext' });
    expect(await readFile(join(project, 'examples/typescript-esm/dist/app.js'), 'utf8')).toContain("from 'express-par'");
  });

  const names = EXAMPLES.map((example) => example.name);
  it.each(names)('%s: home → protected page → provider login → back signed in → logout', async (name) => {
    const app = running.get(name)!;
    const browser = new TestBrowser();
    const pushed = provider.pushedRequests.length;

    const home = await browser.get(`${app.url}/`);
    expect(home.status).toBe(200);
    expect(home.body).toContain('<h1>Signed out</h1>');

    // The protected page sends a browser that is not signed in to /login, which pushes the request (PAR).
    const guarded = await browser.get(`${app.url}/profile`);
    expect(guarded.status).toBe(302);
    expect(guarded.location).toBe(`${app.url}/login?returnTo=%2Fprofile`);
    const login = await browser.get(guarded.location!);
    expect(login.status).toBe(302);
    const authorize = new URL(login.location!);
    expect(authorize.origin).toBe(provider.issuer);
    expect([...authorize.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(provider.pushedRequests.length).toBe(pushed + 1);

    // The provider's login, then back through /callback to the page that was asked for.
    const callback = await completeProviderLogin(browser, login.location!, { login: 'alice' });
    expect(callback.startsWith(`${app.url}/callback?`)).toBe(true);
    const back = (await browser.follow(callback)).at(-1)!;
    expect({ url: back.url, status: back.status }).toEqual({ url: `${app.url}/profile`, status: 200 });
    expect(JSON.parse(back.body)).toMatchObject({ sub: 'alice', name: 'User alice' });
    expect((await browser.get(`${app.url}/`)).body).toContain('<h1>Hello, User alice</h1>');

    // Logout: the provider's end_session_endpoint, its confirmation, and back to the home page signed out.
    const logout = await browser.get(`${app.url}/logout`);
    const endSession = new URL(logout.location!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${provider.issuer}/session/end`);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/`);
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    const confirm = (await browser.follow(logout.location!)).at(-1)!;
    const form = parseForms(confirm.body, confirm.url).find((f) => f.id === 'op.logoutForm');
    expect(form).toBeDefined();
    const done = await browser.post(form!.action, { ...form!.fields, logout: 'yes' });
    expect(done.location).toBe(`${app.url}/`);
    expect((await browser.get(done.location!)).body).toContain('<h1>Signed out</h1>');
    expect((await browser.get(`${app.url}/profile`)).status).toBe(302);

    // Nothing on stderr: no warning, no stack trace.
    expect(app.stderr).toBe('');
  });
});

describe('express-openid-connect\'s examples, their import changed to express-par', () => {
  const app = (name: EocExample) => eocRunning.get(name)!;
  const issuer = () => eocProvider.provider.issuer;

  /**
   * GETs `url`, which must send the browser to the provider; logs in as EOC's tests do; the page it lands on.
   * `toListener` maps the app's BASE_URL to where it listens (custom-routes.js).
   */
  async function signIn(browser: TestBrowser, url: string, toListener = (u: string) => u) {
    const start = await browser.get(url);
    expect(start.status).toBe(302);
    expect(start.location!.startsWith(`${issuer()}/auth?`)).toBe(true);
    const callback = await completeProviderLogin(browser, start.location!, { login: 'username' });
    return (await browser.follow(toListener(callback))).at(-1)!;
  }

  /** /logout through the provider's end_session page and its confirmation; where the provider sends the browser. */
  async function logOutAtProvider(browser: TestBrowser, url: string, postLogout: string): Promise<string> {
    const logout = await browser.get(`${url}/logout`);
    const endSession = new URL(logout.location!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${issuer()}/session/end`);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(postLogout);
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    const confirm = (await browser.follow(logout.location!)).at(-1)!;
    const form = parseForms(confirm.body, confirm.url).find((f) => f.id === 'op.logoutForm')!;
    return (await browser.post(form.action, { ...form.fields, logout: 'yes' })).location!;
  }

  it('basic: every page protected, "hello username", logout at the provider and back to a protected page', async () => {
    const { url } = app('basic');
    const browser = new TestBrowser();
    expect(await signIn(browser, `${url}/`)).toMatchObject({ url: `${url}/`, status: 200, body: 'hello username' });
    expect(Object.keys(browser.cookies(url))).toContain('appSession');
    const context = JSON.parse((await browser.get(`${url}/context`)).body);
    expect(context).toMatchObject({ isAuthenticated: true, user: { sub: 'username' }, idTokenClaims: { sub: 'username', iss: issuer() } });
    // EOC's default response_type is id_token (no access token); auth() serves it by the code flow, which brings one.
    expect(context.accessToken).toMatchObject({ token_type: 'Bearer', isExpired: false });
    const back = await logOutAtProvider(browser, url, url);
    expect(back).toBe(`${url}/`);
    const after = await browser.get(back);
    expect(after.status).toBe(302);
    expect(after.location!.startsWith(`${issuer()}/auth?`)).toBe(true);
  });

  it('routes: a public home page, the admin section after the login', async () => {
    const { url } = app('routes');
    const browser = new TestBrowser();
    expect((await browser.get(`${url}/`)).body).toBe('<a href="/admin">Admin Section</a>');
    expect(await signIn(browser, `${url}/admin`)).toMatchObject({ url: `${url}/admin`, body: 'Hello username, this is the admin section.' });
  });

  it('custom-routes: its own /login and /callback; an anonymous /profile logs in too; logout to /custom-logout', async () => {
    // It names http://localhost:3000 in its code, its BASE_URL; it listens at `url` (a port mapping in front).
    const { url, baseURL, toListener } = app('custom-routes');
    const browser = new TestBrowser();
    expect((await browser.get(`${url}/`)).body).toBe('Welcome!');
    expect(await signIn(browser, `${url}/login`, toListener)).toMatchObject({ url: `${url}/profile`, body: 'hello username' });
    expect(eocProvider.provider.pushedRequests.at(-1)!.redirect_uri).toBe(`${baseURL}/callback`);
    // EOC itself sends redirect_uri=undefined here (routes.callback: false) and the provider refuses it.
    const anonymous = await signIn(new TestBrowser(), `${url}/profile`, toListener);
    expect(anonymous).toMatchObject({ url: `${url}/profile`, body: 'hello username' });
    const back = await logOutAtProvider(browser, url, `${baseURL}/custom-logout`);
    expect((await browser.get(toListener(back))).body).toBe('Bye!');
  });

  it('custom-session-store: the session in memorystore(auth), "hello username"', async () => {
    const { url } = app('custom-session-store');
    const browser = new TestBrowser();
    expect(await signIn(browser, `${url}/`)).toMatchObject({ url: `${url}/`, body: 'hello username' });
    expect(Object.keys(browser.cookies(url))).toContain('appSession');
  });

  it('attempt-silent-login: anonymous after prompt=none, then a login, then silently signed in again', async () => {
    const { url } = app('attempt-silent-login');
    const browser = new TestBrowser();
    const first = await browser.get(`${url}/`);
    expect(eocProvider.provider.pushedRequests.at(-1)!.prompt).toBe('none');
    expect((await browser.follow(first.location!)).at(-1)).toMatchObject({ url: `${url}/`, body: '<a href="/login">login</a>' });
    expect(await signIn(browser, `${url}/login`)).toMatchObject({ url: `${url}/`, body: 'hello username' });
    browser.deleteCookie(url, 'appSession'); // the app forgets; the provider still knows the user
    const silent = (await browser.follow(`${url}/`)).at(-1)!;
    expect(silent).toMatchObject({ url: `${url}/`, body: 'hello username' });
  });

  it('userinfo: response_type "code id_token" served by the code flow, the userinfo endpoint\'s sub', async () => {
    const { url } = app('userinfo');
    expect(await signIn(new TestBrowser(), `${url}/`)).toMatchObject({ url: `${url}/`, body: 'hello username' });
  });

  it.each([
    ['client-secret-jwt', 'client-secret-jwt-client'],
    ['private-key-jwt', 'private-key-jwt-client'],
  ] as const)('%s: a client assertion at the token endpoint, "hello username"', async (name, clientId) => {
    const { url } = app(name);
    const browser = new TestBrowser();
    expect((await browser.get(`${url}/`)).body).toBe('<a href="/login">login</a>');
    expect(await signIn(browser, `${url}/login`)).toMatchObject({ body: 'hello username <a href="/logout">logout</a>' });
    expect(eocProvider.provider.tokenRequests.at(-1)).toMatchObject({
      client_id: clientId, client_assertion: expect.stringMatching(/^eyJ/),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    });
  });

  it('jar: the signed request object pushed (PAR and JAR), "Logged in as username"', async () => {
    const { url } = app('jar');
    const browser = new TestBrowser();
    const page = await signIn(browser, `${url}/login`);
    expect(page.body).toBe('<p>Logged in as <strong>username</strong></p><a href="/logout">logout</a>');
    expect(eocProvider.provider.pushedRequests.at(-1)).toMatchObject({ client_id: 'jar-client', request: expect.stringMatching(/^eyJ/) });
  });

  it('access-an-api: the API answers with the access token of the login (audience, offline_access)', async () => {
    const { url } = app('access-an-api');
    const browser = new TestBrowser();
    expect(await signIn(browser, `${url}/`)).toMatchObject({ url: `${url}/`, body: 'Products: Football boots, Running shoes, Flip flops' });
    const context = JSON.parse((await browser.get(`${url}/context`)).body);
    expect(context).toMatchObject({ accessToken: { token_type: 'Bearer', isExpired: false }, refreshToken: expect.any(String) });
  });

  it('wrote nothing on stderr but the warning userinfo\'s response_type asks for, said once', () => {
    for (const [name, running] of eocRunning) {
      const warning = 'ExpressParWarning: auth(): authorizationParams.response_type "code id_token" is served by the code flow';
      const expected = name === 'userinfo' ? [expect.stringContaining(warning)] : [];
      const lines = running.stderr.split('\n').filter((line) => line && !line.startsWith('(Use `node --trace-warnings'));
      expect({ name, lines }).toEqual({ name, lines: expected });
    }
  });
});
