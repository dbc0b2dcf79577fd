import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const url = (protocols: readonly string[]) =>
  z.url().refine((value) => protocols.some((p) => value.startsWith(`${p}:`)), {
    message: `must start with ${protocols.map((p) => `${p}:`).join(' or ')}`,
  });
const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

/** One entry of LLM_MODELS: a model id, `=`, its context window in tokens. */
const MODEL_ENTRY = /^[^=\s]{1,200}=[1-9][0-9]{3,7}$/;

/** JWT algorithms the gateway may accept; `none` and HS* can never be configured. */
export const JWT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/**
 * Every variable the gateway reads, flat, as operators write them. Secrets have no default
 * here: development defaults come from the local stack's generated env file instead.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(8080),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: url(['postgres', 'postgresql']),
  DATABASE_ADMIN_URL: url(['postgres', 'postgresql']),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),

  REDIS_URL: url(['redis', 'rediss']).default('redis://127.0.0.1:6379'),
  FALKORDB_URL: url(['redis', 'rediss']).default('redis://127.0.0.1:6380'),
  /** How long a request waits for its quota in Redis before per-process limits apply. */
  QUOTA_REDIS_TIMEOUT_MS: z.coerce.number().int().min(10).max(5_000).default(200),
  /** After Redis failed a quota call, how long limits stay per process before Redis is retried. */
  QUOTA_REDIS_RETRY_MS: z.coerce.number().int().min(100).max(300_000).default(5_000),
  /** Tenants that keep an open connection to Redis and to FalkorDB (least recently used closed). */
  TENANT_CONNECTIONS_MAX: z.coerce.number().int().min(1).max(100_000).default(256),
  QDRANT_URL: url(['http', 'https']).default('http://127.0.0.1:6333'),
  QDRANT_API_KEY: z.string().min(16, 'must be at least 16 characters'),
  /** Plain http to a Qdrant on another host in production, for a private network only. */
  QDRANT_ALLOW_HTTP: z.enum(['true', 'false']).default('false'),

  JWT_JWKS_URL: url(['http', 'https']).optional(),
  JWT_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  JWT_ISSUER: z.string().min(1),
  JWT_AUDIENCE: z.string().min(1),
  JWT_ALGORITHMS: csv
    .pipe(z.array(z.enum(JWT_ALGORITHMS)).min(1))
    .default(['RS256', 'ES256', 'EdDSA']),

  MASTER_KEY: z.string().min(1).optional(),
  MASTER_KEY_FILE: z.string().min(1).optional(),

  AUDIT_SIGNING_KEY_FILE: z.string().min(1),
  /** Where signed checkpoints and their segments go; `none` runs without an archive. */
  AUDIT_ARCHIVE_URL: z.union([z.literal('none'), url(['file', 's3'])]).optional(),
  /** An S3-compatible endpoint other than AWS (path-style addressing), and the bucket's region. */
  AUDIT_ARCHIVE_S3_ENDPOINT: url(['http', 'https']).optional(),
  AUDIT_ARCHIVE_S3_REGION: z.string().min(1).optional(),
  /** A chain gets a checkpoint when its oldest unsigned event is this old (0: never by age). */
  AUDIT_CHECKPOINT_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).optional(),
  /** ... or when this many events wait (0: never by count). */
  AUDIT_CHECKPOINT_EVERY_EVENTS: z.coerce.number().int().min(0).max(1_000_000).optional(),

  LLM_BASE_URL: url(['http', 'https']).optional(),
  LLM_API_KEY: z.string().min(1).optional(),
  /** The model catalog (YAML or JSON): upstreams, their attributes, logical models. */
  MODELS_FILE: z.string().min(1).optional(),
  LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** The default model's context window in tokens. */
  LLM_CONTEXT_TOKENS: z.coerce.number().int().min(1024).max(10_000_000).default(8192),
  /** More models offered besides LLM_MODEL, each with its window: `id=tokens,id=tokens`. */
  LLM_MODELS: csv.pipe(z.array(z.string().regex(MODEL_ENTRY, 'must be id=tokens'))).default([]),
  /** Tokens reserved for the answer when a request does not set max_tokens. */
  LLM_MAX_OUTPUT_TOKENS: z.coerce.number().int().min(16).max(1_000_000).default(1024),
  LLM_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
  LLM_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** Hosts answers may link to or show images from; every other link and image is removed. */
  ANSWER_LINK_HOSTS: csv.default([]),
  /** How long a chat answer stays in the tenant's response cache; 0 turns the cache off. */
  CHAT_CACHE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400 * 30)
    .default(300),

  EMBEDDINGS_BASE_URL: url(['http', 'https']).optional(),
  EMBEDDINGS_API_KEY: z.string().min(1).optional(),
  EMBEDDINGS_MODEL: z.string().min(1).default('text-embedding-3-small'),
  EMBEDDINGS_DIMENSIONS: z.coerce.number().int().min(8).max(8192).optional(),
});

export type Env = z.infer<typeof envSchema>;
