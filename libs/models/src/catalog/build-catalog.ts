import type { CatalogFile, UpstreamEntry } from './catalog-file.js';
import type { ProblemList } from './catalog-problems.js';
import {
  ModelCatalog,
  type LogicalModel,
  type ModelPurpose,
  type Upstream,
} from './model-catalog.js';

/** Defaults per purpose: chat as LLM_TIMEOUT_MS, embeddings as the embedder's own. */
const DEFAULT_TIMEOUT_MS: Readonly<Record<ModelPurpose, number>> = {
  chat: 60_000,
  embeddings: 30_000,
};

/**
 * The catalog of a schema-valid file, after the checks across entries: unique ids and names,
 * known upstreams of the right purpose, one vector length per embeddings model.
 */
export function buildCatalog(
  file: CatalogFile,
  keys: ReadonlyMap<string, string>,
  problems: ProblemList,
): ModelCatalog {
  const upstreams = new Map<string, Upstream>();
  file.upstreams.forEach((entry, index) => {
    const first = file.upstreams.findIndex((other) => other.id === entry.id);
    if (first !== index) {
      problems.entry('upstreams', index, ['id'], `is already used by upstreams[${first}]`);
    } else upstreams.set(entry.id, upstreamOf(entry));
  });
  const models: LogicalModel[] = [];
  file.models.forEach((entry, index) => {
    const first = file.models.findIndex((other) => other.name === entry.name);
    if (first !== index) {
      problems.entry('models', index, ['name'], `is already used by models[${first}]`);
      return;
    }
    const served = entry.upstreams.map((id, at) => {
      const upstream = upstreams.get(id);
      const field = [`upstreams`, at];
      if (entry.upstreams.indexOf(id) !== at) {
        problems.entry('models', index, field, `repeats upstream "${id}"`);
      } else if (upstream === undefined) {
        problems.entry('models', index, field, `names "${id}", which is not an upstream`);
      } else if (upstream.purpose !== entry.purpose) {
        problems.entry(
          'models',
          index,
          field,
          `names "${id}", which serves ${upstream.purpose}, not ${entry.purpose}`,
        );
      } else return upstream;
      return undefined;
    });
    if (served.some((upstream) => upstream === undefined)) return;
    models.push(logicalModelOf(entry.name, entry.purpose, served as Upstream[], index, problems));
  });
  return new ModelCatalog([...upstreams.values()], models, keys);
}

function logicalModelOf(
  name: string,
  purpose: ModelPurpose,
  served: readonly Upstream[],
  index: number,
  problems: ProblemList,
): LogicalModel {
  const upstreams = served.map((upstream) => upstream.id);
  if (purpose === 'chat') {
    const contextTokens = Math.min(...served.map((upstream) => upstream.contextTokens ?? 0));
    return { name, purpose, upstreams, contextTokens };
  }
  // A fallback to another model would put vectors of two spaces in one collection: the
  // upstreams of an embeddings model must serve the same model, which at least shows here.
  const lengths = [...new Set(served.map((upstream) => upstream.dimensions ?? 0))];
  if (lengths.length > 1) {
    problems.entry(
      'models',
      index,
      ['upstreams'],
      `return vectors of different lengths (${lengths.join(', ')}); they must serve one model`,
    );
  }
  return { name, purpose, upstreams, dimensions: lengths[0] ?? 0 };
}

function upstreamOf(entry: UpstreamEntry): Upstream {
  return {
    id: entry.id,
    kind: entry.kind,
    purpose: entry.purpose,
    baseUrl: entry.base_url,
    model: entry.model,
    ...(entry.deployment !== undefined && entry.api_version !== undefined
      ? { azure: { deployment: entry.deployment, apiVersion: entry.api_version } }
      : {}),
    region: entry.region ?? 'unknown',
    baa: entry.baa ?? false,
    zeroRetention: entry.zero_retention ?? false,
    certifications: [...new Set(entry.certifications ?? [])],
    ...(entry.price !== undefined
      ? {
          price: {
            inputPerMtok: entry.price.input_per_mtok,
            outputPerMtok: entry.price.output_per_mtok,
          },
        }
      : {}),
    ...(entry.context_tokens !== undefined ? { contextTokens: entry.context_tokens } : {}),
    ...(entry.dimensions !== undefined ? { dimensions: entry.dimensions } : {}),
    timeoutMs: entry.timeout_ms ?? DEFAULT_TIMEOUT_MS[entry.purpose],
    maxRetries: entry.max_retries ?? 0,
    ...(entry.rate_limit !== undefined
      ? { rateLimit: { requestsPerMinute: entry.rate_limit.requests_per_minute } }
      : {}),
    keySource:
      entry.api_key_env !== undefined ? 'env' : entry.api_key_file !== undefined ? 'file' : 'none',
  };
}
