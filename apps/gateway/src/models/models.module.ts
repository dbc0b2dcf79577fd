import { Global, Module } from '@nestjs/common';
import { QuotaModule } from '../quota/quota.module.js';
import { ModelRouting } from './model-routing.js';
import { ModelsController } from './models.controller.js';

/** The model catalog, the routing by tenant policy, and `GET /v1/models`. */
@Global()
@Module({
  imports: [QuotaModule],
  controllers: [ModelsController],
  providers: [ModelRouting],
  exports: [ModelRouting],
})
export class ModelsModule {}
