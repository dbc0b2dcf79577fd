import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/config.js';
import { AuthModule } from './auth/auth.module.js';
import { QuotaModule } from './quota/quota.module.js';
import { HealthModule } from './health/health.module.js';
import { ModelsModule } from './models/models.module.js';
import { TenantsModule } from './tenants/tenants.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { StoresModule } from './stores/stores.module.js';
import { AuditModule } from './audit/audit.module.js';
import { EmbeddingsModule } from './embeddings/embeddings.module.js';
import { DocumentsModule } from './documents/documents.module.js';
import { RetrievalModule } from './retrieval/retrieval.module.js';
import { ChatModule } from './chat/chat.module.js';
import { EdgeModule } from './edge/edge.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        StoresModule,
        EmbeddingsModule,
        AuthModule,
        AuditModule,
        QuotaModule,
        EdgeModule,
        MetricsModule,
        HealthModule,
        TenantsModule,
        ModelsModule,
        DocumentsModule,
        RetrievalModule,
        ChatModule,
      ],
    };
  }
}
