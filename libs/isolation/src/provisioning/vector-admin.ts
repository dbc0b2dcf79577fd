import type { QdrantClient } from '@qdrant/js-client-rest';
import { tenantNames } from './store-names.js';

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
): Promise<void> {
  const { collection } = tenantNames(tenantId);
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

/** Whether the tenant's collection exists, and how many points it holds. */
export async function pointCount(
  client: QdrantClient,
  tenantId: string,
): Promise<{ collection: boolean; points: number }> {
  const { collection } = tenantNames(tenantId);
  if (!(await client.collectionExists(collection)).exists) return { collection: false, points: 0 };
  return { collection: true, points: (await client.count(collection, { exact: true })).count };
}

/** Deletes the tenant's collection (absent is fine); returns how many points it held. */
export async function deleteCollection(client: QdrantClient, tenantId: string): Promise<number> {
  const { collection: exists, points } = await pointCount(client, tenantId);
  if (exists) await client.deleteCollection(tenantNames(tenantId).collection);
  return points;
}
