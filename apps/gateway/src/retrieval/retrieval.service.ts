import { Inject, Injectable } from '@nestjs/common';
import {
  applyPii,
  DocumentsRepository,
  TenantKeys,
  tenantMetadataIndexer,
  TenantVectorStore,
  type VectorCondition,
  type VectorFilter,
  type VectorHit,
} from '@isogate/isolation';
import { lexicalText } from '@isogate/embeddings';
import { METADATA_INDEX_FIELD } from '../documents/document-index.js';
import { TenantSettings } from '../documents/tenant-settings.js';
import { DENSE_EMBEDDER, type Embedder } from '../embeddings/embeddings.module.js';
import { GraphExpansion } from './graph-expansion.js';
import {
  MAX_TOP_K,
  type RetrievalFilter,
  type RetrieveBody,
  type RetrievedChunk,
} from './retrieval.schemas.js';

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
// The graph only reorders hits unless fewer than top_k hits are current: the largest boost a
// chunk reached only through the graph gets is below the smallest score of any hit.
const GRAPH_BOOST_MAX = GRAPH_WEIGHT / (RRF_K + 1);
const MIN_HIT_SCORE = 1 / (RRF_K + MAX_TOP_K + EXTRA_CANDIDATES);
if (GRAPH_BOOST_MAX >= MIN_HIT_SCORE) throw new Error('graph boosts must stay below every hit');

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
    @Inject(DocumentsRepository) private readonly documents: DocumentsRepository,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @Inject(TenantSettings) private readonly settings: TenantSettings,
    @Inject(GraphExpansion) private readonly graph: GraphExpansion,
    @Inject(DENSE_EMBEDDER) private readonly embedder: Embedder | null,
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
    const filter = await this.metadataFilter(body.filter);
    const dense = this.embedder === null ? undefined : (await this.embedder.embed([query]))[0];
    const hits = await this.vectors.query({
      // The same lexical variants the chunks were indexed with (document-preparer.ts).
      text: lexicalText(query),
      ...(dense !== undefined ? { dense } : {}),
      limit: body.top_k + EXTRA_CANDIDATES,
      ...(filter !== undefined ? { filter } : {}),
    });
    const visible = body.expand_graph
      ? await this.fused(hits, body.top_k, filter)
      : await this.current(plain(hits));
    const top = visible.slice(0, body.top_k);
    const results = await Promise.all(
      top.map(async ({ hit, score }): Promise<RetrievedChunk> => ({
        document_id: String(hit.payload.document_id),
        chunk_index: Number(hit.payload.chunk_index),
        title: await this.keys.openText(String(hit.payload.title_enc)),
        ...positionOf(hit),
        ...(typeof hit.payload.section_enc === 'string'
          ? { section: await this.keys.openText(hit.payload.section_enc) }
          : {}),
        text: await this.keys.openText(String(hit.payload.text_enc)),
        score,
      })),
    );
    return { results };
  }

  /**
   * The caller's metadata conditions as a filter the vector store nests inside the tenant
   * scope. Points carry keyed blind indexes of their metadata pairs, not the pairs, so each
   * condition matches the blind index of the pair it names (of any of them, for a list).
   */
  private async metadataFilter(
    filter: RetrievalFilter | undefined,
  ): Promise<VectorFilter | undefined> {
    const entries = Object.entries(filter?.metadata ?? {});
    if (entries.length === 0) return undefined;
    const blindIndex = await tenantMetadataIndexer(this.keys);
    const must: VectorCondition[] = entries.map(([key, value]) =>
      Array.isArray(value)
        ? { key: METADATA_INDEX_FIELD, match: { any: value.map((v) => blindIndex(key, v)) } }
        : { key: METADATA_INDEX_FIELD, match: { value: blindIndex(key, value) } },
    );
    return { must };
  }

  /**
   * The search ranking fused with the graph expansion (reciprocal ranks), current versions
   * only. The expansion and the version check of the hits run at the same time. A chunk that
   * only the graph reached scores below every hit (GRAPH_BOOST_MAX < MIN_HIT_SCORE), so it is
   * read from the vector store only when fewer than `topK` hits are current.
   */
  private async fused(
    hits: readonly VectorHit[],
    topK: number,
    filter?: VectorFilter,
  ): Promise<Candidate[]> {
    const candidates = new Map<string, Candidate>();
    hits.forEach((hit, rank) => candidates.set(hit.id, { hit, score: 1 / (RRF_K + rank + 1) }));
    const [expanded, visibleHits] = await Promise.all([
      this.graph.expand(hits.map((hit) => hit.id)),
      this.current([...candidates.values()]),
    ]);
    const boost = (rank: number) => GRAPH_WEIGHT / (RRF_K + rank + 1);
    expanded.forEach((chunk, rank) => {
      const known = candidates.get(chunk.id);
      if (known !== undefined) known.score += boost(rank);
    });
    let visible = visibleHits;
    const missing = expanded.filter((e) => !candidates.has(e.id));
    if (visible.length < topK && missing.length > 0) {
      // Chunks reached only through the graph are read back with the caller's filter applied.
      const fetched = new Map(
        (
          await this.vectors.fetch(
            missing.map((e) => e.id),
            filter,
          )
        ).map((h) => [h.id, h]),
      );
      const extra: Candidate[] = [];
      expanded.forEach((chunk, rank) => {
        const hit = fetched.get(chunk.id);
        if (hit !== undefined) extra.push({ hit, score: boost(rank) });
      });
      visible = [...visible, ...(await this.current(extra))];
    }
    return visible.sort((a, b) => b.score - a.score);
  }

  /** Keeps the candidates whose document is visible in PostgreSQL at the version they carry. */
  private async current(candidates: readonly Candidate[]): Promise<Candidate[]> {
    const ids = [...new Set(candidates.map((c) => String(c.hit.payload.document_id)))];
    if (ids.length === 0) return [];
    const versions = await this.documents.currentVersions(ids);
    return candidates.filter(
      (c) => versions.get(String(c.hit.payload.document_id)) === c.hit.payload.version,
    );
  }
}

function plain(hits: readonly VectorHit[]): Candidate[] {
  return hits.map((hit) => ({ hit, score: hit.score }));
}

/** The page a hit is on, when its point records one. */
function positionOf(hit: VectorHit): { page?: number } {
  const page = hit.payload.page;
  return typeof page === 'number' && Number.isInteger(page) ? { page } : {};
}
