import { base } from './jest.config.base.mjs';

/** Unit tests: pure logic, no store, fast. */
export default {
  ...base,
  displayName: 'unit',
  testMatch: ['<rootDir>/{apps,libs,bench}/**/*.spec.ts'],
};
