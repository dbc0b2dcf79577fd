import { Global, Inject, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { DenseEmbedder } from '@isogate/models';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';

/** Injection token of the dense embedder, or `null` when no embeddings endpoint is configured. */
export const DENSE_EMBEDDER = Symbol('DENSE_EMBEDDER');

/**
 * Dense embeddings through any OpenAI-compatible endpoint, when `EMBEDDINGS_BASE_URL` is set;
 * BM25 alone (computed by Qdrant) otherwise. The endpoint's dimensions are checked at start:
 * vectors of another size would be refused by every tenant collection.
 */
@Global()
@Module({
  providers: [
    {
      provide: DENSE_EMBEDDER,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig): DenseEmbedder | null =>
        c.embeddings.baseUrl === undefined || c.embeddings.dimensions === undefined
          ? null
          : new DenseEmbedder({
              baseURL: c.embeddings.baseUrl,
              model: c.embeddings.model,
              dimensions: c.embeddings.dimensions,
              ...(c.embeddings.apiKey !== undefined ? { apiKey: c.embeddings.apiKey } : {}),
            }),
    },
  ],
  exports: [DENSE_EMBEDDER],
})
export class EmbeddingsModule implements OnApplicationBootstrap {
  constructor(@Inject(DENSE_EMBEDDER) private readonly embedder: DenseEmbedder | null) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.embedder?.check();
  }
}
