// The baseline the gateway is measured against: a plain Qdrant collection with server-side
// BM25 (`qdrant/bm25`, IDF modifier, default parameters) holding the same chunks the gateway
// makes, queried directly with the admin key. Same chunks, plain analysis: it gets neither the
// gateway's lexical variants (lexicalText) nor its avg_len, which are part of what is measured.
// undici `request`, never global `fetch`: fetch adds ~40 ms to answers of a few KB from Qdrant
// (Nagle / delayed ACK, ENVIRONMENT.md).
import { chunkDocument, indexText } from '@isogate/embeddings';
import { request } from 'undici';
import type { CorpusRecord } from './retrieval-metrics.js';

const BATCH = 128;

/**
 * Qdrant's Bm25Config, per inference request (checked on Qdrant 1.16.3: `k`, `b` and
 * `avg_len` change the document weights; unknown keys are silently ignored, so spell them
 * right). Defaults: k 1.2, b 0.75, avg_len 256.
 */
export interface Bm25Options {
  readonly k?: number;
  readonly b?: number;
  readonly avg_len?: number;
}

interface Bm25Document {
  readonly text: string;
  readonly model: 'qdrant/bm25';
  readonly options?: Bm25Options;
}

/** One chunk as the baseline stores it. */
interface BaselinePoint {
  readonly id: number;
  readonly vector: { bm25: Bm25Document };
  readonly payload: { document_id: string; title: string; text: string };
}

/** A plain BM25 collection in Qdrant, for one test collection of the benchmark. */
export class PlainBm25Baseline {
  chunks = 0;
  #nextId = 1;
  #batch: BaselinePoint[] = [];

  private constructor(
    private readonly qdrantUrl: string,
    private readonly apiKey: string,
    readonly collection: string,
    private readonly options: Bm25Options | undefined,
  ) {}

  /**
   * Creates the collection (one sparse vector `bm25` with the IDF modifier); `options` tune
   * BM25 for an experiment (both upserts and queries send them), else Qdrant's defaults.
   */
  static async create(
    qdrantUrl: string,
    apiKey: string,
    collection: string,
    options?: Bm25Options,
  ) {
    const baseline = new PlainBm25Baseline(qdrantUrl, apiKey, collection, options);
    await baseline.call('PUT', '', { sparse_vectors: { bm25: { modifier: 'idf' } } });
    return baseline;
  }

  /** The full Qdrant URL of a path of this collection. */
  url(path = ''): string {
    return `${this.qdrantUrl}/collections/${this.collection}${path}`;
  }

  /** The headers a direct client sends. */
  get headers(): Record<string, string> {
    return { 'api-key': this.apiKey, 'content-type': 'application/json' };
  }

  /** Chunks a document as the gateway does (default options) and queues its points. */
  async add(record: CorpusRecord, documentId: string): Promise<void> {
    for (const chunk of chunkDocument({ title: record.title, text: record.text })) {
      this.#batch.push({
        id: this.#nextId++,
        vector: { bm25: this.document(indexText(record.title, chunk)) },
        payload: { document_id: documentId, title: record.title, text: chunk.text },
      });
      this.chunks += 1;
    }
    if (this.#batch.length >= BATCH) await this.flush();
  }

  /** Upserts the queued points and waits until they are indexed. */
  async flush(): Promise<void> {
    if (this.#batch.length === 0) return;
    const points = this.#batch;
    this.#batch = [];
    await this.call('PUT', '/points?wait=true', { points });
  }

  /** The document ids of the best `limit` chunks for `text`, best first. */
  async search(text: string, limit: number): Promise<string[]> {
    const answer = (await this.call(
      'POST',
      '/points/query',
      this.queryBody(text, limit, ['document_id']),
    )) as {
      result: { points: { payload?: { document_id?: string } }[] };
    };
    return answer.result.points.map((point) => point.payload?.document_id ?? '');
  }

  /** The query body of a search, as JSON (also what the latency run sends). */
  queryBody(text: string, limit: number, withPayload: boolean | string[] = true) {
    return {
      query: this.document(text),
      using: 'bm25',
      limit,
      with_payload: withPayload,
    };
  }

  private document(text: string): Bm25Document {
    return this.options === undefined
      ? { text, model: 'qdrant/bm25' }
      : { text, model: 'qdrant/bm25', options: this.options };
  }

  /** Deletes the collection. */
  async drop(): Promise<void> {
    await this.call('DELETE', '');
  }

  private async call(method: 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown) {
    const response = await request(this.url(path), {
      method,
      headers: this.headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300)
      throw new Error(
        `qdrant ${method} ${this.collection}${path}: HTTP ${response.statusCode} ${text.slice(0, 200)}`,
      );
    return JSON.parse(text) as unknown;
  }
}
