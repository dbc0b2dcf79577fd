import { Global, Inject, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { AuditScope } from '@isogate/audit';
import { IsogateError, TenantStateCache } from '@isogate/isolation';
import { DenseEmbedder, type LogicalModel } from '@isogate/models';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { ModelRouting, policyOf } from '../models/model-routing.js';

/** Injection token of the dense embedder, or `null` when no embeddings model is configured. */
export const DENSE_EMBEDDER = Symbol('DENSE_EMBEDDER');

/** Dense vectors of the current tenant's texts. */
export interface Embedder {
  /**
   * The embeddings model the current tenant's vectors come from: the one its row names, else
   * the gateway's default.
   * @throws IsogateError `no_compliant_upstream` when the catalog no longer has that model
   */
  current(): Promise<LogicalModel>;
  /** One vector per text, from `model` (default: `current()`). */
  embed(texts: readonly string[], model?: LogicalModel): Promise<number[][]>;
}

/**
 * The catalog's embeddings models, each call sent to an upstream that the current tenant's
 * policy allows (its requirements; the allow-list of models is for the models clients ask
 * for), so a tenant's text never reaches an embeddings endpoint its policy does not allow. The
 * route goes on the request's audit event.
 * @throws IsogateError `no_compliant_upstream` (503) when none is allowed or all failed.
 */
class RoutedEmbedder implements Embedder {
  constructor(
    private readonly routing: ModelRouting,
    private readonly fallback: LogicalModel,
    private readonly states: TenantStateCache,
  ) {}

  async current(): Promise<LogicalModel> {
    const name = (await this.states.current())?.embeddingsModel;
    if (name === undefined || name === this.fallback.name) return this.fallback;
    const model = this.routing.embeddingsModel(name);
    if (model === undefined) {
      throw new IsogateError(
        'no_compliant_upstream',
        "The embeddings model of this tenant's documents is not offered any more",
      );
    }
    return model;
  }

  async embed(texts: readonly string[], model?: LogicalModel): Promise<number[][]> {
    const chosen = model ?? (await this.current());
    const policy = policyOf(await this.states.current());
    const { vectors, tokens, route } = await this.routing.router.embed(chosen.name, policy, texts);
    AuditScope.annotate({ embeddings_route: route });
    // Embedding endpoints bill input tokens: as the upstream reported them.
    this.routing.recordUsage(chosen.name, route.upstream, tokens, 0);
    return vectors;
  }
}

/**
 * Dense embeddings through the catalog's embeddings model (MODELS_FILE, or EMBEDDINGS_BASE_URL
 * as a one-upstream catalog); BM25 alone (computed by Qdrant) without one. Without a
 * MODELS_FILE, the endpoint's dimensions are checked at start: vectors of another size would be
 * refused by every tenant collection (a catalog's upstreams are checked against each other).
 */
@Global()
@Module({
  providers: [
    {
      provide: DENSE_EMBEDDER,
      inject: [APP_CONFIG, ModelRouting, TenantStateCache],
      useFactory: (c: AppConfig, routing: ModelRouting, states: TenantStateCache) =>
        c.models.embeddings === undefined
          ? null
          : new RoutedEmbedder(routing, c.models.embeddings, states),
    },
  ],
  exports: [DENSE_EMBEDDER],
})
export class EmbeddingsModule implements OnApplicationBootstrap {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onApplicationBootstrap(): Promise<void> {
    const { embeddings } = this.config;
    if (embeddings.baseUrl === undefined || embeddings.dimensions === undefined) return;
    if (this.config.models.embeddings?.name !== embeddings.model) return;
    await new DenseEmbedder({
      baseURL: embeddings.baseUrl,
      model: embeddings.model,
      dimensions: embeddings.dimensions,
      maxRetries: 0,
      ...(embeddings.apiKey !== undefined ? { apiKey: embeddings.apiKey } : {}),
    }).check();
  }
}
