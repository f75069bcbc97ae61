/**
 * The published package, as a user gets it: built (scripts/build.mjs into a staging folder, so it never
 * races a build of the checkout), `npm pack`ed, and installed from the tarball into a scratch project in
 * the OS temp dir from the npm cache (no network). Peers and @types come from the checkout's
 * node_modules as symlinks. Used by package.test.ts and examples.test.ts.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const tsc = join(root, 'node_modules/typescript/bin/tsc');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const quiet = {
  ...process.env,
  npm_config_update_notifier: 'false', npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false',
};

export interface Packed {
  /** The .tgz file. */
  tarball: string;
  /** The paths in the tarball, relative to the package root (dist/esm/index.js, LICENSE, …). */
  files: string[];
}

/** Builds into <work>/stage/dist, copies package.json, LICENSE and what `files` lists besides dist, packs it into <work>. */
export async function pack(work: string): Promise<Packed> {
  const stage = join(work, 'stage');
  await run(process.execPath, [join(root, 'scripts/build.mjs'), '--out-dir', join(stage, 'dist')], { cwd: root });
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { files: string[] };
  await writeFile(join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
  // npm adds LICENSE by itself when it is there; the test asserts that it is.
  for (const file of [...manifest.files.filter((f) => f !== 'dist'), 'LICENSE']) {
    await cp(join(root, file), join(stage, file), { recursive: true }).catch(() => undefined);
  }
  const args = ['pack', '--json', '--ignore-scripts', '--pack-destination', work];
  const { stdout } = await run(npm, args, { cwd: stage, env: quiet });
  const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: join(work, info!.filename), files: info!.files.map((f) => f.path) };
}

/**
 * A project at `project` that depends on the tarball. `links` maps a name under its node_modules
 * ('express', '@types/express') to a folder under the checkout's node_modules ('express4' for Express 4).
 */
export async function install(tarball: string, project: string, links: Record<string, string>): Promise<void> {
  await mkdir(project, { recursive: true });
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
  // jose (the one runtime dependency) comes from the npm cache that `npm ci` filled.
  const args = [
    'install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts', '--no-package-lock',
  ];
  await run(npm, args, { cwd: project, env: quiet });
  for (const [name, target] of Object.entries(links)) {
    await mkdir(dirname(join(project, 'node_modules', name)), { recursive: true });
    await symlink(join(root, 'node_modules', target), join(project, 'node_modules', name), 'dir');
  }
}

/** The peers and every @types package of the checkout, linked by their own names. */
export const PEERS_AND_TYPES: Record<string, string> = {
  express: 'express', 'express-session': 'express-session', passport: 'passport', '@types': '@types',
};
