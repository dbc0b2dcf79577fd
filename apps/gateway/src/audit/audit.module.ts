import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { APP_INTERCEPTOR, HttpAdapterHost } from '@nestjs/core';
import {
  AuditExport,
  AuditReader,
  AuditTrail,
  ChainVerification,
  ExportSigner,
  InteractionLog,
  InteractionReader,
} from '@isogate/audit';
import { ControlDb, PostgresPools, TenantDb, TenantKeys } from '@isogate/isolation';
import type { FastifyInstance } from 'fastify';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { AuditController } from './audit.controller.js';
import { installAuditHooks } from './audit-hooks.js';
import { AuditScopeInterceptor } from './audit-scope.interceptor.js';
import { AuditService } from './audit.service.js';

/**
 * The audit trail: one event per `/v1` request (hooks and interceptor), the interactions log
 * that chat and retrieve call, and the auditor's API. `AuditTrail` and `InteractionLog` are
 * exported for features.
 */
@Module({
  controllers: [AuditController],
  providers: [
    {
      provide: AuditTrail,
      inject: [TenantDb, PostgresPools],
      // Audit writes use the gateway pool, not the small control pool that provisioning holds.
      useFactory: (db: TenantDb, pools: PostgresPools) =>
        new AuditTrail(db, new ControlDb(pools.gateway)),
    },
    { provide: AuditReader, inject: [TenantDb], useFactory: (db: TenantDb) => new AuditReader(db) },
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
      useFactory: (db: TenantDb, keys: TenantKeys) => new InteractionReader(db, keys),
    },
    AuditService,
    { provide: APP_INTERCEPTOR, useClass: AuditScopeInterceptor },
  ],
  exports: [AuditTrail, InteractionLog],
})
export class AuditModule implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(AuditTrail) private readonly trail: AuditTrail,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    installAuditHooks(fastify, this.trail);
  }
}
