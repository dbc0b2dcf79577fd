import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CatalogError,
  catalogFromEnvSettings,
  loadCatalog,
  type LogicalModel,
  type ModelCatalog,
} from '@isogate/models';
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
  /** Tenants that keep an open connection (least recently used closed beyond). */
  readonly maxTenants: number;
}
export interface GraphConfig {
  readonly url: string;
  /** Tenants that keep an open connection (least recently used closed beyond). */
  readonly maxTenants: number;
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
  /** `file://` or `s3://`; undefined when the deployment runs without an archive (`none`). */
  readonly archiveUrl: string | undefined;
  readonly archiveS3Endpoint: string | undefined;
  readonly archiveS3Region: string | undefined;
  /** Checkpoint rules (both 0: the gateway does not checkpoint in the background). */
  readonly checkpointIntervalSeconds: number;
  readonly checkpointEveryEvents: number;
}
/** A model the gateway offers and the size of its context window. */
export interface ModelConfig {
  readonly id: string;
  readonly contextTokens: number;
}
export interface LlmConfig {
  /** Unset: chat answers extractively (the best passages, cited), without a model. */
  readonly baseUrl: string | undefined;
  readonly apiKey: string | undefined;
  /** The default model; first of `models`. */
  readonly model: string;
  readonly models: readonly ModelConfig[];
  readonly maxOutputTokens: number;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Hosts answers may link to; other links and images are removed from answers. */
  readonly linkHosts: readonly string[];
  /** Response cache lifetime in seconds; 0 = off. */
  readonly cacheTtlSeconds: number;
}
export interface EmbeddingsConfig {
  readonly baseUrl: string | undefined;
  readonly apiKey: string | undefined;
  readonly model: string;
  readonly dimensions: number | undefined;
}
/**
 * The model upstreams and logical models: from MODELS_FILE, or else the LLM_* and EMBEDDINGS_*
 * endpoints as a catalog of one upstream per model, whose attributes are unknown.
 */
export interface ModelsConfig {
  readonly catalog: ModelCatalog;
  /** The embeddings model every tenant's vectors come from (the catalog's first), if any. */
  readonly embeddings: LogicalModel | undefined;
}
export interface QuotaConfig {
  /** How long a request waits for its quota in Redis before per-process limits apply. */
  readonly redisTimeoutMs: number;
  /** After a Redis failure, how long quotas stay per process before Redis is tried again. */
  readonly redisRetryMs: number;
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
  readonly models: ModelsConfig;
  readonly quota: QuotaConfig;
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
  const config = toAppConfig(env, masterKey);
  const catalog = readCatalog(env, source, config, problems);
  if (catalog === undefined) throw new ConfigError(problems);
  const embeddings = catalog.models.find((model) => model.purpose === 'embeddings');
  return { ...config, models: { catalog, embeddings } };
}

/** The catalog of MODELS_FILE (its problems named entry by entry), or of the LLM_* settings. */
function readCatalog(
  env: Env,
  source: EnvSource,
  config: Omit<AppConfig, 'models'>,
  problems: string[],
): ModelCatalog | undefined {
  if (env.MODELS_FILE === undefined) return catalogFromEnvSettings(config);
  let text: string;
  try {
    text = readFileSync(env.MODELS_FILE, 'utf8');
  } catch {
    problems.push('MODELS_FILE: cannot be read');
    return undefined;
  }
  try {
    return loadCatalog(text, source);
  } catch (error) {
    if (!(error instanceof CatalogError)) throw error;
    problems.push(...error.problems);
    return undefined;
  }
}

/** LLM_MODEL with its window first, then the other LLM_MODELS entries (a repeat of it ignored). */
function modelsOf(env: Env): ModelConfig[] {
  const models: ModelConfig[] = [{ id: env.LLM_MODEL, contextTokens: env.LLM_CONTEXT_TOKENS }];
  for (const entry of env.LLM_MODELS) {
    const at = entry.lastIndexOf('=');
    const id = entry.slice(0, at);
    if (!models.some((model) => model.id === id)) {
      models.push({ id, contextTokens: Number(entry.slice(at + 1)) });
    }
  }
  return models;
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
  if (env.NODE_ENV === 'production' && env.AUDIT_ARCHIVE_URL === undefined) {
    // Running without an archive must be a decision, never an omission.
    problems.push(
      'AUDIT_ARCHIVE_URL: required in production (s3://bucket/prefix, file:///path, or none)',
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

/**
 * The audit settings. Outside production the archive defaults to `.stack/archive`. Tests start
 * many gateways on one shared database, so there the background checkpointer is off unless a
 * test turns it on (the checkpointer is also callable directly).
 */
function auditConfigOf(env: Env): AuditConfig {
  const archive =
    env.AUDIT_ARCHIVE_URL ?? pathToFileURL(resolve(process.cwd(), '.stack/archive')).href;
  const test = env.NODE_ENV === 'test';
  return {
    signingKeyFile: env.AUDIT_SIGNING_KEY_FILE,
    archiveUrl: archive === 'none' ? undefined : archive,
    archiveS3Endpoint: env.AUDIT_ARCHIVE_S3_ENDPOINT,
    archiveS3Region: env.AUDIT_ARCHIVE_S3_REGION,
    checkpointIntervalSeconds: env.AUDIT_CHECKPOINT_INTERVAL_SECONDS ?? (test ? 0 : 300),
    checkpointEveryEvents: env.AUDIT_CHECKPOINT_EVERY_EVENTS ?? (test ? 0 : 10_000),
  };
}

function toAppConfig(env: Env, masterKey: Buffer): Omit<AppConfig, 'models'> {
  return {
    server: { mode: env.NODE_ENV, host: env.HOST, port: env.PORT, logLevel: env.LOG_LEVEL },
    database: {
      url: env.DATABASE_URL,
      adminUrl: env.DATABASE_ADMIN_URL,
      poolMax: env.DATABASE_POOL_MAX,
    },
    cache: { url: env.REDIS_URL, maxTenants: env.TENANT_CONNECTIONS_MAX },
    graph: { url: env.FALKORDB_URL, maxTenants: env.TENANT_CONNECTIONS_MAX },
    vectors: { url: env.QDRANT_URL, apiKey: env.QDRANT_API_KEY },
    auth: {
      jwksUrl: env.JWT_JWKS_URL,
      publicKeyFile: env.JWT_PUBLIC_KEY_FILE,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      algorithms: env.JWT_ALGORITHMS,
    },
    keys: { masterKey },
    audit: auditConfigOf(env),
    llm: {
      baseUrl: env.LLM_BASE_URL,
      apiKey: env.LLM_API_KEY,
      model: env.LLM_MODEL,
      models: modelsOf(env),
      maxOutputTokens: env.LLM_MAX_OUTPUT_TOKENS,
      timeoutMs: env.LLM_TIMEOUT_MS,
      maxRetries: env.LLM_MAX_RETRIES,
      linkHosts: env.ANSWER_LINK_HOSTS.map((host) => host.toLowerCase()),
      cacheTtlSeconds: env.CHAT_CACHE_TTL_SECONDS,
    },
    embeddings: {
      baseUrl: env.EMBEDDINGS_BASE_URL,
      apiKey: env.EMBEDDINGS_API_KEY,
      model: env.EMBEDDINGS_MODEL,
      dimensions: env.EMBEDDINGS_DIMENSIONS,
    },
    quota: { redisTimeoutMs: env.QUOTA_REDIS_TIMEOUT_MS, redisRetryMs: env.QUOTA_REDIS_RETRY_MS },
  };
}
