import { QdrantClient } from '@qdrant/js-client-rest';
import { withTimeout, type StoreProbe } from './store-probe.js';

/** Connection settings for Qdrant. */
export interface QdrantOptions {
  readonly url: string;
  /** The admin API key: provisioning and health checks only, never the data plane. */
  readonly apiKey: string;
}

/** The admin client of the vector store. */
export class QdrantAdmin implements StoreProbe {
  readonly store = 'qdrant' as const;
  readonly client: QdrantClient;

  constructor(options: QdrantOptions) {
    const url = new URL(options.url);
    this.client = new QdrantClient({
      url: `${url.protocol}//${url.hostname}`,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      // As a header rather than `apiKey`, which only adds a console warning on http: the
      // configuration already refuses plain http to another host in production.
      headers: { 'api-key': options.apiKey },
      timeout: 5_000,
      checkCompatibility: false,
    });
  }

  async ping(): Promise<void> {
    // An authenticated call whose answer does not grow with the number of tenants (listing the
    // collections would): it proves that Qdrant answers and accepts the admin key.
    await withTimeout(
      this.client.collectionExists('isogate-readiness-probe'),
      2_000,
      'qdrant ping',
    );
  }
}
