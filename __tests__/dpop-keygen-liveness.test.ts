/**
 * A per-session DPoP key is made on every DPoP login, so making one must never hang the process. On Node
 * 20, `generateKeyPairSync()` followed by `export({ format: 'jwk' })` deadlocks when a GC lands inside the
 * export (see generateDpopKey): a loop of that pair hung within about 1,000 to 3,000 keys here. The loop
 * runs in a child process, so a regression fails this test (the child is killed) instead of freezing jest.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODULES = ['protocol/dpop', 'crypto/jws', 'core/random'];
const KEYS = 10_000;
const GUARD_MS = 90_000; // a liveness guard, not a speed check: 10,000 keys take a second or two

let dir: string;

beforeAll(async () => {
  // Inside node_modules so that the child resolves `jose` from the project.
  await mkdir(join(root, 'node_modules', '.cache'), { recursive: true });
  dir = await mkdtemp(join(root, 'node_modules', '.cache', 'dpop-liveness-'));
  for (const name of MODULES) {
    const source = await readFile(join(root, 'lib', `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    await mkdir(dirname(join(dir, `${name}.js`)), { recursive: true });
    await writeFile(join(dir, `${name}.js`), outputText);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runChild(script: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), GUARD_MS);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('per-session DPoP keys', () => {
  it(`${KEYS} fresh keys in a row: the process never hangs, and every key is a full P-256 key that signs`, async () => {
    const dpop = pathToFileURL(join(dir, 'protocol', 'dpop.js')).href;
    const script = `
      const { generateDpopKey, createProof, dpopKeyFromJwk } = await import(${JSON.stringify(dpop)});
      const shapes = new Set();
      for (let i = 0; i < ${KEYS}; i++) {
        const { jwk, key } = await generateDpopKey();
        shapes.add([jwk.kty, jwk.crv, jwk.alg, jwk.x.length, jwk.y.length, jwk.d.length].join(' '));
        if (i % 500 === 0) {
          await createProof(key, 'POST', 'https://as.example/token');
          await dpopKeyFromJwk(jwk); // the stored JWK imports back, its public part matching its private part
        }
      }
      console.log(JSON.stringify({ done: ${KEYS}, shapes: [...shapes] }));
    `;
    const result = await runChild(script);
    expect({ code: result.code, signal: result.signal, stderr: result.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({ done: KEYS, shapes: ['EC P-256 ES256 43 43 43'] });
  }, GUARD_MS + 30_000);
});
