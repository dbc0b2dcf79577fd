import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  TenantGraph,
  TenantVectorStore,
  type VectorGenerations,
  type VectorHit,
  type VectorPoint,
} from '@isogate/isolation';

/** Flat metadata values: what filters can match. */
export type MetadataValue = string | number | boolean;

/**
 * The payload field of a point's metadata: the keyed blind index of each key/value pair
 * (`tenantMetadataIndexer`), never the pair itself. An equality filter on metadata is a match
 * on this field; a filter that is not equality (a range, a prefix) cannot be answered from it.
 */
export const METADATA_INDEX_FIELD = 'metadata_index';

/** One chunk as the stores receive it: sealed text, and what the indexes need in the clear. */
export interface IndexedChunk {
  readonly index: number;
  /** Title, heading and chunk text through `lexicalText`: what Qdrant's BM25 sees. */
  readonly indexText: string;
  /** The chunk text, sealed with the tenant's data key (base64). */
  readonly sealedText: string;
  /** The page the chunk is on (PDF), when known. */
  readonly page?: number;
  /** The heading path above the chunk, sealed with the tenant's data key, when there is one. */
  readonly sealedSection?: string;
  readonly dense?: readonly number[];
  /** Keyed digests of the entities the chunk mentions (no entity text reaches the graph). */
  readonly entities: readonly { readonly key: string; readonly kind: string }[];
}

/** A document version as the vector store and the graph hold it. */
export interface IndexedDocument {
  readonly id: string;
  readonly version: string;
  /** The title, sealed with the tenant's data key (base64). */
  readonly sealedTitle: string;
  /** The blind indexes of the document's metadata pairs, one per key. */
  readonly metadataIndex: readonly string[];
  readonly chunks: readonly IndexedChunk[];
}

/** Points per upsert request and chunks per graph query, so no request grows unbounded. */
const BATCH = 128;

const GRAPH_INDEXES = [
  'CREATE INDEX FOR (d:Document) ON (d.id)',
  'CREATE INDEX FOR (c:Chunk) ON (c.id)',
  'CREATE INDEX FOR (c:Chunk) ON (c.document_id)',
  'CREATE INDEX FOR (e:Entity) ON (e.key)',
];

const WRITE_CHUNKS = `
MERGE (d:Document {id: $document})
WITH d
UNWIND $chunks AS chunk
MERGE (c:Chunk {id: chunk.id})
SET c.document_id = $document, c.chunk_index = chunk.index, c.version = $version
MERGE (d)-[:HAS_CHUNK]->(c)
WITH c, chunk
UNWIND chunk.entities AS entity
MERGE (e:Entity {key: entity.key})
ON CREATE SET e.kind = entity.kind
MERGE (c)-[:MENTIONS]->(e)`;

/** WRITE_CHUNKS for the chunks of many documents: one graph query per batch of them. */
const WRITE_DOCUMENT_CHUNKS = `
UNWIND $chunks AS chunk
MERGE (d:Document {id: chunk.document})
MERGE (c:Chunk {id: chunk.id})
SET c.document_id = chunk.document, c.chunk_index = chunk.index, c.version = chunk.version
MERGE (d)-[:HAS_CHUNK]->(c)
WITH c, chunk
UNWIND chunk.entities AS entity
MERGE (e:Entity {key: entity.key})
ON CREATE SET e.kind = entity.kind
MERGE (c)-[:MENTIONS]->(e)`;

const REMOVE_OTHER_VERSIONS = `
MATCH (c:Chunk {document_id: $document})
WHERE c.version <> $version
OPTIONAL MATCH (c)-[:MENTIONS]->(e:Entity)
DETACH DELETE c
WITH DISTINCT e
WHERE e IS NOT NULL AND NOT (e)<-[:MENTIONS]-()
DELETE e`;

const REMOVE_DOCUMENT = `
MATCH (d:Document {id: $document})
OPTIONAL MATCH (d)-[:HAS_CHUNK]->(c:Chunk)
OPTIONAL MATCH (c)-[:MENTIONS]->(e:Entity)
DETACH DELETE d, c
WITH DISTINCT e
WHERE e IS NOT NULL AND NOT (e)<-[:MENTIONS]-()
DELETE e`;

/** The id of a chunk's point and graph node: derived, so a retried write lands in place. */
export function chunkId(version: string, index: number): string {
  const hex = createHash('sha256').update(`${version}:${index}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A document's chunks in the current tenant's Qdrant collection and knowledge graph. Each
 * version of a document is written beside the previous one under new ids; the old one is
 * removed only once the new one is complete, so a failure part-way never leaves a half
 * document where a whole one was.
 */
@Injectable()
export class DocumentIndex {
  constructor(
    @Inject(TenantVectorStore) private readonly vectors: TenantVectorStore,
    @Inject(TenantGraph) private readonly graph: TenantGraph,
  ) {}

  /** Writes a version of a document to both stores (idempotent), to the vectors of `generation`. */
  async write(doc: IndexedDocument, generation: number): Promise<void> {
    await this.graph.ensureIndexes(GRAPH_INDEXES);
    for (let start = 0; start < doc.chunks.length; start += BATCH) {
      const batch = doc.chunks.slice(start, start + BATCH);
      await bothStores(
        this.vectors.upsert(
          batch.map((chunk) => pointOf(doc, chunk)),
          { generation },
        ),
        this.graph.query(WRITE_CHUNKS, {
          document: doc.id,
          version: doc.version,
          chunks: batch.map((chunk) => ({
            id: chunkId(doc.version, chunk.index),
            index: chunk.index,
            entities: chunk.entities.map((e) => ({ key: e.key, kind: e.kind })),
          })),
        }),
      );
    }
  }

  /**
   * Writes versions of many documents to both stores (idempotent), in batches that mix
   * documents: the points of 128 chunks per upsert, their graph nodes per query.
   */
  async writeMany(docs: readonly IndexedDocument[], generation: number): Promise<void> {
    if (docs.length === 0) return;
    await this.graph.ensureIndexes(GRAPH_INDEXES);
    const chunks = docs.flatMap((doc) => doc.chunks.map((chunk) => ({ doc, chunk })));
    for (let start = 0; start < chunks.length; start += BATCH) {
      const batch = chunks.slice(start, start + BATCH);
      await bothStores(
        this.vectors.upsert(
          batch.map(({ doc, chunk }) => pointOf(doc, chunk)),
          { generation },
        ),
        this.graph.query(WRITE_DOCUMENT_CHUNKS, {
          chunks: batch.map(({ doc, chunk }) => ({
            document: doc.id,
            version: doc.version,
            id: chunkId(doc.version, chunk.index),
            index: chunk.index,
            entities: chunk.entities.map((e) => ({ key: e.key, kind: e.kind })),
          })),
        }),
      );
    }
  }

  /** Removes every version of a document but `version` (from the vectors of `generation`). */
  async removeOtherVersions(
    documentId: string,
    version: string,
    generation: number,
  ): Promise<void> {
    await bothStores(
      this.vectors.deleteByFilter(
        {
          must: [{ key: 'document_id', match: { value: documentId } }],
          must_not: [{ key: 'version', match: { value: version } }],
        },
        { generation },
      ),
      this.graph.query(REMOVE_OTHER_VERSIONS, { document: documentId, version }),
    );
  }

  /** Removes one version of a document (the clean-up of a write that failed). */
  async removeVersion(documentId: string, version: string, generation: number): Promise<void> {
    await bothStores(
      this.vectors.deleteByFilter(
        {
          must: [
            { key: 'document_id', match: { value: documentId } },
            { key: 'version', match: { value: version } },
          ],
        },
        { generation },
      ),
      this.graph.query(
        'MATCH (c:Chunk {document_id: $document, version: $version}) DETACH DELETE c',
        { document: documentId, version },
      ),
    );
  }

  /** Removes a document from both stores, from every generation of its vectors; absent is fine. */
  async remove(documentId: string, generations: VectorGenerations): Promise<void> {
    const filter = { must: [{ key: 'document_id', match: { value: documentId } }] };
    const building = generations.building;
    await bothStores(
      Promise.all([
        this.vectors.deleteByFilter(filter, { generation: generations.current }),
        ...(building !== undefined
          ? [this.vectors.deleteByFilter(filter, { generation: building })]
          : []),
      ]),
      this.graph.query(REMOVE_DOCUMENT, { document: documentId }),
    );
  }

  /** Writes a document's chunks to the vectors of `generation` only (a re-embedding). */
  async writeVectors(doc: IndexedDocument, generation: number): Promise<void> {
    for (let start = 0; start < doc.chunks.length; start += BATCH) {
      const batch = doc.chunks.slice(start, start + BATCH);
      await this.vectors.upsert(
        batch.map((chunk) => pointOf(doc, chunk)),
        { generation },
      );
    }
  }

  /** Every point of the vectors of `generation`: its id, document and version. */
  points(generation: number): AsyncGenerator<VectorHit[]> {
    return this.vectors.scan(['document_id', 'version'], { generation });
  }

  /** Deletes points of the vectors of `generation` by id. */
  async removePoints(ids: readonly string[], generation: number): Promise<void> {
    if (ids.length === 0) return;
    await this.vectors.deleteByFilter({ must: [{ has_id: ids }] }, { generation });
  }
}

/**
 * Waits for a write to Qdrant and one to the graph made side by side (they do not depend on
 * each other: one round trip instead of two), and fails with the first failure only once both
 * have settled, so a clean-up that follows a failure never races a write still in flight.
 */
async function bothStores(vectors: Promise<unknown>, graph: Promise<unknown>): Promise<void> {
  const [first, second] = await Promise.allSettled([vectors, graph]);
  if (first.status === 'rejected') throw first.reason as Error;
  if (second.status === 'rejected') throw second.reason as Error;
}

function pointOf(doc: IndexedDocument, chunk: IndexedChunk): VectorPoint {
  return {
    id: chunkId(doc.version, chunk.index),
    text: chunk.indexText,
    ...(chunk.dense !== undefined ? { dense: chunk.dense } : {}),
    payload: {
      document_id: doc.id,
      chunk_index: chunk.index,
      version: doc.version,
      title_enc: doc.sealedTitle,
      text_enc: chunk.sealedText,
      ...(chunk.page !== undefined ? { page: chunk.page } : {}),
      ...(chunk.sealedSection !== undefined ? { section_enc: chunk.sealedSection } : {}),
      [METADATA_INDEX_FIELD]: doc.metadataIndex,
    },
  };
}
