import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { DocumentIndex } from './document-index.js';
import { DocumentPreparer } from './document-preparer.js';
import { DocumentsController } from './documents.controller.js';
import { DocumentsService } from './documents.service.js';
import { TenantSettings } from './tenant-settings.js';

@Module({
  imports: [AuthModule],
  controllers: [DocumentsController],
  providers: [DocumentsService, DocumentIndex, DocumentPreparer, TenantSettings],
  exports: [TenantSettings],
})
export class DocumentsModule {}
