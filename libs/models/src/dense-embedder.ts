import { IsogateError } from '@isogate/isolation';
import type OpenAI from 'openai';
import { openAiClient, type AzureDeployment } from './chat-model.js';
import { bufferedFetch } from './model-fetch.js';

/** Where and how to reach an OpenAI-compatible `/embeddings` endpoint. */
export interface DenseEmbedderOptions {
  /** Base URL including the API prefix, e.g. `http://127.0.0.1:8080/v1`. */
  readonly baseURL: string;
  /** Bearer key; local servers need none, so a placeholder is sent when absent. */
  readonly apiKey?: string;
  readonly model: string;
  /** The vector length the model returns; every vector is checked against it. */
  readonly dimensions: number;
  /** Inputs per request (default 64). */
  readonly batchSize?: number;
  /** Retries per request on 408/409/429/5xx and connection errors (default 3). */
  readonly maxRetries?: number;
  /** Time limit per attempt in milliseconds (default 30,000). */
  readonly timeoutMs?: number;
  /** Set for Azure OpenAI's deployment API: `baseURL` is then the resource's `/openai` URL. */
  readonly azure?: AzureDeployment;
}

const DEFAULT_BATCH_SIZE = 64;
const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_TIMEOUT_MS = 30_000;
// The openai client refuses to start without a key; servers that need none ignore it.
const PLACEHOLDER_API_KEY = 'isogate-no-key';
const PROBE_TEXT = 'isogate embeddings probe';

function unavailable(cause: unknown): IsogateError {
  // The message is shown to callers, so it names nothing upstream; the cause is for the logs.
  const error = new IsogateError('store_unavailable', 'The embeddings service is unavailable');
  error.cause = cause;
  return error;
}

/** The vectors of one request, and the input tokens the service says it used. */
interface Embedded {
  readonly vectors: number[][];
  readonly tokens: number;
}

function validate(options: DenseEmbedderOptions): void {
  if (!Number.isInteger(options.dimensions) || options.dimensions < 1) {
    throw new RangeError(`dimensions must be a positive integer, got ${options.dimensions}`);
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  // 2048 is the OpenAI API's limit on inputs per request.
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 2048) {
    throw new RangeError(`batchSize must be an integer from 1 to 2048, got ${batchSize}`);
  }
  if (options.model.trim() === '') throw new RangeError('model must not be empty');
}

/**
 * Turns texts into dense vectors through any OpenAI-compatible `/embeddings` endpoint (OpenAI,
 * vLLM, llama.cpp, Ollama, TEI, LocalAI) with the official `openai` client. Requests carry at
 * most `batchSize` inputs and are sent one after another, which keeps the load on a small local
 * server predictable. Retries with exponential backoff and jitter are the client's own
 * (`maxRetries`: 429, 5xx, timeouts and connection errors, honouring `retry-after`).
 */
export class DenseEmbedder {
  /** The length of every vector `embed` returns. */
  readonly dimensions: number;
  private readonly client: OpenAI;
  private readonly model: string;
  private readonly batchSize: number;

  constructor(options: DenseEmbedderOptions) {
    validate(options);
    this.dimensions = options.dimensions;
    this.model = options.model;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.client = openAiClient(
      {
        baseURL: options.baseURL,
        apiKey: options.apiKey ?? PLACEHOLDER_API_KEY,
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
        // Set explicitly so the client does not take them from OPENAI_* environment variables:
        // configuration is read once, by the gateway's config.
        organization: null,
        project: null,
        logLevel: 'off',
      },
      bufferedFetch(),
      options.azure,
    );
  }

  /**
   * One vector per text, in input order. Texts must be non-empty (the API refuses empty ones).
   * @throws IsogateError `store_unavailable` when the service fails after its retries or
   * answers with something that is not one vector of `dimensions` floats per input.
   */
  async embed(texts: readonly string[]): Promise<number[][]> {
    return (await this.embedCounted(texts)).vectors;
  }

  /** As `embed`, with the input tokens the service reports it used (0 when it reports none). */
  async embedCounted(texts: readonly string[]): Promise<{ vectors: number[][]; tokens: number }> {
    const vectors: number[][] = [];
    let tokens = 0;
    for (let offset = 0; offset < texts.length; offset += this.batchSize) {
      const batch = await this.embedBatch(texts.slice(offset, offset + this.batchSize));
      vectors.push(...batch.vectors);
      tokens += batch.tokens;
    }
    return { vectors, tokens };
  }

  /**
   * Embeds a probe text and checks the vector length, so a wrong model or dimension setting
   * stops the gateway at start instead of corrupting a collection later.
   * @throws Error naming the expected and received dimensions on a mismatch;
   * IsogateError `store_unavailable` when the service cannot be reached.
   */
  async check(): Promise<void> {
    const [vector] = (await this.request([PROBE_TEXT])).vectors;
    const received = vector?.length ?? 0;
    if (received !== this.dimensions) {
      throw new Error(
        `Embeddings model "${this.model}" returns vectors of ${received} dimensions, ` +
          `but ${this.dimensions} are configured`,
      );
    }
  }

  private async embedBatch(batch: readonly string[]): Promise<Embedded> {
    const embedded = await this.request(batch);
    for (const vector of embedded.vectors) {
      if (vector.length !== this.dimensions) {
        throw unavailable(
          new Error(`expected ${this.dimensions} dimensions, received ${vector.length}`),
        );
      }
    }
    return embedded;
  }

  // The raw vectors of one request, placed by each item's `index` (servers may reorder).
  private async request(batch: readonly string[]): Promise<Embedded> {
    let data: OpenAI.Embeddings.Embedding[];
    let tokens: number;
    try {
      const response = await this.client.embeddings.create({
        model: this.model,
        input: [...batch],
        // 'float' because base64 decoding differs between servers; `dimensions` is not sent,
        // since many compatible servers reject it; the configured length is checked instead.
        encoding_format: 'float',
      });
      data = response.data;
      tokens = response.usage?.prompt_tokens ?? 0;
    } catch (error) {
      throw unavailable(error);
    }
    const vectors = new Array<number[] | undefined>(batch.length).fill(undefined);
    for (const item of data) {
      const valid =
        Number.isInteger(item.index) &&
        item.index >= 0 &&
        item.index < batch.length &&
        vectors[item.index] === undefined &&
        Array.isArray(item.embedding) &&
        item.embedding.every((value) => typeof value === 'number' && Number.isFinite(value));
      if (!valid) {
        throw unavailable(new Error(`malformed embedding at index ${item.index}`));
      }
      vectors[item.index] = item.embedding;
    }
    const complete = vectors.map((vector, index) => {
      if (vector === undefined) throw unavailable(new Error(`no embedding for index ${index}`));
      return vector;
    });
    return { vectors: complete, tokens };
  }
}
