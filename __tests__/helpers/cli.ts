/**
 * The `express-par` command as a user's shell runs it: a child process. lib/ is compiled once per test file
 * with TypeScript's transpileModule (fast, no type check: `npm run typecheck` does that) into a scratch
 * folder (an ESM package) beside a link to the checkout's node_modules, and run with `node`. package.test.ts
 * runs the bin of the packed package through npx.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface Cli {
  /** The scratch folder (for key and certificate files). */
  dir: string;
  /** Runs `express-par <args>` with only `env` (and PATH) in its environment. */
  run(args: string[], env?: Record<string, string>): Promise<CliRun>;
  close(): Promise<void>;
}

async function transpile(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) {
      await transpile(source, join(to, entry.name));
      continue;
    }
    if (!entry.name.endsWith('.ts')) continue;
    const { outputText } = ts.transpileModule(await readFile(source, 'utf8'), {
      fileName: source,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    await mkdir(to, { recursive: true });
    await writeFile(join(to, entry.name.replace(/\.ts$/, '.js')), outputText);
  }
}

/** Compiles lib/ into a scratch folder; `close()` removes it. */
export async function buildCli(): Promise<Cli> {
  const dir = await mkdtemp(join(tmpdir(), 'express-par-cli-'));
  await transpile(join(root, 'lib'), join(dir, 'lib'));
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const main = join(dir, 'lib', 'cli', 'main.js');
  return {
    dir,
    run: (args, env = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [main, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      }),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

