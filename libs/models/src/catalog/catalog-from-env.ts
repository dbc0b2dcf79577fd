import { ModelCatalog, type LogicalModel, type Upstream } from './model-catalog.js';

/**
 * The single-endpoint settings of the environment (LLM_* and EMBEDDINGS_*), in the shape the
 * gateway's configuration already has them (`config.llm`, `config.embeddings`).
 */
export interface EnvModelSettings {
  readonly llm: {
    readonly baseUrl: string | undefined;
    readonly apiKey: string | undefined;
    /** LLM_MODEL first, then LLM_MODELS, each with its context window. */
    readonly models: readonly { readonly id: string; readonly contextTokens: number }[];
    readonly timeoutMs: number;
    readonly maxRetries: number;
  };
  readonly embeddings: {
    readonly baseUrl: string | undefined;
    readonly apiKey: string | undefined;
    readonly model: string;
    readonly dimensions: number | undefined;
  };
}

// What is known of an endpoint configured by environment variables: nothing. So it is the
// least compliant upstream there is; a policy that requires a region, a BAA, zero retention
// or a certification routes nowhere until the deployment describes its upstreams in a catalog.
const UNKNOWN_ATTRIBUTES = {
  region: 'unknown',
  baa: false,
  zeroRetention: false,
  certifications: [],
} as const;

/** As the embedder has always run without a catalog: 30 s per attempt, 3 retries. */
const EMBEDDINGS_TIMEOUT_MS = 30_000;
const EMBEDDINGS_MAX_RETRIES = 3;

/**
 * The catalog equivalent to the environment's single endpoints, for deployments without a
 * MODELS_FILE: one upstream per chat model of LLM_MODEL and LLM_MODELS (ids `llm:<model>`),
 * one for EMBEDDINGS_MODEL (`embeddings:<model>`), each the only upstream of a logical model
 * of the same name. Unset base URLs contribute nothing (chat answers extractively; retrieval
 * is sparse only). Every upstream has unknown attributes: region `unknown`, no BAA, no zero
 * retention, no certification. The client retries stay as configured, since there is nothing
 * to fall back to.
 */
export function catalogFromEnvSettings(settings: EnvModelSettings): ModelCatalog {
  const upstreams: Upstream[] = [];
  const models: LogicalModel[] = [];
  const keys = new Map<string, string>();
  const { llm, embeddings } = settings;
  if (llm.baseUrl !== undefined) {
    for (const model of llm.models) {
      const id = `llm:${model.id}`;
      if (upstreams.some((upstream) => upstream.id === id)) continue;
      upstreams.push({
        id,
        kind: 'openai-compatible',
        purpose: 'chat',
        baseUrl: llm.baseUrl,
        model: model.id,
        ...UNKNOWN_ATTRIBUTES,
        contextTokens: model.contextTokens,
        timeoutMs: llm.timeoutMs,
        maxRetries: llm.maxRetries,
        keySource: llm.apiKey === undefined ? 'none' : 'env',
      });
      models.push({
        name: model.id,
        purpose: 'chat',
        upstreams: [id],
        contextTokens: model.contextTokens,
      });
      if (llm.apiKey !== undefined) keys.set(id, llm.apiKey);
    }
  }
  if (embeddings.baseUrl !== undefined && embeddings.dimensions !== undefined) {
    const id = `embeddings:${embeddings.model}`;
    upstreams.push({
      id,
      kind: 'openai-compatible',
      purpose: 'embeddings',
      baseUrl: embeddings.baseUrl,
      model: embeddings.model,
      ...UNKNOWN_ATTRIBUTES,
      dimensions: embeddings.dimensions,
      timeoutMs: EMBEDDINGS_TIMEOUT_MS,
      maxRetries: EMBEDDINGS_MAX_RETRIES,
      keySource: embeddings.apiKey === undefined ? 'none' : 'env',
    });
    models.push({
      name: embeddings.model,
      purpose: 'embeddings',
      upstreams: [id],
      dimensions: embeddings.dimensions,
    });
    if (embeddings.apiKey !== undefined) keys.set(id, embeddings.apiKey);
  }
  return new ModelCatalog(upstreams, models, keys);
}
