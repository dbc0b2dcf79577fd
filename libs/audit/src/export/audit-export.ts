import { createHash } from 'node:crypto';
import { TenantContext, type CallerContext } from '@isogate/isolation';
import { canonicalJson } from '../chain/canonical.js';
import type { AuditReader } from '../trail/audit-reader.js';
import {
  CSV_HEADER,
  csvLine,
  jsonlLine,
  type ExportFormat,
  type ExportManifest,
} from './export-format.js';
import type { ExportSigner } from './export-signer.js';

/** The range of an export: a time window, pinned to the chain as it was up to `untilSeq`. */
export interface ExportRange {
  readonly from?: string;
  readonly to?: string;
  readonly untilSeq: number;
}

/**
 * Streams the current tenant's events as JSONL or CSV, page by page, hashing the bytes as they
 * go (constant memory). JSONL ends with the signed manifest line; for CSV the same manifest is
 * computed by streaming the same range again (`manifest`).
 */
export class AuditExport {
  constructor(
    private readonly reader: AuditReader,
    private readonly signer: ExportSigner,
  ) {}

  /**
   * The export's lines; with `withManifest`, the manifest line comes last. The lines are read
   * while the response streams, after the handler returned, so every step runs in the context
   * of the caller who asked for them (captured here), never in whatever context reads them.
   */
  lines(range: ExportRange, format: ExportFormat, withManifest: boolean): AsyncGenerator<string> {
    return bound(TenantContext.require(), this.unboundLines(range, format, withManifest));
  }

  private async *unboundLines(
    range: ExportRange,
    format: ExportFormat,
    withManifest: boolean,
  ): AsyncGenerator<string> {
    const digest = createHash('sha256');
    const tally = {
      count: 0,
      first: null as number | null,
      last: null as number | null,
      head: null as string | null,
    };
    const emit = (line: string) => {
      digest.update(line, 'utf8');
      return line;
    };
    if (format === 'csv') yield emit(CSV_HEADER);
    const filter = {
      ...(range.from !== undefined ? { from: range.from } : {}),
      ...(range.to !== undefined ? { to: range.to } : {}),
      untilSeq: range.untilSeq,
    };
    for await (const event of this.reader.iterate(filter)) {
      tally.count += 1;
      tally.first ??= event.seq;
      tally.last = event.seq;
      tally.head = event.hash;
      yield emit(format === 'csv' ? csvLine(event) : jsonlLine(event));
    }
    if (withManifest) {
      const manifest = this.sign(range, tally, digest.digest('hex'));
      // Canonical too, so removing `"signature":"..."` leaves exactly the signed bytes.
      yield `${canonicalJson(manifest)}\n`;
    }
  }

  /** The signed manifest of an export of `range` in `format`, without sending its bytes. */
  async manifest(range: ExportRange, format: ExportFormat): Promise<ExportManifest> {
    let last = '';
    for await (const line of this.unboundLines(range, format, true)) last = line;
    return JSON.parse(last) as ExportManifest;
  }

  private sign(
    range: ExportRange,
    tally: { count: number; first: number | null; last: number | null; head: string | null },
    sha256: string,
  ): ExportManifest {
    const unsigned = {
      tenant_id: TenantContext.requireTenantId(),
      from: range.from ?? null,
      to: range.to ?? null,
      count: tally.count,
      first_seq: tally.first,
      last_seq: tally.last,
      head_hash: tally.head,
      sha256,
      key_id: this.signer.keyId,
    };
    return { ...unsigned, signature: this.signer.sign(unsigned) };
  }
}

/** `source`, with each step run inside `context`. */
async function* bound<T>(context: CallerContext, source: AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    for (;;) {
      const step = await TenantContext.run(context, () => source.next());
      if (step.done === true) return;
      yield step.value;
    }
  } finally {
    await TenantContext.run(context, () => source.return(undefined));
  }
}
