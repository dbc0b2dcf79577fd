import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { MspPolicyController } from './msp-policy.controller.js';
import { OwnUsageController } from './own-usage.controller.js';
import { TenantsController } from './tenants.controller.js';
import { TenantsService } from './tenants.service.js';

@Module({
  imports: [AuthModule, DocumentsModule],
  controllers: [TenantsController, MspPolicyController, OwnUsageController],
  providers: [TenantsService],
})
export class TenantsModule {}
