#!/usr/bin/env node
/**
 * What `npm test` needs besides node_modules, checked before anything else runs: Chromium (the end-to-end
 * test drives it through playwright-core; a browser is never downloaded), `redis-server` (the multi-instance
 * tests start their own) and the `openssl` command (the mTLS tests make certificates with it).
 *
 * All there: nothing is printed. Something missing, run as root on Debian (or a derivative) with apt-get:
 * it says what it installs and installs it. Where that cannot work (not root, no apt-get, Ubuntu, whose
 * `chromium` is only a wrapper that installs the snap), it prints in one line what to install and the
 * variables that point at existing binaries, and exits 1. A test that needs one of these never skips.
 * `.ci/run` calls this script too: the apt logic lives here only. No dependencies: it runs before `npm ci`.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the suite needs. `env`: the variable that points at an existing binary instead. */
export const NEEDS = [
  { name: 'Chromium', env: 'CHROMIUM_PATH', path: '/usr/bin/chromium', apt: 'chromium', example: '/path/to/chromium' },
  {
    name: 'redis-server', env: 'REDIS_SERVER', command: 'redis-server', apt: 'redis-server',
    example: '/path/to/redis-server',
  },
  { name: 'openssl', command: 'openssl', apt: 'openssl' },
];

const APT_ATTEMPTS = 3;
const APT_PAUSE_MS = 5000;

/** The fields of an os-release file (`KEY=value`, values optionally quoted). */
export function parseOsRelease(text) {
  const fields = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) fields[match[1]] = match[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return fields;
}

/** 'debian' (Debian and derivatives whose `chromium` is a real package), 'ubuntu' (and its derivatives), or 'other'. */
export function osFamily(osRelease) {
  const ids = [osRelease.ID ?? '', ...(osRelease.ID_LIKE ?? '').split(/\s+/)];
  if (ids.includes('ubuntu')) return 'ubuntu';
  return ids.includes('debian') ? 'debian' : 'other';
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable `command` on env.PATH, or undefined. */
export function onPath(command, env) {
  return (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command)).find(isExecutable);
}

/**
 * The needs not met, each with why. A need whose variable is set is looked for there only: a variable that
 * points nowhere is the user's to fix, never a reason to install something else.
 */
export function findMissing(env, defaults = {}) {
  const missing = [];
  for (const need of NEEDS) {
    const given = need.env ? env[need.env] : undefined;
    if (given !== undefined && given !== '') {
      const reason = `${need.env}=${given} is not an executable`;
      if (!isExecutable(given)) missing.push({ need, reason, fromEnv: true });
    } else if (need.path) {
      const path = defaults[need.name] ?? need.path;
      if (!isExecutable(path)) missing.push({ need, reason: `not at ${path}` });
    } else if (!onPath(need.command, env)) {
      missing.push({ need, reason: 'not on PATH' });
    }
  }
  return missing;
}

const UBUNTU_CHROMIUM = "install Google Chrome's .deb or a Chromium that is not the snap "
  + "(Ubuntu's chromium package only installs the snap) and set CHROMIUM_PATH";

/** Whether apt-get on this family of systems installs what the suite needs (Ubuntu's `chromium` is the snap). */
function aptProvides(m, family) {
  return family !== 'other' && !m.fromEnv && !(family === 'ubuntu' && m.need.apt === 'chromium');
}

/** Which missing needs apt-get installs here, now; the rest are the user's (see instructions()). */
export function plan(missing, { family, root, aptGet }) {
  const now = (m) => root && aptGet && aptProvides(m, family);
  return { install: missing.filter(now).map((m) => m.need.apt), manual: missing.filter((m) => !now(m)) };
}

/** One line: what is missing, how to install it here, and the variables that point at existing binaries. */
export function instructions(missing, { family, root }) {
  const viaApt = missing.filter((m) => aptProvides(m, family)).map((m) => m.need.apt);
  const steps = viaApt.length > 0 ? [`${root ? '' : 'sudo '}apt-get install -y ${viaApt.join(' ')}`] : [];
  if (family === 'ubuntu' && missing.some((m) => m.need.apt === 'chromium' && !m.fromEnv)) steps.push(UBUNTU_CHROMIUM);
  const other = family === 'other' ? missing.filter((m) => !m.fromEnv).map((m) => m.need.name) : [];
  if (other.length > 0) steps.push(`install ${other.join(', ')} with your package manager`);
  const badVars = missing.filter((m) => m.fromEnv).map((m) => m.need.env);
  if (badVars.length > 0) steps.push(`point ${badVars.join(' and ')} at an executable`);
  const pointers = missing.filter((m) => m.need.env && !m.fromEnv).map((m) => `${m.need.env}=${m.need.example}`);
  const point = pointers.length > 0 ? `; or use ones you have: ${pointers.join(' ')} npm test` : '';
  const what = missing.map((m) => `${m.need.name} (${m.reason})`).join(', ');
  return `npm test needs ${what}. Fix: ${steps.join('; ')}${point}`;
}

/** apt-get update, then install; each try repeated up to three times (a mirror hiccup is not a failure). */
async function aptInstall(packages, { run, sleep }) {
  for (let attempt = 1; attempt <= APT_ATTEMPTS; attempt++) {
    if (run('apt-get', ['update', '-qq']) === 0 && run('apt-get', ['install', '-y', '-qq', ...packages]) === 0) {
      return true;
    }
    if (attempt < APT_ATTEMPTS) await sleep(APT_PAUSE_MS);
  }
  return false;
}

/**
 * Checks, installs what it can, re-checks. Returns the exit code: 0 when everything is there.
 * deps: env, uid (undefined off POSIX), osRelease (the text of /etc/os-release, '' when absent),
 * run(command, args) → exit status, sleep(ms), print(line) and fail(line), defaults ({ Chromium: path }).
 */
export async function ensureTestNeeds(deps) {
  const missing = findMissing(deps.env, deps.defaults);
  if (missing.length === 0) return 0;
  const family = osFamily(parseOsRelease(deps.osRelease));
  const where = { family, root: deps.uid === 0, aptGet: onPath('apt-get', deps.env) !== undefined };
  const { install } = plan(missing, where);
  if (install.length > 0) {
    deps.print(`npm test needs ${install.join(', ')}, not found here: running apt-get install -y ${install.join(' ')}`);
    const installed = await aptInstall(install, deps);
    if (!installed) deps.fail(`apt-get install -y ${install.join(' ')} failed ${APT_ATTEMPTS} times`);
  }
  const left = install.length > 0 ? findMissing(deps.env, deps.defaults) : missing;
  if (left.length === 0) return 0;
  deps.fail(instructions(left, where));
  return 1;
}

function readOsRelease() {
  for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      // the next one
    }
  }
  return '';
}

// Run as a script (import.meta.url is the real path: compare it with argv[1] resolved through symlinks).
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  const env = process.env;
  const options = { stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } };
  const run = (command, args) => spawnSync(command, args, options).status ?? 1;
  process.exitCode = await ensureTestNeeds({
    env,
    uid: process.getuid?.(),
    osRelease: readOsRelease(),
    run,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    print: (line) => console.log(line),
    fail: (line) => console.error(line),
  });
}
