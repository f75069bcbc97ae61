// Flat config: ESLint's and typescript-eslint's recommended rules over the library, tests, scripts and examples.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const nodeGlobals = Object.fromEntries(
  ['process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'fetch', 'Headers', 'AbortSignal', 'setTimeout', 'clearTimeout'].map((name) => [name, 'readonly']),
);

export default defineConfig(
  // express-openid-connect's examples, vendored as they are (MIT, Auth0's style): not ours to lint.
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'test-output/', '__tests__/fixtures/eoc-examples/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: nodeGlobals },
    rules: {
      // Unused names prefixed with _ are deliberate (Express error handlers need four parameters).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Control characters are matched on purpose: returnTo and hostile-input checks reject them.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['__tests__/**/*.ts'],
    rules: {
      // Tests drive oidc-provider, which ships no types; `any` stays confined to the test helpers.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // The CommonJS example is what a require() user writes.
    files: ['examples/commonjs/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Exporting a just-generated node:crypto key as JWK can deadlock Node 20 and freeze jest (see lib/protocol/dpop.ts).
    files: ['__tests__/**/*.ts'],
    ignores: ['__tests__/helpers/keys.ts'],
    rules: {
      'no-restricted-imports': ['error', ...['node:crypto', 'crypto'].map((name) => ({
        name,
        importNames: ['generateKeyPairSync', 'generateKeyPair'],
        message: 'use generateKeyPairSync from ./helpers/keys.js: its keys are safe to export as JWK on Node 20',
      }))],
    },
  },
);
