import { Module } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import {
  AuditArchive,
  AuditCheckpointer,
  AuditExport,
  AuditReader,
  AuditTrail,
  ChainVerification,
  ExportSigner,
  InteractionLog,
  InteractionReader,
  type AuditLogger,
} from '@isogate/audit';
import {
  AuditCheckpointsRepository,
  AuditEventsRepository,
  InteractionsRepository,
  PostgresPools,
  TenantDb,
  TenantKeys,
} from '@isogate/isolation';
import type { FastifyInstance } from 'fastify';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { AuditController } from './audit.controller.js';
import { AuditService } from './audit.service.js';
import { AUDIT_LOGGER, AuditCheckpointsService } from './audit-checkpoints.service.js';
import { archiveOf, checkpointerOf } from './audit-checkpointing.js';

/**
 * The audit trail: one event per `/v1` request (recorded by the edge hooks), the interactions log
 * that chat and retrieve call, the auditor's API, and the background checkpointer that signs
 * chains and archives their segments. `AuditTrail` and `InteractionLog` are exported for
 * features, `AuditCheckpointer` for whoever needs a checkpoint now.
 */
@Module({
  controllers: [AuditController],
  providers: [
    {
      provide: AuditEventsRepository,
      inject: [PostgresPools],
      // Audit writes use the gateway pool, not the small control pool that provisioning holds.
      useFactory: (pools: PostgresPools) => new AuditEventsRepository(pools),
    },
    {
      provide: AuditTrail,
      inject: [AuditEventsRepository],
      useFactory: (events: AuditEventsRepository) => new AuditTrail(events),
    },
    {
      provide: AUDIT_LOGGER,
      inject: [HttpAdapterHost],
      useFactory: (host: HttpAdapterHost): AuditLogger => {
        // Fastify's logger is the gateway's pino logger; it is read when a message is written.
        const log = () => host.httpAdapter.getInstance<FastifyInstance>().log;
        return {
          info: (fields, message) => log().info({ component: 'audit', ...fields }, message),
          warn: (fields, message) => log().warn({ component: 'audit', ...fields }, message),
          error: (fields, message) => log().error({ component: 'audit', ...fields }, message),
        };
      },
    },
    {
      provide: AuditArchive,
      inject: [APP_CONFIG, AUDIT_LOGGER],
      useFactory: (c: AppConfig, log: AuditLogger) => archiveOf(c.audit, log) ?? null,
    },
    {
      provide: AuditCheckpointer,
      inject: [APP_CONFIG, PostgresPools, ExportSigner, AuditArchive, AUDIT_LOGGER],
      useFactory: (
        c: AppConfig,
        pools: PostgresPools,
        signer: ExportSigner,
        archive: AuditArchive | null,
        log: AuditLogger,
      ) => checkpointerOf(c.audit, pools, signer, archive ?? undefined, log),
    },
    AuditCheckpointsService,
    {
      provide: AuditReader,
      inject: [AuditEventsRepository, PostgresPools],
      useFactory: (events: AuditEventsRepository, pools: PostgresPools) =>
        new AuditReader(events, new AuditCheckpointsRepository(pools)),
    },
    {
      provide: ExportSigner,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig) => ExportSigner.fromFile(c.audit.signingKeyFile),
    },
    {
      provide: AuditExport,
      inject: [AuditReader, ExportSigner],
      useFactory: (r: AuditReader, s: ExportSigner) => new AuditExport(r, s),
    },
    {
      provide: ChainVerification,
      inject: [AuditReader, ExportSigner],
      useFactory: (r: AuditReader, s: ExportSigner) => new ChainVerification(r, s),
    },
    {
      provide: InteractionLog,
      inject: [TenantKeys],
      useFactory: (keys: TenantKeys) => new InteractionLog(keys),
    },
    {
      provide: InteractionReader,
      inject: [TenantDb, TenantKeys],
      useFactory: (db: TenantDb, keys: TenantKeys) =>
        new InteractionReader(new InteractionsRepository(db), keys),
    },
    AuditService,
  ],
  exports: [AuditTrail, InteractionLog, AuditCheckpointer],
})
export class AuditModule {}
