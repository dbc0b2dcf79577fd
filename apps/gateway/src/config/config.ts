import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envSchema, type Env, type JwtAlgorithm } from './config.schema.js';
import type { EnvSource } from './env-source.js';

export interface ServerConfig {
  readonly mode: Env['NODE_ENV'];
  readonly host: string;
  readonly port: number;
  readonly logLevel: Env['LOG_LEVEL'];
}
export interface DatabaseConfig {
  readonly url: string;
  readonly adminUrl: string;
  readonly poolMax: number;
}
export interface CacheConfig {
  readonly url: string;
}
export interface GraphConfig {
  readonly url: string;
}
export interface VectorsConfig {
  readonly url: string;
  readonly apiKey: string;
}
export interface AuthConfig {
  readonly jwksUrl: string | undefined;
  readonly publicKeyFile: string | undefined;
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly JwtAlgorithm[];
}
export interface KeysConfig {
  /** The 32-byte master key that wraps every tenant's data key. */
  readonly masterKey: Buffer;
}
export interface AuditConfig {
  readonly signingKeyFile: string;
  readonly archiveUrl: string | undefined;
}
export interface LlmConfig {
  readonly baseUrl: string | undefined;
  readonly apiKey: string | undefined;
  readonly model: string;
}
export interface EmbeddingsConfig {
  readonly baseUrl: string | undefined;
  readonly apiKey: string | undefined;
  readonly model: string;
  readonly dimensions: number | undefined;
}

/** The gateway's whole configuration, one typed object per concern, read once at boot. */
export interface AppConfig {
  readonly server: ServerConfig;
  readonly database: DatabaseConfig;
  readonly cache: CacheConfig;
  readonly graph: GraphConfig;
  readonly vectors: VectorsConfig;
  readonly auth: AuthConfig;
  readonly keys: KeysConfig;
  readonly audit: AuditConfig;
  readonly llm: LlmConfig;
  readonly embeddings: EmbeddingsConfig;
}

/** Thrown when configuration is invalid; `problems` names each bad variable. */
export class ConfigError extends Error {
  readonly code = 'invalid_configuration';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const missingHint = (mode: string) =>
  mode === 'production'
    ? 'required in production'
    : 'required (run `npm run stack:up` to generate development values)';

/** Validates the raw variables and builds the typed configuration, or throws ConfigError. */
export function buildConfig(source: EnvSource): AppConfig {
  const mode = source.NODE_ENV ?? 'development';
  const parsed = envSchema.safeParse(source);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.join('.') || '(root)';
      const absent = source[name] === undefined || source[name] === '';
      problems.push(`${name}: ${absent ? missingHint(mode) : issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const env = parsed.data;
  problems.push(...crossFieldProblems(env));
  const masterKey = readMasterKey(env, problems);
  if (problems.length > 0 || masterKey === undefined) throw new ConfigError(problems);
  return toAppConfig(env, masterKey);
}

function crossFieldProblems(env: Env): string[] {
  const problems: string[] = [];
  if (env.JWT_JWKS_URL === undefined && env.JWT_PUBLIC_KEY_FILE === undefined) {
    problems.push(
      `JWT_JWKS_URL: one of JWT_JWKS_URL or JWT_PUBLIC_KEY_FILE is ${missingHint(env.NODE_ENV)}`,
    );
  }
  if (env.MASTER_KEY === undefined && env.MASTER_KEY_FILE === undefined) {
    problems.push(
      `MASTER_KEY: one of MASTER_KEY or MASTER_KEY_FILE is ${missingHint(env.NODE_ENV)}`,
    );
  }
  if (
    env.LLM_BASE_URL !== undefined &&
    env.LLM_API_KEY === undefined &&
    env.NODE_ENV === 'production'
  ) {
    problems.push('LLM_API_KEY: required in production when LLM_BASE_URL is set');
  }
  if (env.EMBEDDINGS_BASE_URL !== undefined && env.EMBEDDINGS_DIMENSIONS === undefined) {
    problems.push('EMBEDDINGS_DIMENSIONS: required when EMBEDDINGS_BASE_URL is set');
  }
  if (
    env.NODE_ENV === 'production' &&
    env.QDRANT_ALLOW_HTTP !== 'true' &&
    !sendsKeySafely(env.QDRANT_URL)
  ) {
    problems.push(
      'QDRANT_URL: must be https in production unless Qdrant is on this host (or QDRANT_ALLOW_HTTP=true on a private network)',
    );
  }
  return problems;
}

/** Qdrant's API key travels in a header: only over TLS, or without leaving the host. */
function sendsKeySafely(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

const base64Key = z.base64().transform((value) => Buffer.from(value, 'base64'));

function readMasterKey(env: Env, problems: string[]): Buffer | undefined {
  const name = env.MASTER_KEY !== undefined ? 'MASTER_KEY' : 'MASTER_KEY_FILE';
  let raw = env.MASTER_KEY;
  if (raw === undefined && env.MASTER_KEY_FILE !== undefined) {
    try {
      raw = readFileSync(env.MASTER_KEY_FILE, 'utf8').trim();
    } catch {
      problems.push('MASTER_KEY_FILE: cannot be read');
      return undefined;
    }
  }
  if (raw === undefined) return undefined;
  const key = base64Key.safeParse(raw.trim());
  if (!key.success || key.data.length !== 32) {
    problems.push(`${name}: must be 32 bytes, base64-encoded`);
    return undefined;
  }
  return key.data;
}

function toAppConfig(env: Env, masterKey: Buffer): AppConfig {
  return {
    server: { mode: env.NODE_ENV, host: env.HOST, port: env.PORT, logLevel: env.LOG_LEVEL },
    database: {
      url: env.DATABASE_URL,
      adminUrl: env.DATABASE_ADMIN_URL,
      poolMax: env.DATABASE_POOL_MAX,
    },
    cache: { url: env.REDIS_URL },
    graph: { url: env.FALKORDB_URL },
    vectors: { url: env.QDRANT_URL, apiKey: env.QDRANT_API_KEY },
    auth: {
      jwksUrl: env.JWT_JWKS_URL,
      publicKeyFile: env.JWT_PUBLIC_KEY_FILE,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      algorithms: env.JWT_ALGORITHMS,
    },
    keys: { masterKey },
    audit: { signingKeyFile: env.AUDIT_SIGNING_KEY_FILE, archiveUrl: env.AUDIT_ARCHIVE_URL },
    llm: { baseUrl: env.LLM_BASE_URL, apiKey: env.LLM_API_KEY, model: env.LLM_MODEL },
    embeddings: {
      baseUrl: env.EMBEDDINGS_BASE_URL,
      apiKey: env.EMBEDDINGS_API_KEY,
      model: env.EMBEDDINGS_MODEL,
      dimensions: env.EMBEDDINGS_DIMENSIONS,
    },
  };
}
