import type { AuditRetentionRepository, RetentionSession } from '@isogate/isolation';
import { GENESIS_HASH } from '../chain/canonical.js';
import { ChainVerifier, type ChainStart } from '../chain/chain-verifier.js';
import type { ExportSigner } from '../export/export-signer.js';
import { eventOfRow } from '../trail/event-rows.js';
import { checkpointStatement } from '../verify/chain-verification.js';

/** How a prune run cuts. */
export interface PruneOptions {
  /** Only events older than this go (retention still applies: the later of the two limits). */
  readonly before: Date;
  /** Work out and check everything, then roll back. */
  readonly dryRun: boolean;
  /** Cut at a checkpoint whose segment was never archived (those events then exist nowhere). */
  readonly allowUnarchived: boolean;
}

/** What pruning one chain did (or, in a dry run, would do). */
export interface PruneResult {
  readonly tenantId: string;
  readonly removed: number;
  /** The events cut, `from`..`seq`, and the archive key of the checkpoint at `seq`. */
  readonly cut?: {
    readonly from: number;
    readonly seq: number;
    readonly archiveKey: string | null;
  };
}

const PAGE = 1000;

/**
 * Owner-side retention of tenant chains. For a chain, in one transaction: picks the latest
 * periodic checkpoint whose events are all older than `before` and past the tenant's retention;
 * checks its signature and that the chain verifies from the previous cut up to it; writes a
 * signed `prune` checkpoint at that seq; and has the database delete the prefix (which it
 * refuses unless that checkpoint is archived, or `allowUnarchived`). Verification then starts
 * from the cut's head hash.
 */
export class AuditPruner {
  constructor(
    private readonly retention: AuditRetentionRepository,
    private readonly signer: ExportSigner,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The tenants with an audit chain (only `tenantId`, when given). */
  chains(tenantId?: string): Promise<string[]> {
    return this.retention.chains(tenantId);
  }

  /** Prunes one tenant's chain at its latest prunable checkpoint, if it has one. */
  prune(tenantId: string, options: PruneOptions): Promise<PruneResult> {
    return this.retention.onChain(tenantId, !options.dryRun, (session) =>
      this.pruneChain(session, tenantId, options),
    );
  }

  /** Removes the content of the tenant's interactions past retention (their hashes stay). */
  expireInteractions(tenantId: string, options: PruneOptions): Promise<number> {
    return this.retention.onChain(tenantId, !options.dryRun, (session) =>
      session.expireInteractions(options.before),
    );
  }

  private async pruneChain(
    session: RetentionSession,
    tenantId: string,
    options: PruneOptions,
  ): Promise<PruneResult> {
    const cut = await session.findCut(options.before);
    if (cut === undefined) return { tenantId, removed: 0 };
    const { checkpoint } = cut;
    const periodic = { ...checkpoint, ts: checkpoint.ts.toISOString() };
    if (!this.signer.verify(checkpointStatement(tenantId, periodic), checkpoint.signature))
      throw new Error(`the checkpoint at seq ${checkpoint.seq} is not signed by this key`);
    const start = cut.previous ?? { seq: 0, hash: GENESIS_HASH };
    const broken = await firstBrokenSeq(session, start, checkpoint.seq, checkpoint.head_hash);
    if (broken !== null) throw new Error(`the chain is broken at seq ${broken}; nothing is pruned`);
    const prune = {
      seq: checkpoint.seq,
      head_hash: checkpoint.head_hash,
      ts: this.clock().toISOString(),
      kind: 'prune' as const,
      key_id: this.signer.keyId,
    };
    await session.recordPrune({
      ...prune,
      signature: this.signer.sign(checkpointStatement(tenantId, prune)),
      archive_key: checkpoint.archive_key,
    });
    const removed = await session.removeThrough(prune.seq, options.allowUnarchived);
    return {
      tenantId,
      removed,
      cut: { from: start.seq + 1, seq: prune.seq, archiveKey: checkpoint.archive_key },
    };
  }
}

/**
 * Checks the chain from `start` up to exactly `cut`, whose hash must be `cutHash`, page by
 * page; answers the first bad seq, or null when it holds.
 */
async function firstBrokenSeq(
  session: RetentionSession,
  start: ChainStart,
  cut: number,
  cutHash: string,
): Promise<number | null> {
  const verifier = new ChainVerifier(start, new Map([[cut, cutHash]]));
  for (let after = start.seq; ;) {
    const rows = await session.eventsThrough(after, cut, PAGE);
    for (const row of rows)
      if (!verifier.push(eventOfRow(row))) return verifier.finish().first_broken_seq;
    const last = rows.at(-1);
    if (rows.length < PAGE || last === undefined) break;
    after = Number(last.seq);
  }
  return verifier.finish({ atLeast: cut, atMost: cut }).first_broken_seq;
}
