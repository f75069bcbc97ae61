#!/usr/bin/env node
/**
 * `npm run mutation [-- <stryker options>]`: `stryker run` with stryker.config.mjs. With
 * `--mutate lib/protocol/return-to.ts` (comma-separated for several) only that module is mutated and only its
 * test files run (jest.stryker.config.js reads EXPRESS_PAR_MUTATE).
 *
 * StrykerJS 10 declares Node.js >= 22 and refuses to start on older versions, while the project (and
 * this machine) runs Node.js 20.19+. Its runner works on Node 20 (dry runs and mutant runs checked), so
 * on Node < 22 the start-up version check is told 22. Drop this shim once the project is on Node 22, or
 * when it pins StrykerJS 9 (which declares Node >= 20).
 */
const args = process.argv.slice(2);
const at = args.findIndex((a) => a === '--mutate' || a === '-m' || a.startsWith('--mutate='));
if (at !== -1) {
  process.env.EXPRESS_PAR_MUTATE = args[at].startsWith('--mutate=') ? args[at].slice('--mutate='.length) : (args[at + 1] ?? '');
}
if (Number(process.versions.node.split('.')[0]) < 22) {
  Object.defineProperty(process, 'version', { value: 'v22.0.0' });
}
const { StrykerCli } = await import('@stryker-mutator/core');
process.title = 'stryker';
new StrykerCli([process.argv[0], 'stryker', 'run', ...args]).run();
