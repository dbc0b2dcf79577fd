import { Controller, Get, Header, Inject, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ExportSigner, type PublicKeyView } from '@isogate/audit';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { Roles } from '../auth/decorators.js';
import { ZodPipe } from '../validation/zod.pipe.js';
import {
  eventsQuerySchema,
  exportQuerySchema,
  interactionsQuerySchema,
  manifestQuerySchema,
  noQuerySchema,
  type EventsQuery,
  type ExportQuery,
  type InteractionsQuery,
  type ManifestQuery,
} from './audit.schemas.js';
import { AuditService } from './audit.service.js';

const CONTENT_TYPES = { jsonl: 'application/x-ndjson', csv: 'text/csv; charset=utf-8' } as const;

/** The auditor's API (API.md, Audit): the caller's own tenant's trail, nothing else. */
@ApiTags('audit')
@ApiBearerAuth()
@Roles('auditor')
@Controller('v1/audit')
export class AuditController {
  constructor(
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(ExportSigner) private readonly signer: ExportSigner,
  ) {}

  @Get('events')
  @ApiOperation({ summary: "The tenant's audit events, in seq order, with filters and a cursor" })
  events(@Query(new ZodPipe(eventsQuerySchema)) query: EventsQuery) {
    return this.audit.events(query);
  }

  @Get('export')
  @ApiOperation({ summary: 'Streamed export (JSONL ends with the signed manifest line)' })
  async export(
    @Query(new ZodPipe(exportQuerySchema)) query: ExportQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StreamableFile> {
    const started = await this.audit.export(query);
    void reply.header('x-audit-last-seq', String(started.lastSeq));
    return new StreamableFile(Readable.from(started.lines, { objectMode: false }), {
      type: CONTENT_TYPES[started.format],
      disposition: `attachment; filename="audit.${started.format}"`,
    });
  }

  @Get('export/manifest')
  @ApiOperation({ summary: 'The signed manifest of an export (for CSV exports)' })
  manifest(@Query(new ZodPipe(manifestQuerySchema)) query: ManifestQuery) {
    return this.audit.manifest(query);
  }

  @Get('public-key')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'The Ed25519 public key that signs manifests and checkpoints' })
  publicKey(@Query(new ZodPipe(noQuerySchema)) _query: object): PublicKeyView {
    return this.signer.publicKey();
  }

  @Get('verify')
  @ApiOperation({ summary: "Verifies the tenant's whole chain" })
  verify(@Query(new ZodPipe(noQuerySchema)) _query: object) {
    return this.audit.verify();
  }

  @Get('interactions')
  @ApiOperation({
    summary: 'Prompts, retrieved chunk ids and answers of chat and retrieve, decrypted',
  })
  interactions(@Query(new ZodPipe(interactionsQuerySchema)) query: InteractionsQuery) {
    return this.audit.interactions(query);
  }
}
