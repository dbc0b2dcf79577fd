/**
 * models: the clients of the upstream models, chat and embeddings, over the OpenAI protocol
 * (OpenAI, Azure OpenAI, vLLM, Ollama, TEI). Exported through this file only.
 */
export { ChatModel, wireToolCall } from './chat-model.js';
export type {
  ChatModelAnswer,
  ChatModelDelta,
  ChatModelOptions,
  ChatModelRequest,
  ChatTurn,
  ContentPart,
  ResponseFormat,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
  ToolDefinition,
} from './chat-model.js';
export { DenseEmbedder } from './dense-embedder.js';
export type { DenseEmbedderOptions } from './dense-embedder.js';
export type { AzureDeployment } from './chat-model.js';

// The model catalog: upstreams, their compliance attributes, and the logical models on them.
export { loadCatalog } from './catalog/load-catalog.js';
export type { LoadCatalogOptions } from './catalog/load-catalog.js';
export { catalogFromEnvSettings } from './catalog/catalog-from-env.js';
export type { EnvModelSettings } from './catalog/catalog-from-env.js';
export { CatalogError } from './catalog/catalog-problems.js';
export { UPSTREAM_KINDS } from './catalog/model-catalog.js';
export type {
  LogicalModel,
  ModelCatalog,
  ModelPurpose,
  Upstream,
  UpstreamAttributes,
  UpstreamKind,
} from './catalog/model-catalog.js';

// Tenant compliance policies and the router that honours them.
export {
  DATA_CLASS_REQUIREMENTS,
  effectiveRequirements,
  mergePolicy,
  policyVersion,
} from './routing/tenant-policy.js';
export type {
  DataClass,
  EffectiveRequirements,
  PolicyRequirements,
  TenantPolicy,
} from './routing/tenant-policy.js';
export { allowedModels, compliantUpstreams } from './routing/compliance.js';
export { ModelRouter } from './routing/model-router.js';
export type {
  ModelRouterOptions,
  RoutedAnswer,
  RoutedChatRequest,
  RoutedStream,
  RoutedVectors,
} from './routing/model-router.js';
export { NoCompliantUpstreamError } from './routing/route-record.js';
export type { AttemptOutcome, RouteAttempt, RouteRecord } from './routing/route-record.js';
export type { BreakerSettings, BreakerState } from './routing/upstream-breakers.js';
export type { FallbackReason } from './routing/upstream-failure.js';
