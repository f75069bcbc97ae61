/**
 * The published package, as a user installs it (helpers/pack.ts: built, `npm pack`ed, installed into a
 * scratch project from the npm cache), loaded from CommonJS and ESM, and a strict usage file typechecked
 * with node16 resolution in both module systems.
 */
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { install, pack, PEERS_AND_TYPES, root, run, tsc } from './helpers/pack.js';

const EXPORTS = [
  'CallbackError', 'IdTokenError', 'MtlsError', 'MtlsErrorCode', 'ParError', 'RequestError', 'SessionExpiredError', 'SetupError',
  'StepUpRequiredError', 'UpstreamError', 'UpstreamTimeoutError', 'attemptSilentLogin', 'auth', 'checkProvider', 'claimCheck',
  'claimEquals', 'claimIncludes', 'parAuth', 'requiresAuth',
];

let work: string;
let scratch: string;
let files: string[] = [];
/** The typechecks run at once (each takes seconds); they resolve with tsc's report, never reject. */
let typechecks: { cjs: Promise<string>; esm: Promise<string>; node10: Promise<string>; eoc: Promise<string> };

/** The lines of a tsc report about `file` (`eoc-app-par`), or about everything else. */
function reportOf(report: string, file: string, about: boolean): string {
  return report.split('\n').filter((line) => line !== '' && line.startsWith(file) === about).join('\n');
}

const checkScript = (load: string) => `
${load}
const options = { issuerBaseURL: 'https://tenant.example.com', baseURL: 'https://app.example.com', clientID: 'client', clientSecret: 'secret' };
const out = { exports: Object.keys(core).filter((k) => k !== 'default' && k !== 'module.exports').sort() };
out.middleware = typeof core.parAuth(options);
out.guard = typeof core.requiresAuth();
try { core.parAuth({ ...options, clientID: '' }); } catch (err) { out.badOption = err instanceof TypeError && /clientID/.test(err.message); }
const err = new core.CallbackError('state_mismatch', 'no pending login');
out.error = { isParError: err instanceof core.ParError, code: err.code, status: err.status };
out.auth = [typeof core.auth, typeof core.auth.Store, typeof core.auth.Store.prototype.regenerate];
out.ParStrategy = typeof strategy.ParStrategy;
out.strategyName = new strategy.ParStrategy(options, (tokens, claims, done) => done(null, { id: claims.sub })).name;
console.log(JSON.stringify(out));
`;

const usage = `
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { parAuth, requiresAuth, attemptSilentLogin, claimEquals, checkProvider, ParError, type ParAuthConfig, type ParEvent } from 'express-par';
import { ParStrategy } from 'express-par/passport';

const config: ParAuthConfig = { issuerBaseURL: 'https://tenant.example.com', baseURL: 'https://app.example.com', clientID: 'client', clientSecret: 'secret' };
const app = express();
app.use(session({ secret: 'secret', resave: false, saveUninitialized: false }));
app.use(parAuth({ ...config, onEvent: (event: ParEvent) => console.log(event.type) }));
app.get('/me', requiresAuth(), (req, res) => {
  const user: Record<string, unknown> | undefined = req.oidc.user;
  const accessToken: string | undefined = req.oidc.accessToken;
  const claims: Record<string, unknown> | undefined = req.oidc.user;
  res.json({ user, claims, hasToken: accessToken !== undefined, in: req.oidc.isAuthenticated() });
});
app.get('/signup', (_req, res) => res.oidc.login({ returnTo: '/welcome', authorizationParams: { screen_hint: 'signup' } }));
app.get('/bye', (_req, res) => res.oidc.logout({ returnTo: '/goodbye' }));
app.get('/', attemptSilentLogin(), claimEquals('email_verified', true), (_req, res) => res.send('ok'));
app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
  if (err instanceof ParError) return void res.status(err.status).json({ code: err.code });
  next(err);
});
passport.use(new ParStrategy({ ...config, callbackPath: '/auth/callback' }, (_tokens, claims, done) => done(null, { id: claims.sub })));
void checkProvider(config).then((report) => report);
// @ts-expect-error wrong option types are rejected in the published types too
parAuth({ ...config, httpTimeout: 'soon' });
`;

/** tsc's report for the file: '' when it typechecks. */
async function typecheck(
  file: string,
  resolution: { module: string; moduleResolution: string } = { module: 'node16', moduleResolution: 'node16' },
  extra: { files?: string[]; skipLibCheck?: boolean } = {},
): Promise<string> {
  const skipLibCheck = extra.skipLibCheck ?? false;
  const tsconfig = {
    compilerOptions: { strict: true, ...resolution, target: 'ES2022', noEmit: true, esModuleInterop: true, skipLibCheck, types: ['node'] },
    files: [file, ...(extra.files ?? [])],
  };
  const name = `tsconfig.${file}.json`;
  await writeFile(join(scratch, name), JSON.stringify(tsconfig));
  try {
    await run(process.execPath, [tsc, '-p', name], { cwd: scratch });
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'express-par-pack-'));
  scratch = join(work, 'scratch');
  const packed = await pack(work);
  files = packed.files;
  await install(packed.tarball, scratch, PEERS_AND_TYPES);
  await writeFile(join(scratch, 'check.cjs'), checkScript(`const core = require('express-par');\nconst strategy = require('express-par/passport');`));
  await writeFile(join(scratch, 'check.mjs'), checkScript(`import * as core from 'express-par';\nimport * as strategy from 'express-par/passport';`));
  await writeFile(join(scratch, 'usage.cts'), usage);
  await writeFile(join(scratch, 'usage.mts'), usage);
  // moduleResolution node10 ignores "exports": the "typesVersions" entry must lead it to express-par/passport.
  await writeFile(join(scratch, 'usage-node10.ts'), usage);
  // Issue #26: a strict TypeScript app of express-openid-connect's, as it is (against EOC's own types) and with
  // its import changed to express-par (both module systems).
  await symlink(join(root, 'node_modules/express-openid-connect'), join(scratch, 'node_modules/express-openid-connect'), 'dir');
  const eocApp = await readFile(join(root, '__tests__/fixtures/eoc-typed-app.mts'), 'utf8');
  const parApp = eocApp.replace("from 'express-openid-connect';", "from 'express-par';");
  expect(parApp).not.toBe(eocApp);
  await writeFile(join(scratch, 'eoc-app.mts'), eocApp);
  await writeFile(join(scratch, 'eoc-app-par.mts'), parApp);
  await writeFile(join(scratch, 'eoc-app-par.cts'), parApp);
  // The EOC app is compiled in the same programs as the usage files (a tsc run costs seconds); reports are split by file.
  typechecks = {
    cjs: typecheck('usage.cts', undefined, { files: ['eoc-app-par.cts'] }),
    esm: typecheck('usage.mts', undefined, { files: ['eoc-app-par.mts'] }),
    node10: typecheck('usage-node10.ts', { module: 'commonjs', moduleResolution: 'node10' }),
    // EOC's own index.d.ts fails skipLibCheck: false under node16 (TS1541, its type imports of ESM-only openid-client and jose).
    eoc: typecheck('eoc-app.mts', undefined, { skipLibCheck: true }),
  };
}, 120_000);

afterAll(async () => {
  if (typechecks) await Promise.all(Object.values(typechecks));
  if (work) await rm(work, { recursive: true, force: true });
});

async function loadWith(script: string) {
  const { stdout, stderr } = await run(process.execPath, [script], { cwd: scratch });
  return { result: JSON.parse(stdout), stderr };
}

describe('the published package', () => {
  it('ships both builds with declarations, the CommonJS marker, and no sources or tests', () => {
    for (const f of ['dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/esm/passport.js', 'dist/esm/passport.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/passport.js', 'dist/cjs/passport.d.ts', 'dist/cjs/package.json', 'package.json']) {
      expect(files).toContain(f);
    }
    const shipped = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'];
    expect(files.filter((f) => !f.startsWith('dist/') && !/^docs\/[a-z0-9-]+\.md$/.test(f) && !shipped.includes(f))).toEqual([]);
    expect(files.some((f) => /\.test\.|__tests__|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toBe(false);
  });

  it('ships the docs/ pages that README.md links to, so its links work in the installed package', async () => {
    const readme = await readFile(join(scratch, 'node_modules/express-par/README.md'), 'utf8');
    const linked = [...new Set([...readme.matchAll(/\]\((docs\/[a-z0-9-]+\.md)(?:#[^)]*)?\)/g)].map((match) => match[1]!))];
    expect(linked.length).toBeGreaterThan(0);
    expect(files).toEqual(expect.arrayContaining(linked));
  });

  it('ships the MIT LICENSE that package.json names, and a CHANGELOG with the version it is', async () => {
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'CHANGELOG.md', 'README.md']));
    const installed = join(scratch, 'node_modules/express-par');
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { license: string; version: string };
    expect(manifest.license).toBe('MIT');
    expect(await readFile(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} express-par contributors\n/);
    const changelog = await readFile(join(installed, 'CHANGELOG.md'), 'utf8');
    expect(changelog).toContain('\n## [Unreleased]\n');
    expect(changelog).toMatch(new RegExp(`\\n## \\[${manifest.version.replace(/\./g, '\\.')}\\] - \\d{4}-\\d{2}-\\d{2}\\n`));
  });

  it('says where the project lives: repository, homepage and bugs, as https URLs', async () => {
    const manifest = JSON.parse(await readFile(join(scratch, 'node_modules/express-par/package.json'), 'utf8'));
    expect(manifest.repository).toEqual({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/\S+\.git$/) });
    expect(manifest.homepage).toMatch(/^https:\/\/\S+$/);
    expect(manifest.bugs).toEqual({ url: expect.stringMatching(/^https:\/\/\S+$/) });
  });

  it('uses only the conditions Node and TypeScript know in "exports", each pointing at a shipped file', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const targets: string[] = [];
    const walk = (node: unknown): void => {
      if (typeof node === 'string') { targets.push(node); return; }
      for (const [condition, next] of Object.entries(node as Record<string, unknown>)) {
        expect(['import', 'require', 'types', 'default']).toContain(condition);
        walk(next);
      }
    };
    for (const [subpath, entry] of Object.entries(manifest.exports)) {
      if (subpath !== './package.json') walk(entry);
    }
    expect(targets.length).toBe(8);
    for (const t of targets) expect(files).toContain(t.replace(/^\.\//, ''));
  });

  it('needs only jose at runtime: the JavaScript never loads express, and express-session (a peer) only for auth()', async () => {
    const js = files.filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(20);
    for (const f of js) {
      const text = await readFile(join(scratch, 'node_modules/express-par', f), 'utf8');
      expect({ f, loads: /(?:require\(|from |import\()["']express["']/.test(text) }).toEqual({ f, loads: false });
      // auth() mounts express-session for express-openid-connect apps, and auth.Store is its Store (issue #26).
      const session = /(?:require\(|from |import\()["']express-session["']/.test(text);
      expect({ f, loads: session }).toEqual({ f, loads: session && /^dist\/(esm|cjs)\/eoc\//.test(f) });
    }
  });

  it('publishes the type augmentation with the entry point', async () => {
    for (const build of ['esm', 'cjs']) {
      const index = await readFile(join(scratch, 'node_modules/express-par/dist', build, 'index.d.ts'), 'utf8');
      expect(index).toContain("import './express/augment.js'");
      const augment = await readFile(join(scratch, 'node_modules/express-par/dist', build, 'express/augment.d.ts'), 'utf8');
      expect(augment).toContain("declare module 'express-session'");
    }
  });

  it('loads with require() from CommonJS, jose included, without warnings', async () => {
    const { result, stderr } = await loadWith('check.cjs');
    expect(result).toEqual({
      exports: EXPORTS, middleware: 'function', guard: 'function', badOption: true,
      error: { isParError: true, code: 'state_mismatch', status: 400 }, ParStrategy: 'function', strategyName: 'par',
      auth: ['function', 'function', 'function'],
    });
    expect(stderr).toBe('');
  });

  it('loads with import from ESM', async () => {
    const { result, stderr } = await loadWith('check.mjs');
    expect(result).toEqual({
      exports: EXPORTS, middleware: 'function', guard: 'function', badOption: true,
      error: { isParError: true, code: 'state_mismatch', status: 400 }, ParStrategy: 'function', strategyName: 'par',
      auth: ['function', 'function', 'function'],
    });
    expect(stderr).toBe('');
  });

  it('installs the express-par command: npx runs the provider doctor from the ESM build, and the CommonJS build runs too', async () => {
    expect(files).toEqual(expect.arrayContaining(['dist/esm/cli/main.js', 'dist/cjs/cli/main.js']));
    const help = await run('npx', ['--no', '--', 'express-par', '--help'], { cwd: scratch });
    expect(help.stdout).toMatch(/^Usage: express-par check --issuer <url>/);
    // An issuer nobody answers at: not ready (exit 1), with the problem as JSON: jose and the engine loaded.
    const unreachable = ['check', '--issuer', 'http://127.0.0.1:1', '--json'];
    for (const command of [['npx', '--no', '--', 'express-par'], [process.execPath, 'node_modules/express-par/dist/cjs/cli/main.js']]) {
      const failed = await run(command[0]!, [...command.slice(1), ...unreachable], { cwd: scratch }).then(
        () => ({ code: 0, stdout: '' }),
        (err: { code: number; stdout: string }) => err,
      );
      expect({ command: command.join(' '), code: failed.code }).toEqual({ command: command.join(' '), code: 1 });
      expect(JSON.parse(failed.stdout)).toMatchObject({ ok: false, problems: [{ id: 'upstream_unreachable' }] });
    }
    const usage = await run('npx', ['--no', '--', 'express-par', 'check'], { cwd: scratch }).catch((err: { code: number; stderr: string }) => err);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining('--issuer (or ISSUER_BASE_URL) is required') });
  }, 60_000);

  it('typechecks a strict TypeScript app of express-openid-connect\'s: against EOC\'s types, then with express-par\'s', async () => {
    const [eoc, esm, cjs] = await Promise.all([typechecks.eoc, typechecks.esm, typechecks.cjs]);
    expect({ eoc, esm: reportOf(esm, 'eoc-app-par', true), cjs: reportOf(cjs, 'eoc-app-par', true) }).toEqual({ eoc: '', esm: '', cjs: '' });
  }, 120_000);

  it('typechecks a strict CommonJS user (node16 resolution) with req.oidc and req.session.oidc typed', async () => {
    expect(reportOf(await typechecks.cjs, 'eoc-app-par', false)).toBe('');
  }, 120_000);

  it('typechecks a strict ESM user (node16 resolution) with req.oidc and req.session.oidc typed', async () => {
    expect(reportOf(await typechecks.esm, 'eoc-app-par', false)).toBe('');
  }, 120_000);

  it('typechecks a strict CommonJS user with the old node10 resolution, express-par/passport included (typesVersions)', async () => {
    expect(await typechecks.node10).toBe('');
  }, 120_000);
});
