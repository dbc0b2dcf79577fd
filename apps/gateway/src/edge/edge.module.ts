import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { QuotaModule } from '../quota/quota.module.js';
import { RequestPipelineInterceptor } from './request-pipeline.interceptor.js';

/**
 * The request pipeline: the one global interceptor (tenant context, audit scope, wait clock,
 * request quota, audit preflight, in that order). The hooks before and after it are installed
 * by `installEdgeHooks` when the gateway is built.
 */
@Module({
  imports: [AuthModule, AuditModule, QuotaModule],
  providers: [{ provide: APP_INTERCEPTOR, useClass: RequestPipelineInterceptor }],
})
export class EdgeModule {}
