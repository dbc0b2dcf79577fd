import { base } from './jest.config.base.mjs';

/** Integration and end-to-end tests: real stores of the local stack, real HTTP. */
export default {
  ...base,
  displayName: 'integration',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
