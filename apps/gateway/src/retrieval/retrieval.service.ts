import { Inject, Injectable } from '@nestjs/common';
import {
  applyPii,
  TenantDb,
  TenantKeys,
  TenantVectorStore,
  type VectorCondition,
  type VectorFilter,
  type VectorHit,
} from '@isogate/isolation';
import { lexicalText } from '@isogate/embeddings';
import type { DenseEmbedder } from '@isogate/models';
import { TenantSettings } from '../documents/tenant-settings.js';
import { DENSE_EMBEDDER } from '../embeddings/embeddings.module.js';
import { GraphExpansion } from './graph-expansion.js';
import type { RetrievalFilter, RetrieveBody, RetrievedChunk } from './retrieval.schemas.js';

/** Reciprocal-rank constant of the fusion (the usual 60). */
const RRF_K = 60;
/**
 * How much a rank in the graph expansion counts against a rank in the search. Small on
 * purpose: at 0.3 the boosts reordered the top of good BM25 rankings and cost up to 0.05
 * nDCG@10 (bench/retrieval-quality); the graph should break near-ties, not overrule the text.
 */
const GRAPH_WEIGHT = 0.05;
/** Candidates fetched beyond `top_k`, so hidden versions and fusion have room. */
const EXTRA_CANDIDATES = 20;

interface Candidate {
  readonly hit: VectorHit;
  score: number;
}

/**
 * Passages of the current tenant's documents for a query: BM25 (and dense, when configured)
 * in the tenant's Qdrant collection, fused with an expansion through its graph, checked
 * against PostgreSQL so only the current version of each document is ever shown.
 */
@Injectable()
export class RetrievalService {
  constructor(
    @Inject(TenantVectorStore) private readonly vectors: TenantVectorStore,
    @Inject(TenantDb) private readonly db: TenantDb,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @Inject(TenantSettings) private readonly settings: TenantSettings,
    @Inject(GraphExpansion) private readonly graph: GraphExpansion,
    @Inject(DENSE_EMBEDDER) private readonly embedder: DenseEmbedder | null,
  ) {}

  /** Passages for a caller's query, which first meets the tenant's PII rules. */
  async retrieve(body: RetrieveBody): Promise<{ results: RetrievedChunk[] }> {
    const { pii } = await this.settings.current();
    // The query meets the same rules as the documents: a pseudonymized email finds its token.
    return this.retrieveCleaned({ ...body, query: applyPii(body.query, pii).text });
  }

  /**
   * Passages for a query that has already met the tenant's PII rules (chat cleans the whole
   * conversation once, and its query is taken from it): the rules are not applied twice.
   */
  async retrieveCleaned(body: RetrieveBody): Promise<{ results: RetrievedChunk[] }> {
    const query = body.query;
    const filter = metadataFilter(body.filter);
    const dense = this.embedder === null ? undefined : (await this.embedder.embed([query]))[0];
    const hits = await this.vectors.query({
      // The same lexical variants the chunks were indexed with (document-preparer.ts).
      text: lexicalText(query),
      ...(dense !== undefined ? { dense } : {}),
      limit: body.top_k + EXTRA_CANDIDATES,
      ...(filter !== undefined ? { filter } : {}),
    });
    const ranked = body.expand_graph ? await this.fuse(hits, filter) : plain(hits);
    const visible = await this.current(ranked);
    const results: RetrievedChunk[] = [];
    for (const { hit, score } of visible.slice(0, body.top_k)) {
      results.push({
        document_id: String(hit.payload.document_id),
        chunk_index: Number(hit.payload.chunk_index),
        title: await this.keys.openText(String(hit.payload.title_enc)),
        text: await this.keys.openText(String(hit.payload.text_enc)),
        score,
      });
    }
    return { results };
  }

  /** Reciprocal-rank fusion of the search ranking with the graph expansion's ranking. */
  private async fuse(hits: readonly VectorHit[], filter?: VectorFilter): Promise<Candidate[]> {
    const candidates = new Map<string, Candidate>();
    hits.forEach((hit, rank) => candidates.set(hit.id, { hit, score: 1 / (RRF_K + rank + 1) }));
    const expanded = await this.graph.expand(hits.map((hit) => hit.id));
    const missing = expanded.filter((e) => !candidates.has(e.id)).map((e) => e.id);
    // Chunks reached only through the graph are read back with the caller's filter applied.
    const fetched = new Map((await this.vectors.fetch(missing, filter)).map((h) => [h.id, h]));
    expanded.forEach((chunk, rank) => {
      const boost = GRAPH_WEIGHT / (RRF_K + rank + 1);
      const known = candidates.get(chunk.id);
      if (known !== undefined) {
        known.score += boost;
        return;
      }
      const hit = fetched.get(chunk.id);
      if (hit !== undefined) candidates.set(chunk.id, { hit, score: boost });
    });
    return [...candidates.values()].sort((a, b) => b.score - a.score);
  }

  /** Keeps the candidates whose document is visible in PostgreSQL at the version they carry. */
  private async current(candidates: readonly Candidate[]): Promise<Candidate[]> {
    const ids = [...new Set(candidates.map((c) => String(c.hit.payload.document_id)))];
    if (ids.length === 0) return [];
    const rows = await this.db.scopedRead<{ id: string; content_sha256: string }>(
      'document_versions',
      [ids],
    );
    const versions = new Map(rows.map((row) => [row.id, row.content_sha256]));
    return candidates.filter(
      (c) => versions.get(String(c.hit.payload.document_id)) === c.hit.payload.version,
    );
  }
}

function plain(hits: readonly VectorHit[]): Candidate[] {
  return hits.map((hit) => ({ hit, score: hit.score }));
}

/** The caller's metadata conditions as a filter the vector store nests inside the tenant scope. */
function metadataFilter(filter: RetrievalFilter | undefined): VectorFilter | undefined {
  const entries = Object.entries(filter?.metadata ?? {});
  if (entries.length === 0) return undefined;
  const must: VectorCondition[] = entries.map(([key, value]) =>
    Array.isArray(value)
      ? { key: `metadata.${key}`, match: { any: value } }
      : { key: `metadata.${key}`, match: { value } },
  );
  return { must };
}
