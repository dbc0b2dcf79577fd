import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, ConfigError } from './config.js';
import { parseEnvFile } from './env-source.js';

const dir = mkdtempSync(join(tmpdir(), 'isogate-config-'));
const masterKeyFile = join(dir, 'master.key');
writeFileSync(masterKeyFile, Buffer.alloc(32, 7).toString('base64'));

const valid = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://gw:pw@127.0.0.1:5432/isogate',
  DATABASE_ADMIN_URL: 'postgres://owner:pw@127.0.0.1:5432/isogate',
  QDRANT_API_KEY: 'a-very-long-qdrant-key',
  JWT_JWKS_URL: 'https://idp.example/.well-known/jwks.json',
  JWT_ISSUER: 'https://idp.example/',
  JWT_AUDIENCE: 'isogate',
  MASTER_KEY_FILE: masterKeyFile,
  AUDIT_SIGNING_KEY_FILE: join(dir, 'audit.pem'),
  AUDIT_ARCHIVE_URL: 's3://audit-archive/isogate',
};

function problemsOf(source: Record<string, string | undefined>): readonly string[] {
  try {
    buildConfig(source);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('buildConfig', () => {
  it('builds one typed object per concern from valid variables', () => {
    const config = buildConfig(valid);
    expect(config.server).toEqual({
      mode: 'production',
      host: '127.0.0.1',
      port: 8080,
      logLevel: 'info',
    });
    expect(config.auth.algorithms).toEqual(['RS256', 'ES256', 'EdDSA']);
    expect(config.keys.masterKey).toHaveLength(32);
    expect(config.vectors.url).toBe('http://127.0.0.1:6333');
  });

  it('names every missing secret in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    for (const name of [
      'DATABASE_URL',
      'DATABASE_ADMIN_URL',
      'QDRANT_API_KEY',
      'JWT_ISSUER',
      'JWT_AUDIENCE',
      'AUDIT_SIGNING_KEY_FILE',
    ]) {
      expect(problems).toContainEqual(`${name}: required in production`);
    }
  });

  it('points a developer at the local stack when development values are missing', () => {
    expect(problemsOf({ NODE_ENV: 'development' })).toContainEqual(
      'DATABASE_URL: required (run `npm run stack:up` to generate development values)',
    );
  });

  it.each([
    ['PORT', '70000'],
    ['PORT', 'eighty'],
    ['DATABASE_URL', 'mysql://x@y/z'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['JWT_ALGORITHMS', 'HS256'],
    ['JWT_ALGORITHMS', 'none'],
    ['JWT_ALGORITHMS', 'RS256,HS512'],
    ['LOG_LEVEL', 'chatty'],
    ['NODE_ENV', 'staging'],
  ])('refuses %s=%s and names it', (name, value) => {
    const problems = problemsOf({ ...valid, [name]: value });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith(`${name}`))).toBe(true);
  });

  it('requires one JWT key source and one master key source', () => {
    const problems = problemsOf({ ...valid, JWT_JWKS_URL: undefined, MASTER_KEY_FILE: undefined });
    expect(problems.some((p) => p.startsWith('JWT_JWKS_URL:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('MASTER_KEY:'))).toBe(true);
  });

  it('refuses a master key that is not 32 bytes', () => {
    expect(
      problemsOf({
        ...valid,
        MASTER_KEY_FILE: undefined,
        MASTER_KEY: Buffer.alloc(16).toString('base64'),
      }),
    ).toEqual(['MASTER_KEY: must be 32 bytes, base64-encoded']);
    expect(problemsOf({ ...valid, MASTER_KEY_FILE: join(dir, 'absent') })).toEqual([
      'MASTER_KEY_FILE: cannot be read',
    ]);
  });

  it('needs the embedding dimensions when an embeddings endpoint is configured', () => {
    expect(problemsOf({ ...valid, EMBEDDINGS_BASE_URL: 'http://127.0.0.1:9999/v1' })).toEqual([
      'EMBEDDINGS_DIMENSIONS: required when EMBEDDINGS_BASE_URL is set',
    ]);
  });

  it('needs an explicit audit archive in production, `none` included; defaults it elsewhere', () => {
    const withoutArchive = { ...valid, AUDIT_ARCHIVE_URL: undefined };
    expect(problemsOf(withoutArchive)).toEqual([
      'AUDIT_ARCHIVE_URL: required in production (s3://bucket/prefix, file:///path, or none)',
    ]);
    expect(buildConfig({ ...valid, AUDIT_ARCHIVE_URL: 'none' }).audit.archiveUrl).toBeUndefined();
    expect(problemsOf({ ...valid, AUDIT_ARCHIVE_URL: 'ftp://x/y' }).length).toBeGreaterThan(0);
    expect(buildConfig(valid).audit).toMatchObject({
      archiveUrl: 's3://audit-archive/isogate',
      checkpointIntervalSeconds: 300,
      checkpointEveryEvents: 10_000,
    });
    const test = buildConfig({ ...withoutArchive, NODE_ENV: 'test' }).audit;
    expect(test.archiveUrl).toMatch(/^file:\/\/.*\/\.stack\/archive$/);
    expect([test.checkpointIntervalSeconds, test.checkpointEveryEvents]).toEqual([0, 0]);
  });

  it('refuses to send the Qdrant key over plain http to another host in production', () => {
    expect(problemsOf({ ...valid, QDRANT_URL: 'http://qdrant.internal:6333' })).toEqual([
      'QDRANT_URL: must be https in production unless Qdrant is on this host (or QDRANT_ALLOW_HTTP=true on a private network)',
    ]);
    expect(
      problemsOf({ ...valid, QDRANT_URL: 'http://qdrant:6333', QDRANT_ALLOW_HTTP: 'true' }),
    ).toEqual([]);
    expect(problemsOf({ ...valid, QDRANT_URL: 'https://qdrant.internal:6333' })).toEqual([]);
    expect(problemsOf({ ...valid, QDRANT_URL: 'http://127.0.0.1:6333' })).toEqual([]);
    const development = { ...valid, NODE_ENV: 'development' };
    expect(problemsOf({ ...development, QDRANT_URL: 'http://qdrant:6333' })).toEqual([]);
  });
});

describe('parseEnvFile', () => {
  it('reads KEY=VALUE lines and skips comments and blanks', () => {
    const file = join(dir, 'env');
    writeFileSync(file, '# generated\nA=1\n\nB=x=y\n  C = spaced\n');
    expect(parseEnvFile(file)).toEqual({ A: '1', B: 'x=y', C: 'spaced' });
    expect(parseEnvFile(join(dir, 'missing'))).toEqual({});
  });
});
