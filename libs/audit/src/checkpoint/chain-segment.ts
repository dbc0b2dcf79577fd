import type { SqlSession } from '@isogate/isolation';
import { EVENT_FIELDS } from '../chain/audit-event.js';
import { GENESIS_HASH } from '../chain/canonical.js';
import { ChainVerifier, type ChainStart } from '../chain/chain-verifier.js';
import { jsonlLine } from '../export/export-format.js';
import { eventOfRow, type EventRow } from '../trail/event-rows.js';

/** Retention when neither the tenant row nor an earlier checkpoint says (the tenants default). */
const DEFAULT_RETENTION_DAYS = 2190;

/** The current tenant's chain as the checkpointer sees it. */
export interface ChainState {
  /** Where the last checkpoint (periodic or prune) ends: the next segment starts after it. */
  readonly start: ChainStart;
  readonly headSeq: number;
  /** The tenant's retention; once it is deleted, the one its last checkpoint recorded. */
  readonly retentionDays: number;
}

/** The current tenant's chain state, through its row policy; undefined for an empty chain. */
export async function chainState(session: SqlSession): Promise<ChainState | undefined> {
  const [row] = await session.query<{
    seq: string;
    cp_seq: string | null;
    cp_hash: string | null;
    retention: number;
  }>(
    `SELECT h.seq, c.seq AS cp_seq, c.head_hash AS cp_hash,
            COALESCE((SELECT retention_days FROM tenants),
                     (SELECT retention_days FROM audit_checkpoints
                       WHERE retention_days IS NOT NULL ORDER BY seq DESC LIMIT 1),
                     $1) AS retention
       FROM audit_heads h
       LEFT JOIN LATERAL (SELECT seq, head_hash FROM audit_checkpoints
                           ORDER BY seq DESC LIMIT 1) c ON true`,
    [DEFAULT_RETENTION_DAYS],
  );
  if (row === undefined) return undefined;
  return {
    start: { seq: Number(row.cp_seq ?? 0), hash: row.cp_hash ?? GENESIS_HASH },
    headSeq: Number(row.seq),
    retentionDays: row.retention,
  };
}

/**
 * The current tenant's events after `start` up to `lastSeq`, as export-format JSONL with the
 * last hash, when they chain from `start` without a gap; otherwise the first bad seq.
 */
export async function readSegment(
  session: SqlSession,
  start: ChainStart,
  lastSeq: number,
): Promise<{ jsonl: Buffer; headHash: string } | { brokenAt: number | null }> {
  const rows = await session.query<EventRow>(
    `SELECT ${EVENT_FIELDS.join(', ')} FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq`,
    [start.seq, lastSeq],
  );
  const verifier = new ChainVerifier(start);
  let headHash = start.hash;
  const lines = rows.map((row) => {
    const event = eventOfRow(row);
    verifier.push(event);
    headHash = event.hash;
    return jsonlLine(event);
  });
  const report = verifier.finish({ atLeast: lastSeq, atMost: lastSeq });
  if (!report.valid) return { brokenAt: report.first_broken_seq };
  return { jsonl: Buffer.from(lines.join(''), 'utf8'), headHash };
}
