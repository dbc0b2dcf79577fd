import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';

/**
 * The integration tests' stores in containers (`TEST_STORES=containers`), for machines with a
 * Docker engine. Writes an env file with the same variables as the local stack's `.stack/env`
 * and returns its path; the containers stay up until `stopContainerStores`.
 */
// Jest loads global setup and teardown separately; only globals are shared between them.
const holder = globalThis as typeof globalThis & { isogateContainers?: StartedTestContainer[] };
const started = (holder.isogateContainers ??= []);

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

async function startPostgres(
  passwords: Record<'owner' | 'gateway' | 'dba', string>,
): Promise<StartedTestContainer> {
  const sql = ['isogate', 'isogate_test']
    .map(
      (db) => `CREATE DATABASE ${db} OWNER isogate_owner;
REVOKE ALL ON DATABASE ${db} FROM PUBLIC;
GRANT CONNECT ON DATABASE ${db} TO isogate_gateway;
\\c ${db}
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO isogate_owner;
GRANT USAGE ON SCHEMA public TO isogate_gateway;
\\c postgres`,
    )
    .join('\n');
  const init = `CREATE ROLE isogate_owner LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${passwords.owner}';
CREATE ROLE isogate_gateway LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT PASSWORD '${passwords.gateway}';
CREATE ROLE isogate_dba LOGIN SUPERUSER PASSWORD '${passwords.dba}';
${sql}
`;
  return new GenericContainer('postgres:15')
    .withEnvironment({ POSTGRES_PASSWORD: hex(16) })
    .withCopyContentToContainer([
      { content: init, target: '/docker-entrypoint-initdb.d/10-isogate.sql' },
    ])
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
}

/** Starts the four stores, migrates both databases, and writes the env file. */
export async function startContainerStores(): Promise<string> {
  const passwords = { owner: hex(16), gateway: hex(16), dba: hex(16) };
  const qdrantKey = hex(32);
  const [postgres, redis, falkordb, qdrant] = await Promise.all([
    startPostgres(passwords),
    new GenericContainer('redis:7').withExposedPorts(6379).start(),
    new GenericContainer('falkordb/falkordb:v4.16.3').withExposedPorts(6379).start(),
    new GenericContainer('qdrant/qdrant:v1.16.3')
      .withEnvironment({ QDRANT__SERVICE__API_KEY: qdrantKey, QDRANT__SERVICE__JWT_RBAC: 'true' })
      .withExposedPorts(6333)
      .withWaitStrategy(Wait.forHttp('/readyz', 6333))
      .start(),
  ]);
  started.push(postgres, redis, falkordb, qdrant);

  const dir = resolve(process.cwd(), '.stack/containers');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secrets = writeSecrets(dir);
  const pg = (role: string, password: string, db: string) =>
    `postgres://${role}:${password}@${postgres.getHost()}:${postgres.getMappedPort(5432)}/${db}`;
  const env: Record<string, string> = {
    DATABASE_URL: pg('isogate_gateway', passwords.gateway, 'isogate'),
    DATABASE_ADMIN_URL: pg('isogate_owner', passwords.owner, 'isogate'),
    DATABASE_SUPERUSER_URL: pg('isogate_dba', passwords.dba, 'isogate'),
    TEST_DATABASE_URL: pg('isogate_gateway', passwords.gateway, 'isogate_test'),
    TEST_DATABASE_ADMIN_URL: pg('isogate_owner', passwords.owner, 'isogate_test'),
    TEST_DATABASE_SUPERUSER_URL: pg('isogate_dba', passwords.dba, 'isogate_test'),
    REDIS_URL: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
    FALKORDB_URL: `redis://${falkordb.getHost()}:${falkordb.getMappedPort(6379)}`,
    QDRANT_URL: `http://${qdrant.getHost()}:${qdrant.getMappedPort(6333)}`,
    QDRANT_API_KEY: qdrantKey,
    ...secrets,
    AUDIT_ARCHIVE_URL: `file://${join(dir, 'archive')}`,
    JWT_ISSUER: 'isogate-dev',
    JWT_AUDIENCE: 'isogate',
    JWT_ALGORITHMS: 'ES256,RS256,EdDSA',
  };
  for (const url of [env.DATABASE_ADMIN_URL, env.TEST_DATABASE_ADMIN_URL]) {
    execFileSync(process.execPath, ['scripts/migrate.mjs'], {
      env: { ...process.env, DATABASE_ADMIN_URL: url },
      stdio: 'inherit',
    });
  }
  const file = join(dir, 'env');
  writeFileSync(
    file,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
    { mode: 0o600 },
  );
  return file;
}

function writeSecrets(dir: string): Record<string, string> {
  const write = (name: string, content: string) => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    return join(dir, name);
  };
  const audit = generateKeyPairSync('ed25519');
  const jwt = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    MASTER_KEY_FILE: write('master.key', randomBytes(32).toString('base64')),
    AUDIT_SIGNING_KEY_FILE: write(
      'audit-signing.pem',
      audit.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ),
    JWT_PUBLIC_KEY_FILE: write(
      'jwt-dev.pub.pem',
      jwt.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ),
    JWT_DEV_PRIVATE_KEY_FILE: write(
      'jwt-dev.key.pem',
      jwt.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ),
  };
}

/** Stops what `startContainerStores` started. */
export async function stopContainerStores(): Promise<void> {
  await Promise.all(started.splice(0).map((c) => c.stop()));
}
