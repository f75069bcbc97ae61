/**
 * scripts/test-needs.mjs, the first step of `npm test` (and of .ci/run): its decisions, with os-release
 * text, uid and a PATH of fake executables in a temporary folder injected; apt-get is never really run
 * (a fake `run` "installs" a package by writing its executable). The script itself runs once as a child
 * process, with a PATH that holds no apt-get, so nothing can be installed.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ensureTestNeeds, findMissing, instructions, osFamily, parseOsRelease, plan, type Env,
} from '../scripts/test-needs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const USE_CHROMIUM = 'or use ones you have: CHROMIUM_PATH=/path/to/chromium npm test';
const USE_REDIS = 'or use ones you have: REDIS_SERVER=/path/to/redis-server npm test';
const USE_BOTH = 'or use ones you have: CHROMIUM_PATH=/path/to/chromium REDIS_SERVER=/path/to/redis-server npm test';

const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;
const UBUNTU_22_04 = `PRETTY_NAME="Ubuntu 22.04.5 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.5 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
`;
const UBUNTU_24_04 = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
`;
const RASPBIAN = 'ID=raspbian\nID_LIKE=debian\n';
const MINT = 'ID=linuxmint\nID_LIKE="ubuntu debian"\n';
const FEDORA = 'NAME="Fedora Linux"\nID=fedora\n';

let dir: string;
let count = 0;

/** A new folder for a PATH; `names` become executables in it. */
function binDir(...names: string[]): string {
  const bin = join(dir, `bin-${count++}`);
  mkdirSync(bin);
  for (const name of names) executable(join(bin, name));
  return bin;
}

/** Synchronous, like the spawnSync behind the script's `run`. */
function executable(file: string): void {
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, 0o755);
}

interface Run {
  code: number;
  printed: string[];
  failed: string[];
  commands: string[];
}

/**
 * ensureTestNeeds with a fake `run`: apt-get answers `status` (or the next of a list) and an install
 * that succeeds writes the packages' executables (chromium at `chromium`, the rest into `bin`).
 */
interface EnsureOptions {
  env: Env;
  osRelease: string;
  uid?: number;
  /** Where Chromium is looked for (and "installed"). */
  chromium: string;
  /** Where the other packages are "installed". */
  bin?: string;
  /** apt-get's exit statuses in turn (then 0). */
  status?: number[];
}

async function ensure(opts: EnsureOptions): Promise<Run> {
  const out: Run = { code: -1, printed: [], failed: [], commands: [] };
  const statuses = [...(opts.status ?? [])];
  out.code = await ensureTestNeeds({
    env: opts.env,
    uid: opts.uid ?? 0,
    osRelease: opts.osRelease,
    defaults: { Chromium: opts.chromium },
    run: (command, args) => {
      out.commands.push([command, ...args].join(' '));
      const status = statuses.length > 0 ? statuses.shift()! : 0;
      if (status === 0 && args[0] === 'install') {
        for (const pkg of args.filter((a) => !a.startsWith('-') && a !== 'install')) {
          executable(pkg === 'chromium' ? opts.chromium : join(opts.bin!, pkg));
        }
      }
      return status;
    },
    sleep: async () => undefined,
    print: (line) => out.printed.push(line),
    fail: (line) => out.failed.push(line),
  });
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'express-par-test-needs-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('os-release', () => {
  it.each([
    ['Debian 12', 'debian', DEBIAN_12],
    ['Raspberry Pi OS (ID_LIKE=debian)', 'debian', RASPBIAN],
    ['Ubuntu 22.04', 'ubuntu', UBUNTU_22_04],
    ['Ubuntu 24.04', 'ubuntu', UBUNTU_24_04],
    ['Linux Mint (ID_LIKE="ubuntu debian")', 'ubuntu', MINT],
    ['Fedora', 'other', FEDORA],
    ['no os-release at all', 'other', ''],
  ])('%s is read as the %s family', (_name, family, text) => {
    expect(osFamily(parseOsRelease(text))).toBe(family);
  });

  it('reads quoted and unquoted values', () => {
    const fields = parseOsRelease(UBUNTU_22_04);
    expect(fields).toMatchObject({ ID: 'ubuntu', ID_LIKE: 'debian', VERSION_ID: '22.04', VERSION_CODENAME: 'jammy' });
  });
});

describe('what is missing', () => {
  it('finds nothing missing when Chromium is at its path and the commands are on PATH', async () => {
    const chromium = join(binDir('chromium'), 'chromium');
    expect(findMissing({ PATH: binDir('redis-server', 'openssl') }, { Chromium: chromium })).toEqual([]);
  });

  it('says where it looked for each missing one', async () => {
    const PATH = `${binDir()}:${join(dir, 'nowhere')}`;
    const missing = findMissing({ PATH }, { Chromium: join(dir, 'no-chromium') });
    expect(missing.map((m) => [m.need.name, m.reason])).toEqual([
      ['Chromium', `not at ${join(dir, 'no-chromium')}`],
      ['redis-server', 'not on PATH'],
      ['openssl', 'not on PATH'],
    ]);
  });

  it('looks only where CHROMIUM_PATH and REDIS_SERVER point when they are set', async () => {
    const bin = binDir('redis-server', 'openssl', 'chromium');
    const elsewhere = binDir('my-redis');
    const env = { PATH: bin, CHROMIUM_PATH: join(dir, 'missing-chrome'), REDIS_SERVER: join(elsewhere, 'my-redis') };
    const missing = findMissing(env, { Chromium: join(bin, 'chromium') });
    const reason = `CHROMIUM_PATH=${join(dir, 'missing-chrome')} is not an executable`;
    expect(missing).toEqual([expect.objectContaining({ reason, fromEnv: true })]);
  });

  it('does not take a file without the execute bit, or a folder, for a binary', async () => {
    const bin = binDir();
    await writeFile(join(bin, 'redis-server'), 'not executable');
    await mkdir(join(bin, 'openssl'));
    const missing = findMissing({ PATH: bin }, { Chromium: bin });
    expect(missing.map((m) => m.need.name)).toEqual(['Chromium', 'redis-server', 'openssl']);
  });
});

describe('the plan', () => {
  const all = () => findMissing({ PATH: join(dir, 'nowhere') }, { Chromium: join(dir, 'nowhere', 'chromium') });

  it.each([
    ['Debian as root with apt-get: everything', 'debian', true, true, ['chromium', 'redis-server', 'openssl']],
    ['Ubuntu as root with apt-get: all but Chromium (a snap wrapper)', 'ubuntu', true, true, ['redis-server', 'openssl']],
    ['Debian, not root: nothing', 'debian', false, true, []],
    ['Debian as root without apt-get: nothing', 'debian', true, false, []],
    ['another system as root: nothing', 'other', true, true, []],
  ] as const)('%s', (_name, family, rootUser, aptGet, install) => {
    expect(plan(all(), { family, root: rootUser, aptGet }).install).toEqual(install);
  });

  it('never installs in place of a variable that points nowhere', () => {
    const missing = findMissing({ PATH: join(dir, 'nowhere'), CHROMIUM_PATH: join(dir, 'nope') });
    expect(plan(missing, { family: 'debian', root: true, aptGet: true }).install).toEqual(['redis-server', 'openssl']);
  });

  it.each([
    ['debian', true, `Fix: apt-get install -y chromium redis-server openssl; ${USE_BOTH}`],
    ['debian', false, `Fix: sudo apt-get install -y chromium redis-server openssl; ${USE_BOTH}`],
    ['ubuntu', false, "Fix: sudo apt-get install -y redis-server openssl; install Google Chrome's .deb or a Chromium"],
    ['other', false, `Fix: install Chromium, redis-server, openssl with your package manager; ${USE_BOTH}`],
  ] as const)('on %s (root: %s), one line says what to install and the variables to set', (family, rootUser, fix) => {
    const line = instructions(all(), { family, root: rootUser });
    expect(line).toContain('npm test needs Chromium (not at ');
    expect(line).toContain(fix);
    expect(line).not.toContain('\n');
  });

  it('names a variable that points nowhere instead of offering it as a way out', () => {
    const missing = findMissing({ PATH: join(dir, 'nowhere'), CHROMIUM_PATH: join(dir, 'nope') });
    const line = instructions(missing, { family: 'debian', root: true });
    expect(line).toContain(`Chromium (CHROMIUM_PATH=${join(dir, 'nope')} is not an executable)`);
    expect(line).toContain(`apt-get install -y redis-server openssl; point CHROMIUM_PATH at an executable; ${USE_REDIS}`);
  });
});

describe('ensureTestNeeds', () => {
  it('is a silent no-op when everything is there', async () => {
    const bin = binDir('redis-server', 'openssl', 'apt-get', 'chromium');
    const run = await ensure({ env: { PATH: bin }, osRelease: DEBIAN_12, chromium: join(bin, 'chromium') });
    expect(run).toEqual({ code: 0, printed: [], failed: [], commands: [] });
  });

  it('on Debian as root, says what it installs, installs the missing ones with apt-get and passes', async () => {
    const bin = binDir('openssl', 'apt-get');
    const run = await ensure({ env: { PATH: bin }, osRelease: DEBIAN_12, chromium: join(bin, 'chromium'), bin });
    expect(run.printed).toEqual([
      'npm test needs chromium, redis-server, not found here: running apt-get install -y chromium redis-server',
    ]);
    expect(run.commands).toEqual(['apt-get update -qq', 'apt-get install -y -qq chromium redis-server']);
    expect({ code: run.code, failed: run.failed }).toEqual({ code: 0, failed: [] });
  });

  it('tries apt-get three times, then fails with the one line', async () => {
    const bin = binDir('openssl', 'redis-server', 'apt-get');
    const status = [100, 0, 100, 0, 100];
    const run = await ensure({ env: { PATH: bin }, osRelease: DEBIAN_12, chromium: join(bin, 'chromium'), bin, status });
    expect(run.commands).toEqual([
      'apt-get update -qq',
      'apt-get update -qq', 'apt-get install -y -qq chromium',
      'apt-get update -qq', 'apt-get install -y -qq chromium',
    ]);
    expect(run.code).toBe(1);
    expect(run.failed).toEqual([
      'apt-get install -y chromium failed 3 times',
      `npm test needs Chromium (not at ${join(bin, 'chromium')}). Fix: apt-get install -y chromium; ${USE_CHROMIUM}`,
    ]);
  });

  it.each([
    ['Ubuntu 22.04', UBUNTU_22_04],
    ['Ubuntu 24.04', UBUNTU_24_04],
  ])('on %s as root, installs redis-server, then stops with one line about Chromium', async (_name, osRelease) => {
    const bin = binDir('openssl', 'apt-get');
    const run = await ensure({ env: { PATH: bin }, osRelease, chromium: join(bin, 'chromium'), bin });
    expect(run.commands).toEqual(['apt-get update -qq', 'apt-get install -y -qq redis-server']);
    expect(run.code).toBe(1);
    expect(run.failed).toHaveLength(1);
    expect(run.failed[0]).toMatch(/^npm test needs Chromium \(not at .*\)\. Fix: install Google Chrome's \.deb .* and set CHROMIUM_PATH; /);
    expect(run.failed[0]!.endsWith(`; ${USE_CHROMIUM}`)).toBe(true);
  });

  it('not as root, installs nothing and prints the sudo line', async () => {
    const bin = binDir('openssl', 'apt-get');
    const run = await ensure({ env: { PATH: bin }, osRelease: DEBIAN_12, uid: 1000, chromium: join(bin, 'chromium'), bin });
    expect(run.commands).toEqual([]);
    expect(run.printed).toEqual([]);
    expect(run.code).toBe(1);
    expect(run.failed).toEqual([expect.stringContaining(`Fix: sudo apt-get install -y chromium redis-server; ${USE_BOTH}`)]);
  });

  it('without apt-get (another system), installs nothing and prints the line', async () => {
    const bin = binDir('openssl', 'chromium');
    const run = await ensure({ env: { PATH: bin }, osRelease: FEDORA, chromium: join(bin, 'chromium'), bin });
    expect(run).toEqual({
      code: 1, printed: [], commands: [],
      failed: [`npm test needs redis-server (not on PATH). Fix: install redis-server with your package manager; ${USE_REDIS}`],
    });
  });
});

describe('the script', () => {
  const script = join(root, 'scripts/test-needs.mjs');
  const node = (env: Env) => promisify(execFile)(process.execPath, [script], { env: env as NodeJS.ProcessEnv }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    ({ code, stdout, stderr }: { code: number; stdout: string; stderr: string }) => ({ code, stdout, stderr }),
  );

  it('exits 0 without a word when the variables point at what it needs', async () => {
    const bin = binDir('openssl', 'chromium', 'redis');
    const result = await node({ PATH: bin, CHROMIUM_PATH: join(bin, 'chromium'), REDIS_SERVER: join(bin, 'redis') });
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('exits 1 with one line on stderr when something is missing and apt-get is not on PATH', async () => {
    const bin = binDir('openssl', 'chromium');
    const result = await node({ PATH: bin, CHROMIUM_PATH: join(bin, 'chromium') });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^npm test needs redis-server \(not on PATH\)\. Fix: [^\n]*\n$/);
    expect(result.stderr.endsWith(`; ${USE_REDIS}\n`)).toBe(true);
  });
});
