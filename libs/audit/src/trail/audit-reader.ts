import { type TenantDb } from '@isogate/isolation';
import { EVENT_FIELDS, type AuditEvent, type AuditOutcome } from '../chain/audit-event.js';
import type { ChainStart } from '../chain/chain-verifier.js';
import { eventOfRow, type EventRow } from './event-rows.js';

/** Which events of the current tenant's chain to read. Times are ISO 8601; `to` is exclusive. */
export interface EventFilter {
  readonly from?: string;
  readonly to?: string;
  readonly action?: string;
  readonly outcome?: AuditOutcome;
  /** Only events after this seq (a cursor). */
  readonly afterSeq?: number;
  /** Only events up to this seq (pins an export to the chain as it was when it started). */
  readonly untilSeq?: number;
}

/** A signed checkpoint of the current tenant's chain. */
export interface Checkpoint {
  readonly seq: number;
  readonly head_hash: string;
  readonly ts: string;
  readonly kind: 'periodic' | 'prune';
  readonly key_id: string;
  readonly signature: string;
}

const PAGE = 500;

/** Reads the current tenant's audit chain, through the tenant's row-level policy only. */
export class AuditReader {
  constructor(private readonly db: TenantDb) {}

  /** Up to `limit` events matching `filter`, in seq order. */
  async page(filter: EventFilter, limit: number): Promise<AuditEvent[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      values.push(value);
      where.push(clause.replace('?', `$${values.length}`));
    };
    if (filter.from !== undefined) add('ts >= ?::timestamptz', filter.from);
    if (filter.to !== undefined) add('ts < ?::timestamptz', filter.to);
    if (filter.action !== undefined) add('action = ?', filter.action);
    if (filter.outcome !== undefined) add('outcome = ?', filter.outcome);
    if (filter.afterSeq !== undefined) add('seq > ?', filter.afterSeq);
    if (filter.untilSeq !== undefined) add('seq <= ?', filter.untilSeq);
    values.push(limit);
    const rows = await this.db.transaction((s) =>
      s.query<EventRow>(
        `SELECT ${EVENT_FIELDS.join(', ')} FROM audit_events
          ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY seq LIMIT $${values.length}`,
        values,
      ),
    );
    return rows.map(eventOfRow);
  }

  /** Every event matching `filter`, in seq order, read page by page (constant memory). */
  async *iterate(filter: EventFilter): AsyncGenerator<AuditEvent> {
    let afterSeq = filter.afterSeq;
    for (;;) {
      const page = await this.page(
        { ...filter, ...(afterSeq !== undefined ? { afterSeq } : {}) },
        PAGE,
      );
      yield* page;
      if (page.length < PAGE) return;
      afterSeq = (page[page.length - 1] as AuditEvent).seq;
    }
  }

  /** Where the chain ends, as the database's head row says (moved only by the insert trigger). */
  async head(): Promise<ChainStart | undefined> {
    const rows = await this.db.transaction((s) =>
      s.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_heads'),
    );
    const row = rows[0];
    return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
  }

  /** Every checkpoint of the chain, oldest first. */
  async checkpoints(): Promise<Checkpoint[]> {
    const rows = await this.db.transaction((s) =>
      s.query<{
        seq: string;
        head_hash: string;
        ts: Date;
        kind: 'periodic' | 'prune';
        key_id: string;
        signature: string;
      }>(
        'SELECT seq, head_hash, ts, kind, key_id, signature FROM audit_checkpoints ORDER BY seq, kind',
      ),
    );
    return rows.map((r) => ({ ...r, seq: Number(r.seq), ts: r.ts.toISOString() }));
  }
}
