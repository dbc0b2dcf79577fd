import type { QdrantClient } from '@qdrant/js-client-rest';
import { collectionOf, isCollectionOf } from './store-names.js';

/**
 * Creates the tenant's collection if missing: a sparse `bm25` vector (Qdrant computes BM25
 * server-side, `idf` modifier), plus a cosine `dense` vector only when embeddings are
 * configured. No payload index is declared: each one costs about 6 MB of resident memory per
 * collection even on disk (measured with bench/tenants), which would cap a node at a few hundred
 * tenants, while a filter on a single tenant's collection scans only that tenant's points.
 */
export async function ensureCollection(
  client: QdrantClient,
  tenantId: string,
  denseDimensions: number | undefined,
  generation = 0,
): Promise<void> {
  const collection = collectionOf(tenantId, generation);
  if (!(await client.collectionExists(collection)).exists) {
    await client
      .createCollection(collection, {
        vectors: denseDimensions
          ? { dense: { size: denseDimensions, distance: 'Cosine', on_disk: true } }
          : {},
        sparse_vectors: { bm25: { modifier: 'idf', index: { on_disk: true } } },
        // Qdrant pre-allocates its WAL and one set of memory-mapped chunks per segment, and by
        // default makes one segment per CPU: tens of MB per empty collection. With one
        // collection per tenant that overhead, not the data, would decide how many tenants a
        // node holds, so collections start small and grow with their data.
        wal_config: { wal_capacity_mb: 1, wal_segments_ahead: 0 },
        optimizers_config: { default_segment_number: 1 },
        on_disk_payload: true,
      })
      .catch(async (error: unknown) => {
        // Two provisioning runs may race; the loser finds the collection there.
        if (!(await client.collectionExists(collection)).exists) throw error;
      });
  }
}

/** The tenant's collections, of every generation (during a re-embedding there are two). */
async function collectionsOf(client: QdrantClient, tenantId: string): Promise<string[]> {
  const { collections } = await client.getCollections();
  return collections.map((c) => c.name).filter((name) => isCollectionOf(tenantId, name));
}

/** Whether the tenant has a collection, and how many points its collections hold. */
export async function pointCount(
  client: QdrantClient,
  tenantId: string,
): Promise<{ collection: boolean; points: number }> {
  const names = await collectionsOf(client, tenantId);
  let points = 0;
  for (const name of names) points += (await client.count(name, { exact: true })).count;
  return { collection: names.length > 0, points };
}

/**
 * Deletes the tenant's collections of every generation (none is fine); returns how many
 * points they held.
 */
export async function deleteCollection(client: QdrantClient, tenantId: string): Promise<number> {
  let points = 0;
  for (const name of await collectionsOf(client, tenantId)) {
    points += (await client.count(name, { exact: true })).count;
    await client.deleteCollection(name);
  }
  return points;
}

/** Deletes one generation's collection of the tenant (absent is fine). */
export async function deleteGeneration(
  client: QdrantClient,
  tenantId: string,
  generation: number,
): Promise<void> {
  const name = collectionOf(tenantId, generation);
  if ((await client.collectionExists(name)).exists) await client.deleteCollection(name);
}

/** Deletes the tenant's collections of every generation but those of `keep`. */
export async function deleteGenerationsExcept(
  client: QdrantClient,
  tenantId: string,
  keep: readonly number[],
): Promise<void> {
  const kept = new Set(keep.map((generation) => collectionOf(tenantId, generation)));
  for (const name of await collectionsOf(client, tenantId)) {
    if (!kept.has(name)) await client.deleteCollection(name);
  }
}
