import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { QuotaModule } from '../quota/quota.module.js';
import { RetrievalModule } from '../retrieval/retrieval.module.js';
import { ChatCache } from './chat-cache.js';
import { ChatController } from './chat.controller.js';
import { ChatService } from './chat.service.js';
import { StreamAudit } from './stream-audit.js';

/** `POST /v1/chat/completions`: answers grounded in the caller's tenant's documents only. */
@Module({
  imports: [AuthModule, AuditModule, DocumentsModule, QuotaModule, RetrievalModule],
  controllers: [ChatController],
  providers: [ChatService, ChatCache, StreamAudit],
})
export class ChatModule {}
