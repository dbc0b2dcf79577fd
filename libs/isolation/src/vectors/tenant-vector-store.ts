import { TenantContext } from '../context/tenant-context.js';
import { IsogateError } from '../errors/isogate-error.js';
import { collectionOf } from '../provisioning/store-names.js';
import { QdrantHttp } from './qdrant-http.js';
import { QdrantTokens } from './qdrant-tokens.js';
import { scoped, type VectorFilter } from './vector-filter.js';

export { scoped } from './vector-filter.js';
export type { VectorCondition, VectorFilter, VectorMatch, VectorRange } from './vector-filter.js';

/** One chunk to store: its text feeds Qdrant's server-side BM25. */
export interface VectorPoint {
  /** A UUID or an unsigned integer, as Qdrant requires. */
  readonly id: string | number;
  readonly text: string;
  /** The chunk's embedding, when embeddings are configured (the collection then has `dense`). */
  readonly dense?: readonly number[];
  readonly payload: Readonly<Record<string, unknown>>;
}

/** A search: BM25 on `text`, fused (reciprocal rank) with a dense search when `dense` is given. */
export interface VectorQuery {
  readonly text: string;
  readonly dense?: readonly number[];
  /** 1 to 1,000. */
  readonly limit: number;
  readonly offset?: number;
  readonly scoreThreshold?: number;
  readonly filter?: VectorFilter;
}

/** A point as the store returned it, already checked to belong to the current tenant. */
export interface VectorHit {
  readonly id: string;
  readonly score: number;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** How the data plane reaches Qdrant. */
export interface TenantVectorStoreOptions {
  readonly url: string;
  /** Signs the per-tenant tokens; never sent to Qdrant itself. */
  readonly apiKey: string;
  /** Kept-alive connections to Qdrant (default 32). */
  readonly connections?: number;
  /** Tenants whose token is kept for reuse (default 256). */
  readonly maxTenants?: number;
  /**
   * The generation of the current tenant's collection that a call naming none goes to (default:
   * always 0). The gateway reads it from the tenant's state, the same for a whole request.
   */
  readonly generation?: () => Promise<number>;
}

/** Which generation of the tenant's collection a call goes to, when not the current one. */
export interface VectorTarget {
  readonly generation?: number;
}

const BM25 = 'qdrant/bm25';
/**
 * Qdrant's BM25 normalizes term frequency by a fixed average document length (256 by
 * default), not the collection's own. Chunks of up to 512 tokens hold far fewer terms once
 * stopwords are gone (means of 36 to 145 on the benchmark collections), so the default
 * under-weights length. One value has to serve every tenant; with bench/retrieval-quality
 * (nDCG@10 on SciFact / CISI / Cranfield / CACM), 256 gave 0.696 / 0.291 / 0.360 / 0.413,
 * 100 gave 0.704 / 0.317 / 0.373 / 0.439, 70 gave 0.702 / 0.324 / 0.384 / 0.449 and 50 gave
 * 0.695 / 0.324 / 0.386 / 0.440; each collection's own mean was no better than 70. The value
 * is part of every stored vector: changing it means re-ingesting.
 */
const BM25_OPTIONS = { avg_len: 70 } as const;

/**
 * The current tenant's Qdrant collection. Each call carries a JWT that Qdrant accepts for that
 * one collection only; the admin key never reaches the data plane. No method takes a tenant:
 * the tenant is read from the context on every call.
 */
export class TenantVectorStore {
  readonly #http: QdrantHttp;
  readonly #tokens: QdrantTokens;
  readonly #generation: () => Promise<number>;

  constructor(options: TenantVectorStoreOptions) {
    this.#generation = options.generation ?? (() => Promise.resolve(0));
    this.#http = new QdrantHttp(options.url, options.connections ?? 32);
    this.#tokens = new QdrantTokens({
      apiKey: options.apiKey,
      ...(options.maxTenants !== undefined ? { maxTenants: options.maxTenants } : {}),
    });
  }

  /** Writes points; the tenant's id is stamped on every payload here, whatever the caller gave. */
  async upsert(points: readonly VectorPoint[], target: VectorTarget = {}): Promise<void> {
    const tenantId = TenantContext.requireTenantId();
    const body = {
      points: points.map((p) => ({
        id: p.id,
        vector: {
          bm25: { text: p.text, model: BM25, options: BM25_OPTIONS },
          ...(p.dense ? { dense: p.dense } : {}),
        },
        payload: { ...p.payload, tenant_id: tenantId },
      })),
    };
    await this.call(tenantId, 'PUT', 'points?wait=true', body, target);
  }

  /** Searches the tenant's points (Qdrant's query API); a caller's filter only narrows them. */
  async query(query: VectorQuery): Promise<VectorHit[]> {
    const tenantId = TenantContext.requireTenantId();
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 1_000) {
      throw new IsogateError('invalid_request', 'The limit must be between 1 and 1000');
    }
    const filter = scoped(tenantId, query.filter);
    const bm25 = {
      query: { text: query.text, model: BM25, options: BM25_OPTIONS },
      using: 'bm25',
    };
    const depth = (query.offset ?? 0) + query.limit * 2;
    // The filter goes on every stage: Qdrant applies a top-level filter to the final stage only.
    const search = query.dense
      ? {
          prefetch: [
            { ...bm25, filter, limit: depth },
            { query: query.dense, using: 'dense', filter, limit: depth },
          ],
          query: { fusion: 'rrf' },
        }
      : bm25;
    const answer = (await this.call(tenantId, 'POST', 'points/query', {
      ...search,
      filter,
      limit: query.limit,
      ...(query.offset !== undefined ? { offset: query.offset } : {}),
      ...(query.scoreThreshold !== undefined ? { score_threshold: query.scoreThreshold } : {}),
      with_payload: true,
    })) as { points?: unknown[] };
    return (answer.points ?? []).map((point) => ownPoint(tenantId, point));
  }

  /** The tenant's points with these ids that also match `filter`, in no particular order. */
  async fetch(ids: readonly string[], filter?: VectorFilter): Promise<VectorHit[]> {
    const tenantId = TenantContext.requireTenantId();
    if (ids.length === 0) return [];
    const byId: VectorFilter = { must: [{ has_id: ids }] };
    const answer = (await this.call(tenantId, 'POST', 'points/scroll', {
      filter: scoped(tenantId, filter === undefined ? byId : { must: [byId, filter] }),
      limit: ids.length,
      with_payload: true,
      with_vector: false,
    })) as { points?: unknown[] };
    return (answer.points ?? []).map((point) => ownPoint(tenantId, point));
  }

  /** Deletes the tenant's points matching `filter` (inside the tenant's scope). */
  async deleteByFilter(filter: VectorFilter, target: VectorTarget = {}): Promise<void> {
    const tenantId = TenantContext.requireTenantId();
    await this.call(
      tenantId,
      'POST',
      'points/delete?wait=true',
      { filter: scoped(tenantId, filter) },
      target,
    );
  }

  /**
   * Every point of the tenant's collection of `target` with the payload fields `fields`, page
   * by page (`pageSize` points at most each), for work over a whole collection.
   */
  async *scan(
    fields: readonly string[],
    target: VectorTarget = {},
    pageSize = 1_000,
  ): AsyncGenerator<VectorHit[]> {
    const tenantId = TenantContext.requireTenantId();
    let offset: unknown = undefined;
    do {
      const answer = (await this.call(
        tenantId,
        'POST',
        'points/scroll',
        {
          filter: scoped(tenantId, undefined),
          limit: pageSize,
          with_payload: { include: [...fields, 'tenant_id'] },
          with_vector: false,
          ...(offset !== undefined && offset !== null ? { offset } : {}),
        },
        target,
      )) as { points?: unknown[]; next_page_offset?: unknown };
      yield (answer.points ?? []).map((point) => ownPoint(tenantId, point));
      offset = answer.next_page_offset;
    } while (offset !== undefined && offset !== null);
  }

  /** Counts the tenant's points, or those matching `filter`. */
  async count(filter?: VectorFilter): Promise<number> {
    const tenantId = TenantContext.requireTenantId();
    const answer = (await this.call(tenantId, 'POST', 'points/count', {
      filter: scoped(tenantId, filter),
      exact: true,
    })) as { count?: number };
    return answer.count ?? 0;
  }

  /** Closes the connections to Qdrant. */
  async close(): Promise<void> {
    await this.#http.close();
  }

  private async call(
    tenantId: string,
    method: 'PUT' | 'POST',
    path: string,
    body: unknown,
    target: VectorTarget = {},
  ) {
    const generation = target.generation ?? (await this.#generation());
    const token = await this.#tokens.forTenant(tenantId, generation);
    const collection = collectionOf(tenantId, generation);
    return this.#http.call(token, method, `/collections/${collection}/${path}`, body);
  }
}

/**
 * Checks that a point read back carries the tenant's id. Only a store fault could bring another
 * tenant's point here; the whole answer is refused rather than filtered, so the fault is seen.
 */
function ownPoint(tenantId: string, point: unknown): VectorHit {
  const { id, score, payload } = point as {
    id: unknown;
    score?: number;
    payload?: Record<string, unknown>;
  };
  if (payload?.tenant_id !== tenantId) {
    throw new IsogateError('internal_error', 'The vector store returned a point of another scope');
  }
  return { id: String(id), score: score ?? 0, payload };
}
