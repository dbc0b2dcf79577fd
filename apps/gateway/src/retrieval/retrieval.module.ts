import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { GraphExpansion } from './graph-expansion.js';
import { RetrievalController } from './retrieval.controller.js';
import { RetrievalService } from './retrieval.service.js';

@Module({
  imports: [AuthModule, DocumentsModule],
  controllers: [RetrievalController],
  providers: [RetrievalService, GraphExpansion],
  exports: [RetrievalService],
})
export class RetrievalModule {}
