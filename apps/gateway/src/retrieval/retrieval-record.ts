import { Inject, Injectable } from '@nestjs/common';
import { InteractionLog, sha256Hex } from '@isogate/audit';
import type { RetrievedChunk } from './retrieval.schemas.js';

/**
 * Records a retrieve call as an interaction (the query, the ids and hashes of the passages
 * returned, and the passages themselves as the answer), sealed and written with the request's
 * audit event, whose details carry the hashes.
 */
@Injectable()
export class RetrievalRecord {
  constructor(@Inject(InteractionLog) private readonly interactions: InteractionLog) {}

  async record(query: string, results: readonly RetrievedChunk[]): Promise<void> {
    await this.interactions.record({
      kind: 'retrieve',
      prompt: query,
      chunks: results.map((r) => ({
        document_id: r.document_id,
        chunk_index: r.chunk_index,
        sha256: sha256Hex(r.text),
      })),
      answer: JSON.stringify(results),
      model: null,
      tokens_in: 0,
      tokens_out: 0,
    });
  }
}
