// Mutation testing with StrykerJS: `npm run mutation` (all security-critical modules) or
// `npm run mutation -- --mutate lib/protocol/return-to.ts` (one module). Slow: not part of `npm test` or CI.
// The JSON report goes to Stryker's default path, reports/mutation/mutation.json.


/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  // Jest runs the TypeScript sources as ES modules (ts-jest ESM), which needs this flag.
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: {
    projectType: 'custom',
    configFile: 'jest.stryker.config.js',
    enableFindRelatedTests: false,
  },
  coverageAnalysis: 'perTest',
  mutate: [
    'lib/protocol/callback.ts',
    'lib/protocol/id-token.ts',
    'lib/state/transactions.ts',
    'lib/state/session.ts',
    'lib/state/login.ts',
    'lib/state/token-claims.ts',
    'lib/protocol/return-to.ts',
    'lib/config/resolve.ts',
    'lib/config/client-auth.ts',
    'lib/config/signing.ts',
    'lib/config/params.ts',
    'lib/config/routes.ts',
    'lib/protocol/client-auth.ts',
    'lib/protocol/dpop.ts',
    'lib/protocol/provider-report.ts',
    'lib/crypto/jws.ts',
    'lib/protocol/logout-token.ts',
    'lib/state/logout-records.ts',
    'lib/protocol/userinfo.ts',
    'lib/express/redirect.ts',
    'lib/express/oidc-property.ts',
    'lib/crypto/jose-errors.ts',
    'lib/protocol/browser.ts',
    'lib/protocol/step-up.ts',
    'lib/state/step-up.ts',
  ],
  reporters: ['clear-text', 'progress', 'json', 'html'],
  // The machine is shared: one test process unless told otherwise (--concurrency N).
  concurrency: 1,
  timeoutMS: 10000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
