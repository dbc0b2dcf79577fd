import type { CheckpointSession } from '@isogate/isolation';
import { GENESIS_HASH } from '../chain/canonical.js';
import { ChainVerifier, type ChainStart } from '../chain/chain-verifier.js';
import { jsonlLine } from '../export/export-format.js';
import { eventOfRow } from '../trail/event-rows.js';

/** The current tenant's chain as the checkpointer sees it. */
export interface ChainState {
  /** Where the last checkpoint (periodic or prune) ends: the next segment starts after it. */
  readonly start: ChainStart;
  readonly headSeq: number;
  /** The tenant's retention; once it is deleted, the one its last checkpoint recorded. */
  readonly retentionDays: number;
}

/** The current tenant's chain state, through its row policy; undefined for an empty chain. */
export async function chainState(session: CheckpointSession): Promise<ChainState | undefined> {
  const chain = await session.chain();
  if (chain === undefined) return undefined;
  return {
    start: chain.last ?? { seq: 0, hash: GENESIS_HASH },
    headSeq: chain.headSeq,
    retentionDays: chain.retentionDays,
  };
}

/**
 * The current tenant's events after `start` up to `lastSeq`, as export-format JSONL with the
 * last hash, when they chain from `start` without a gap; otherwise the first bad seq.
 */
export async function readSegment(
  session: CheckpointSession,
  start: ChainStart,
  lastSeq: number,
): Promise<{ jsonl: Buffer; headHash: string } | { brokenAt: number | null }> {
  const rows = await session.eventsThrough(start.seq, lastSeq);
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
