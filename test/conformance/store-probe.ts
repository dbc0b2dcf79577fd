import { Redis } from 'ioredis';
import pg from 'pg';
import { request } from 'undici';
import { MasterKey, QdrantTokens, TENANT_TABLES, tenantNames } from '@isogate/isolation';
import type { AppConfig } from '../../apps/gateway/src/config/config.js';
import { TenantReading } from './sealed.js';

/** A refusal or an answer of a store, reduced to what a case reports. */
export interface StoreAnswer<T> {
  readonly value?: T;
  readonly error?: string;
}

async function attempt<T>(work: () => Promise<T>): Promise<StoreAnswer<T>> {
  try {
    return { value: await work() };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Reads the stores with one tenant's own credentials, derived the way the gateway derives
 * them: PostgreSQL as the gateway role with `app.tenant_id` set, Qdrant with the tenant's
 * collection-scoped JWT, Redis and FalkorDB as the tenant's ACL user. Only Redis keys are
 * listed with the admin connection, because a tenant's cache user may not SCAN.
 */
export class StoreProbe {
  readonly #pool: pg.Pool;
  readonly #masterKey: MasterKey;
  readonly #qdrantTokens: QdrantTokens;
  readonly #admin: Redis;

  constructor(private readonly config: AppConfig) {
    this.#pool = new pg.Pool({ connectionString: config.database.url, max: 2 });
    this.#masterKey = new MasterKey(config.keys.masterKey);
    this.#qdrantTokens = new QdrantTokens({ apiKey: config.vectors.apiKey });
    this.#admin = new Redis(config.cache.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  }

  /** Runs `sql` as the gateway role with the tenant setting `tenantId` ('' = none). */
  async asTenant<R extends pg.QueryResultRow>(
    tenantId: string,
    sql: string,
    params: unknown[] = [],
  ): Promise<R[]> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  /** A fresh reading for `tenantId`, able to open what its data keys sealed. */
  async reading(tenantId: string): Promise<TenantReading> {
    const rows = await this.asTenant<{ wrapped_key: Buffer }>(
      tenantId,
      'SELECT wrapped_key FROM tenant_keys',
    );
    const keys = rows.map((r) => this.#masterKey.unwrap(tenantId, r.wrapped_key));
    return new TenantReading(tenantId, keys);
  }

  /** Every row of every tenant table the tenant setting shows; rows per table. */
  async postgres(
    tenantId: string,
    reading: TenantReading,
  ): Promise<Record<string, number | string>> {
    const counts: Record<string, number | string> = {};
    for (const table of TENANT_TABLES) {
      const rows = await attempt(() => this.asTenant(tenantId, `SELECT * FROM ${table}`));
      reading.add(rows.value ?? []);
      counts[table] = rows.value?.length ?? `refused: ${rows.error ?? ''}`;
    }
    return counts;
  }

  /** Qdrant's REST API with the tenant's JWT. */
  async qdrant(tenantId: string, method: 'GET' | 'POST', path: string, body?: unknown) {
    const token = await this.#qdrantTokens.forTenant(tenantId);
    const answer = await request(`${this.config.vectors.url}${path}`, {
      method,
      headers: { 'api-key': token, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await answer.body.text();
    return {
      status: answer.statusCode,
      json: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
    };
  }

  /** Every point of `collectionOf`'s collection that the tenant's JWT may scroll. */
  async scroll(tenantId: string, collectionOf: string, reading?: TenantReading) {
    let offset: unknown = null;
    let points = 0;
    for (let page = 0; page < 100; page++) {
      const answer = await this.qdrant(
        tenantId,
        'POST',
        `/collections/${tenantNames(collectionOf).collection}/points/scroll`,
        {
          limit: 256,
          with_payload: true,
          with_vector: false,
          ...(offset !== null ? { offset } : {}),
        },
      );
      if (answer.status !== 200) return { status: answer.status, points };
      const result = answer.json.result as { points: unknown[]; next_page_offset: unknown };
      points += result.points.length;
      reading?.add(result.points);
      offset = result.next_page_offset ?? null;
      if (offset === null) break;
    }
    return { status: 200, points };
  }

  /** The keys under `tenantId`'s prefix, listed with the admin connection. */
  async cacheKeys(tenantId: string): Promise<string[]> {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.#admin.scan(
        cursor,
        'MATCH',
        `${tenantNames(tenantId).keyPrefix}*`,
        'COUNT',
        500,
      );
      cursor = next;
      for (const key of batch) keys.add(key);
    } while (cursor !== '0');
    return [...keys];
  }

  /** Runs `work` on a connection as `tenantId`'s ACL user of the cache or the graph store. */
  async asAclUser<T>(
    store: 'redis' | 'falkordb',
    tenantId: string,
    work: (r: Redis) => Promise<T>,
  ): Promise<StoreAnswer<T>> {
    const url = store === 'redis' ? this.config.cache.url : this.config.graph.url;
    const connection = new Redis(url, {
      username: tenantNames(tenantId).aclUser,
      password: this.#masterKey.storeSecret(store, tenantId),
      lazyConnect: true,
      enableReadyCheck: false,
      disableClientInfo: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    connection.on('error', () => undefined);
    try {
      await connection.connect();
      return await attempt(() => work(connection));
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    } finally {
      connection.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
    this.#admin.disconnect();
  }
}
