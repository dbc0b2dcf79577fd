import type { TenantDb } from '../db/tenant-db.js';

/** An interaction row as PostgreSQL returns it; `content_enc` is null once retention removed it. */
export interface InteractionRow {
  readonly id: string;
  readonly ts: Date;
  readonly request_id: string;
  readonly kind: 'chat' | 'retrieve';
  readonly content_enc: Buffer | null;
  readonly content_sha256: string;
  readonly model: string | null;
  readonly tokens_in: number;
  readonly tokens_out: number;
}

/** Which interactions to read: a time range and a cursor (the last one of the previous page). */
export interface InteractionQuery {
  readonly from?: string;
  readonly to?: string;
  readonly after?: { readonly ts: string; readonly id: string };
}

/** The current tenant's interactions, through the tenant's row-level policy only. */
export class InteractionsRepository {
  constructor(private readonly db: TenantDb) {}

  /** Up to `limit` interactions matching `query`, in time order (then id, for a stable cursor). */
  async page(query: InteractionQuery, limit: number): Promise<InteractionRow[]> {
    return this.db.transaction((s) =>
      s.query<InteractionRow>(
        `SELECT id, ts, request_id, kind, content_enc, content_sha256, model, tokens_in, tokens_out
           FROM interactions
          WHERE ($1::timestamptz IS NULL OR ts >= $1) AND ($2::timestamptz IS NULL OR ts < $2)
            AND ($3::timestamptz IS NULL OR (ts, id) > ($3, $4::uuid))
          ORDER BY ts, id LIMIT $5`,
        [
          query.from ?? null,
          query.to ?? null,
          query.after?.ts ?? null,
          query.after?.id ?? null,
          limit,
        ],
      ),
    );
  }
}
