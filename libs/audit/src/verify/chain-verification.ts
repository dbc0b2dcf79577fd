import { TenantContext } from '@isogate/isolation';
import { GENESIS_HASH } from '../chain/canonical.js';
import { ChainVerifier, type ChainReport, type ChainStart } from '../chain/chain-verifier.js';
import type { ExportSigner } from '../export/export-signer.js';
import type { AuditReader, Checkpoint } from '../trail/audit-reader.js';
import { StreamTally, type StreamsReport } from './stream-tally.js';

/** What verifying a tenant's chain found, with the streamed answers among its events. */
export interface ChainVerificationReport extends ChainReport {
  /** Over the events that verified; open streams do not make the chain invalid. */
  readonly streams: StreamsReport;
}

/** The object a checkpoint's signature covers (canonical JSON, like a manifest). */
export function checkpointStatement(tenantId: string, checkpoint: Omit<Checkpoint, 'signature'>) {
  return {
    tenant_id: tenantId,
    seq: checkpoint.seq,
    head_hash: checkpoint.head_hash,
    ts: checkpoint.ts,
    kind: checkpoint.kind,
    key_id: checkpoint.key_id,
  };
}

/**
 * Verifies the current tenant's whole chain in the database: from genesis, or from the latest
 * signed prune checkpoint, through every event, against every signed checkpoint on the way and
 * the head the database keeps (moved only by the insert trigger): the head read before the events
 * anchors them (a cut tail ends short of it), the head read after them bounds them. In the same
 * pass it counts the streamed chat answers that started and completed (StreamTally).
 */
export class ChainVerification {
  constructor(
    private readonly reader: AuditReader,
    private readonly signer: ExportSigner,
  ) {}

  async verify(): Promise<ChainVerificationReport> {
    const tenantId = TenantContext.requireTenantId();
    const before = await this.reader.head();
    const checkpoints = await this.reader.checkpoints();
    const forged = checkpoints.find(
      (c) => !this.signer.verify(checkpointStatement(tenantId, c), c.signature),
    );
    const streams = new StreamTally();
    if (forged !== undefined)
      return {
        valid: false,
        events: 0,
        head_hash: null,
        first_broken_seq: forged.seq,
        streams: streams.report(),
      };
    const prune = checkpoints.filter((c) => c.kind === 'prune').at(-1);
    const start: ChainStart = prune
      ? { seq: prune.seq, hash: prune.head_hash }
      : { seq: 0, hash: GENESIS_HASH };
    const anchors = new Map(
      checkpoints.filter((c) => c.seq > start.seq).map((c) => [c.seq, c.head_hash]),
    );
    if (before !== undefined) anchors.set(before.seq, before.hash);
    const verifier = new ChainVerifier(start, anchors);
    for await (const event of this.reader.iterate({}))
      if (verifier.push(event)) streams.push(event);
    // Events appended while this ran chain on from `before` and are checked like the rest; an
    // event beyond the head read afterwards was never appended through the trigger.
    const after = await this.reader.head();
    const report = verifier.finish({ atLeast: before?.seq ?? 0, atMost: after?.seq ?? 0 });
    return { ...report, streams: streams.report() };
  }
}
