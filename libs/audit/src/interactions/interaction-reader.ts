import { type TenantDb, type TenantKeys } from '@isogate/isolation';

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
  } | null;
}

/** Which interactions to read: a time range and a cursor (the last id of the previous page). */
export interface InteractionFilter {
  readonly from?: string;
  readonly to?: string;
  readonly after?: { readonly ts: string; readonly id: string };
}

interface InteractionRow {
  id: string;
  ts: Date;
  request_id: string;
  kind: 'chat' | 'retrieve';
  content_enc: Buffer | null;
  content_sha256: string;
  model: string | null;
  tokens_in: number;
  tokens_out: number;
}

/** Reads the current tenant's interactions and opens them with the tenant's data key. */
export class InteractionReader {
  constructor(
    private readonly db: TenantDb,
    private readonly keys: TenantKeys,
  ) {}

  async page(filter: InteractionFilter, limit: number): Promise<InteractionView[]> {
    const rows = await this.db.transaction((s) =>
      s.query<InteractionRow>(
        `SELECT id, ts, request_id, kind, content_enc, content_sha256, model, tokens_in, tokens_out
           FROM interactions
          WHERE ($1::timestamptz IS NULL OR ts >= $1) AND ($2::timestamptz IS NULL OR ts < $2)
            AND ($3::timestamptz IS NULL OR (ts, id) > ($3, $4::uuid))
          ORDER BY ts, id LIMIT $5`,
        [
          filter.from ?? null,
          filter.to ?? null,
          filter.after?.ts ?? null,
          filter.after?.id ?? null,
          limit,
        ],
      ),
    );
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
