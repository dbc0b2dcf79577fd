import type {
  InteractionQuery,
  InteractionRow,
  InteractionsRepository,
  TenantKeys,
} from '@isogate/isolation';

/** One interaction as an auditor reads it; `content` is null once retention removed it. */
export interface InteractionView {
  readonly id: string;
  readonly ts: string;
  readonly request_id: string;
  readonly kind: 'chat' | 'retrieve';
  readonly content_sha256: string;
  readonly model: string | null;
  readonly tokens_in: number;
  readonly tokens_out: number;
  readonly content: {
    readonly prompt: string;
    readonly chunks: readonly { document_id: string; chunk_index: number; sha256: string }[];
    readonly answer: string;
    /** Present when the answer is the part of a stream sent before it was cut off. */
    readonly partial?: true;
  } | null;
}

/** Which interactions to read: a time range and a cursor (the last id of the previous page). */
export type InteractionFilter = InteractionQuery;

/** Reads the current tenant's interactions and opens them with the tenant's data key. */
export class InteractionReader {
  constructor(
    private readonly interactions: InteractionsRepository,
    private readonly keys: TenantKeys,
  ) {}

  async page(filter: InteractionFilter, limit: number): Promise<InteractionView[]> {
    const rows = await this.interactions.page(filter, limit);
    return Promise.all(rows.map((row) => this.view(row)));
  }

  private async view(row: InteractionRow): Promise<InteractionView> {
    const content =
      row.content_enc === null
        ? null
        : (JSON.parse(
            (await this.keys.open(row.content_enc)).toString('utf8'),
          ) as InteractionView['content']);
    return {
      id: row.id,
      ts: row.ts.toISOString(),
      request_id: row.request_id,
      kind: row.kind,
      content_sha256: row.content_sha256,
      model: row.model,
      tokens_in: row.tokens_in,
      tokens_out: row.tokens_out,
      content,
    };
  }
}
