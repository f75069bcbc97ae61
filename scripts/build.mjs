#!/usr/bin/env node
/**
 * Builds dist/: ESM (dist/esm) and CommonJS (dist/cjs), both with .d.ts. The two tsc runs go in
 * parallel; output is printed only when a compile fails. jose 6 is ESM-only: the CommonJS build loads it
 * through Node 20.19+'s require(esm).
 *
 * `--out-dir <dir>` builds somewhere else than dist/ (the package test stages a tarball that way, so it
 * never races a build of the checkout).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const flag = process.argv.indexOf('--out-dir');
const outDir = resolve(root, flag === -1 ? 'dist' : process.argv[flag + 1] ?? '');
if (flag !== -1 && !process.argv[flag + 1]) throw new TypeError('--out-dir needs a directory');
// It is emptied first: never the checkout itself or a folder above it.
if (!relative(outDir, root).startsWith('..')) throw new TypeError(`--out-dir ${outDir} would delete the project`);

function compile(project, out) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [tsc, '-p', project, '--outDir', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code) => done({ project, code, output }));
  });
}

await rm(outDir, { recursive: true, force: true });
const results = await Promise.all([compile('tsconfig.build.json', join(outDir, 'esm')), compile('tsconfig.cjs.json', join(outDir, 'cjs'))]);
const failed = results.filter((r) => r.code !== 0);
for (const r of failed) process.stderr.write(`tsc -p ${r.project} failed:\n${r.output}`);
if (failed.length > 0) process.exit(1);

// The package is "type": "module"; this marks dist/cjs as CommonJS for Node and TypeScript.
await mkdir(join(outDir, 'cjs'), { recursive: true });
await writeFile(join(outDir, 'cjs/package.json'), '{\n  "type": "commonjs"\n}\n');

// jose is ESM-only. A CommonJS .d.ts that imports its types needs `resolution-mode: import`, or
// TypeScript (module node16, skipLibCheck off) reports TS1479/TS1541 in the user's build. Types only,
// so the import becomes `import type` (TypeScript 5.3+ reads the attribute in every resolution mode).
const ESM_ONLY = ['jose'];
const esmImport = new RegExp(`^import (?:type )?\\{([^}]*)\\} from '(${ESM_ONLY.join('|')})';$`, 'gm');
for (const name of await readdir(join(outDir, 'cjs'), { recursive: true })) {
  if (!name.endsWith('.d.ts')) continue;
  const file = join(outDir, 'cjs', name);
  const text = await readFile(file, 'utf8');
  const rewritten = text.replace(esmImport, (_all, names, from) =>
    `import type {${names.replace(/\btype\s+/g, '')}} from '${from}' with { 'resolution-mode': 'import' };`);
  if (rewritten !== text) await writeFile(file, rewritten);
}
