/**
 * examples/, run as a user would run them: express-par packed and installed from the tarball into a
 * scratch project (helpers/pack.ts, once for the file), the examples copied next to it, the TypeScript one
 * compiled with the repo's tsc (strict) against only the @types packages the README names, then all three
 * started as child processes at once, configured from the environment, against an in-process
 * oidc-provider. A TestBrowser goes home → protected page → provider login → back signed in → logout.
 * With EXPRESS_MAJOR=4 the examples run on Express 4.
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

afterAll(async () => {
  await Promise.all([...running.values()].map(({ child }) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  })));
  await provider?.close();
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
