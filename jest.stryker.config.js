/**
 * The Jest configuration that mutation testing runs (`npm run mutation`, see stryker.config.mjs): the
 * unit tests of the mutated modules. With per-test coverage Stryker reruns, for each mutant, every test
 * that executed the mutated line; the suites that drive whole logins over HTTP execute nearly every line
 * (about 20 s per mutant), so they stay out. When scripts/mutation.mjs is given `--mutate <files>`, only
 * those modules' test files run, so one module takes minutes. `npm test` does not use this file.
 */
import base from './jest.config.js';

/** Test files (in __tests__/, without .test.ts) that pin each mutated module. */
export const TESTS = {
  'lib/protocol/callback.ts': ['callback', 'protocol-steps'],
  'lib/protocol/id-token.ts': ['id-token', 'protocol-steps'],
  'lib/crypto/jws.ts': ['jws', 'id-token'],
  'lib/state/transactions.ts': ['transactions'],
  'lib/state/session.ts': ['session'],
  'lib/state/token-claims.ts': ['token-claims', 'login-session'],
  'lib/state/login.ts': ['login-session', 'around-login-units', 'session-budget', 'refresh-claims', 'backchannel-records'],
  'lib/protocol/return-to.ts': ['return-to'],
  'lib/config/resolve.ts': ['config', 'config.options', 'config.fapi2'],
  'lib/config/client-auth.ts': ['config', 'config.options', 'config.fapi2'],
  'lib/config/signing.ts': ['config', 'config.options', 'config.fapi2'],
  'lib/config/params.ts': ['config', 'config.options', 'around-login-units'],
  'lib/config/routes.ts': ['config', 'config.options'],
  'lib/protocol/client-auth.ts': ['client-auth', 'client-auth-units'],
  'lib/protocol/dpop.ts': ['dpop', 'dpop-proof'],
  'lib/protocol/provider-report.ts': ['provider-check', 'tls'],
  'lib/protocol/logout-token.ts': ['logout-token', 'backchannel-logout'],
  'lib/state/logout-records.ts': ['backchannel-records', 'backchannel-logout'],
  'lib/protocol/userinfo.ts': ['userinfo-response', 'userinfo'],
  'lib/express/redirect.ts': ['redirect'],
  'lib/express/oidc-property.ts': ['oidc-property', 'eoc-auth'],
  'lib/crypto/jose-errors.ts': ['id-token', 'logout-token', 'userinfo-response'],
  'lib/protocol/browser.ts': ['around-login-units', 'errors'],
  'lib/protocol/step-up.ts': ['step-up-units'],
  'lib/state/step-up.ts': ['step-up-units'],
};

const asked = (process.env.EXPRESS_PAR_MUTATE ?? '').split(',').map((f) => f.trim().replace(/^\.\//, '').replace(/:.*$/, '')).filter(Boolean);
const modules = asked.length > 0 && asked.every((f) => f in TESTS) ? asked : Object.keys(TESTS);
const files = [...new Set(modules.flatMap((m) => TESTS[m]))];

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: files.map((name) => `**/__tests__/${name}.test.ts`),
};
