import { QdrantClient } from '@qdrant/js-client-rest';
import { withTimeout, type StoreProbe } from './store-probe.js';

/** Connection settings for Qdrant. */
export interface QdrantOptions {
  readonly url: string;
  /** The admin API key: provisioning and health checks only, never the data plane. */
  readonly apiKey: string;
}

/**
 * How long the admin calls may take. The readiness probe and the reads answer from memory and
 * stay short; creating or deleting a collection does not: Qdrant writes the collection's WAL,
 * segments and config and syncs them to disk before it answers, which under write load from
 * other tenants takes many times as long as a read. Provisioning is an operator's request, not
 * the data plane's hot path, so it is given room rather than failing a creation half-way.
 */
export const QDRANT_ADMIN_TIME_LIMITS = {
  /** `/readyz`: an answer that does not come at once is an outage. */
  probeMs: 2_000,
  /** Collection existence and point counts (status reads, the checks before a change). */
  readMs: 5_000,
  /** Creating or deleting a tenant's collection, and the reads of the same provisioning step. */
  collectionChangeMs: 30_000,
} as const;

/** The admin clients of the vector store: one for short reads, one for collection changes. */
export class QdrantAdmin implements StoreProbe {
  readonly store = 'qdrant' as const;
  /** Reads and the probe, with the short limit. */
  readonly client: QdrantClient;
  /** Collection creation and deletion (provisioning and purge), with the long limit. */
  readonly provisioning: QdrantClient;

  constructor(options: QdrantOptions) {
    this.client = adminClient(options, QDRANT_ADMIN_TIME_LIMITS.readMs);
    this.provisioning = adminClient(options, QDRANT_ADMIN_TIME_LIMITS.collectionChangeMs);
  }

  async ping(): Promise<void> {
    // An authenticated call whose answer does not grow with the number of tenants (listing the
    // collections would): it proves that Qdrant answers and accepts the admin key.
    await withTimeout(
      this.client.collectionExists('isogate-readiness-probe'),
      QDRANT_ADMIN_TIME_LIMITS.probeMs,
      'qdrant ping',
    );
  }
}

function adminClient(options: QdrantOptions, timeoutMs: number): QdrantClient {
  const url = new URL(options.url);
  return new QdrantClient({
    url: `${url.protocol}//${url.hostname}`,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    // As a header rather than `apiKey`, which only adds a console warning on http: the
    // configuration already refuses plain http to another host in production.
    headers: { 'api-key': options.apiKey },
    timeout: timeoutMs,
    checkCompatibility: false,
  });
}
