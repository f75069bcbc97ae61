/**
 * EXPRESS_MAJOR=4 runs the suite against Express 4 (the `express4` dev dependency, npm:express@4):
 * every `import ... from 'express'` in tests and helpers resolves to it. The library itself only
 * imports Express types, so nothing else changes.
 */
const express4 = process.env.EXPRESS_MAJOR === '4';

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    ...(express4 ? { '^express$': 'express4', '^express/(.*)$': 'express4/$1' } : {}),
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  testTimeout: 30000,
};
