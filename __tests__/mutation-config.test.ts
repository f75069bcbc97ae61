/**
 * `npm run mutation` is not part of `npm test` (it is slow), so nothing else would notice when a module
 * moves or a test file is renamed and the mutation run quietly falls back to the wrong tests. This pins
 * its configuration: every mutated module exists and names the unit tests that pin it, and those exist.
 */
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
// @ts-expect-error -- plain JavaScript configuration files without declarations
import stryker from '../stryker.config.mjs';
// @ts-expect-error -- plain JavaScript configuration files without declarations
import { TESTS } from '../jest.stryker.config.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const exists = (path: string) => access(join(root, path)).then(() => true, () => false);
const mutate = (stryker as { mutate: string[] }).mutate;
const tests = TESTS as Record<string, string[]>;

describe('the mutation-testing configuration', () => {
  it('mutates the security-critical modules, each present in lib/', async () => {
    const critical = [
      'lib/protocol/callback.ts', 'lib/protocol/id-token.ts', 'lib/crypto/jws.ts', 'lib/state/transactions.ts',
      'lib/state/session.ts', 'lib/state/login.ts', 'lib/protocol/return-to.ts', 'lib/config/resolve.ts',
      'lib/config/client-auth.ts', 'lib/config/signing.ts', 'lib/config/params.ts', 'lib/config/routes.ts',
      'lib/protocol/client-auth.ts', 'lib/protocol/dpop.ts', 'lib/protocol/provider-report.ts',
      'lib/protocol/logout-token.ts', 'lib/state/logout-records.ts', 'lib/protocol/userinfo.ts',
      'lib/express/redirect.ts', 'lib/crypto/jose-errors.ts', 'lib/protocol/browser.ts',
    ];
    for (const module of critical) {
      expect(mutate).toContain(module);
    }
    for (const module of mutate) expect({ module, exists: await exists(module) }).toEqual({ module, exists: true });
  });

  it('names, for every mutated module, test files that exist (so `--mutate <file>` runs its own tests)', async () => {
    expect(Object.keys(tests).sort()).toEqual([...mutate].sort());
    for (const [module, files] of Object.entries(tests)) {
      expect(files.length).toBeGreaterThan(0);
      for (const name of files) {
        const file = `__tests__/${name}.test.ts`;
        expect({ module, file, exists: await exists(file) }).toEqual({ module, file, exists: true });
      }
    }
  });
});
