import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { GraphExpansion } from './graph-expansion.js';
import { RetrievalController } from './retrieval.controller.js';
import { RetrievalRecord } from './retrieval-record.js';
import { RetrievalService } from './retrieval.service.js';

@Module({
  imports: [AuthModule, AuditModule, DocumentsModule],
  controllers: [RetrievalController],
  providers: [RetrievalService, GraphExpansion, RetrievalRecord],
  exports: [RetrievalService],
})
export class RetrievalModule {}
