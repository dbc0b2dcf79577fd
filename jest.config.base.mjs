/** Shared Jest settings: native ESM (NestJS 12 ships ESM only) through ts-jest. */
export const base = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // Every workspace library is @isogate/<name> at libs/<name>/src/index.ts, as in tsconfig.
    '^@isogate/([a-z-]+)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: '<rootDir>/tsconfig.json', diagnostics: false },
    ],
  },
  rootDir: '.',
};
