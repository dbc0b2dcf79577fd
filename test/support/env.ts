import { buildConfig, type AppConfig } from '../../apps/gateway/src/config/config.js';
import { loadEnvSource, type EnvSource } from '../../apps/gateway/src/config/env-source.js';

/**
 * The variables tests run with: the local stack's generated values, pointed at the test
 * database so tests never touch development data. Anything in `overrides` wins.
 */
export function testEnv(overrides: Record<string, string | undefined> = {}): EnvSource {
  const source = loadEnvSource({ ...process.env, NODE_ENV: 'test' });
  return {
    ...source,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: source.TEST_DATABASE_URL,
    DATABASE_ADMIN_URL: source.TEST_DATABASE_ADMIN_URL,
    DATABASE_SUPERUSER_URL: source.TEST_DATABASE_SUPERUSER_URL,
    ...overrides,
  };
}

/** A validated configuration for tests. */
export function testConfig(overrides: Record<string, string | undefined> = {}): AppConfig {
  return buildConfig(testEnv(overrides));
}

/** A variable of the test environment that must be present. */
export function requireTestEnv(name: string): string {
  const value = testEnv()[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set: run \`npm run stack:up\` before the integration tests`);
  }
  return value;
}
