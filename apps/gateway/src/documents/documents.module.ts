import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { DocumentIndex } from './document-index.js';
import { DocumentPreparer } from './document-preparer.js';
import { DocumentsController } from './documents.controller.js';
import { DocumentsService } from './documents.service.js';
import { Reembedding } from './reembedding.js';
import { TenantSettings } from './tenant-settings.js';

@Module({
  imports: [AuthModule, AuditModule],
  controllers: [DocumentsController],
  providers: [DocumentsService, DocumentIndex, DocumentPreparer, TenantSettings, Reembedding],
  exports: [TenantSettings, Reembedding],
})
export class DocumentsModule {}
