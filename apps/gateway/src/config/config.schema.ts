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
  AUDIT_ARCHIVE_URL: url(['file', 's3']).optional(),

  LLM_BASE_URL: url(['http', 'https']).optional(),
  LLM_API_KEY: z.string().min(1).optional(),
  LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),

  EMBEDDINGS_BASE_URL: url(['http', 'https']).optional(),
  EMBEDDINGS_API_KEY: z.string().min(1).optional(),
  EMBEDDINGS_MODEL: z.string().min(1).default('text-embedding-3-small'),
  EMBEDDINGS_DIMENSIONS: z.coerce.number().int().min(8).max(8192).optional(),
});

export type Env = z.infer<typeof envSchema>;
