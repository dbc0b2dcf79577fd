import { Inject, Injectable } from '@nestjs/common';
import {
  AuditExport,
  AuditReader,
  AuditScope,
  ChainVerification,
  InteractionReader,
  type AuditEvent,
  type ChainVerificationReport,
  type ExportFormat,
  type ExportManifest,
  type InteractionView,
} from '@isogate/audit';
import { IsogateError } from '@isogate/isolation';
import type {
  EventsQuery,
  ExportQuery,
  InteractionsQuery,
  ManifestQuery,
} from './audit.schemas.js';

/** An export ready to stream: its lines, and the seq it was pinned to. */
export interface ExportStream {
  readonly lines: AsyncGenerator<string>;
  readonly lastSeq: number;
  readonly format: ExportFormat;
}

/** The auditor's view of the current tenant's trail. Every read goes through the tenant's RLS. */
@Injectable()
export class AuditService {
  constructor(
    @Inject(AuditReader) private readonly reader: AuditReader,
    @Inject(AuditExport) private readonly exporter: AuditExport,
    @Inject(ChainVerification) private readonly verification: ChainVerification,
    @Inject(InteractionReader) private readonly interactionReader: InteractionReader,
  ) {}

  async events(query: EventsQuery): Promise<{ data: AuditEvent[]; next_cursor: string | null }> {
    const data = await this.reader.page(
      {
        ...optional({
          from: query.from,
          to: query.to,
          action: query.action,
          outcome: query.outcome,
        }),
        ...(query.cursor !== undefined ? { afterSeq: Number(query.cursor) } : {}),
      },
      query.limit,
    );
    const last = data.at(-1);
    return { data, next_cursor: data.length === query.limit && last ? String(last.seq) : null };
  }

  /** Starts an export pinned to the chain's current head; the export's own event comes after. */
  async export(query: ExportQuery): Promise<ExportStream> {
    const lastSeq = (await this.reader.head())?.seq ?? 0;
    AuditScope.annotate({
      export: {
        format: query.format,
        from: query.from ?? null,
        to: query.to ?? null,
        last_seq: lastSeq,
      },
    });
    const range = { ...optional({ from: query.from, to: query.to }), untilSeq: lastSeq };
    return {
      lines: this.exporter.lines(range, query.format, query.format === 'jsonl'),
      lastSeq,
      format: query.format,
    };
  }

  async manifest(query: ManifestQuery): Promise<ExportManifest> {
    const untilSeq = query.last_seq ?? (await this.reader.head())?.seq ?? 0;
    return this.exporter.manifest(
      { ...optional({ from: query.from, to: query.to }), untilSeq },
      query.format,
    );
  }

  verify(): Promise<ChainVerificationReport> {
    return this.verification.verify();
  }

  async interactions(
    query: InteractionsQuery,
  ): Promise<{ data: InteractionView[]; next_cursor: string | null }> {
    const after = query.cursor === undefined ? undefined : parseCursor(query.cursor);
    const data = await this.interactionReader.page(
      { ...optional({ from: query.from, to: query.to }), ...(after ? { after } : {}) },
      query.limit,
    );
    const last = data.at(-1);
    const next =
      data.length === query.limit && last
        ? Buffer.from(JSON.stringify({ ts: last.ts, id: last.id })).toString('base64url')
        : null;
    return { data, next_cursor: next };
  }
}

function parseCursor(cursor: string): { ts: string; id: string } {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    const { ts, id } = parsed as { ts?: unknown; id?: unknown };
    if (
      typeof ts === 'string' &&
      !Number.isNaN(Date.parse(ts)) &&
      typeof id === 'string' &&
      /^[0-9a-f-]{36}$/.test(id)
    )
      return { ts, id };
  } catch {
    // falls through to the refusal below
  }
  throw new IsogateError('invalid_request', 'cursor: is not a cursor this API gave', {
    param: 'cursor',
  });
}

/** The defined entries of `values` only. */
function optional<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
