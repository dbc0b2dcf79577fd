import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { TenantContext, UsageRepository, type UsageDay } from '@isogate/isolation';
import { Roles } from '../auth/decorators.js';
import { ZodPipe } from '../validation/zod.pipe.js';
import { usageQuerySchema, type UsageQuery } from './tenant.schemas.js';
import { usageRange } from './tenants.service.js';

/** A tenant's own usage, for its admins: the same figures its operator reads. */
@ApiTags('tenants')
@ApiBearerAuth()
@Roles('admin')
@Controller('v1/usage')
export class OwnUsageController {
  constructor(@Inject(UsageRepository) private readonly usage: UsageRepository) {}

  @Get()
  @ApiOperation({ summary: "The caller's tenant's usage per day and per model" })
  async read(
    @Query(new ZodPipe(usageQuerySchema)) query: UsageQuery,
  ): Promise<{ tenant_id: string; from: string; to: string; data: UsageDay[] }> {
    const range = usageRange(query);
    const data = await this.usage.ofTenant(range);
    return { tenant_id: TenantContext.requireTenantId(), ...range, data };
  }
}
