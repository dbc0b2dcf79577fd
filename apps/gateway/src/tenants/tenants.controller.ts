import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { DeletionReceipt, ReembedRecord, TenantRecord } from '@isogate/isolation';
import { Roles } from '../auth/decorators.js';
import { bodySchema, ZodPipe } from '../validation/zod.pipe.js';
import {
  createTenantSchema,
  patchTenantSchema,
  noQuerySchema,
  usageQuerySchema,
  type CreateTenantBody,
  type PatchTenantBody,
  type UsageQuery,
} from './tenant.schemas.js';
import { TenantIdPipe } from './tenant-id.pipe.js';
import { TenantsService, type ChangedTenant } from './tenants.service.js';

@ApiTags('tenants')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/tenants')
export class TenantsController {
  constructor(@Inject(TenantsService) private readonly tenants: TenantsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a tenant and provision it in every store' })
  @ApiBody({ schema: bodySchema(createTenantSchema) })
  create(@Body(new ZodPipe(createTenantSchema)) body: CreateTenantBody): Promise<TenantRecord> {
    return this.tenants.create(body);
  }

  @Get()
  @ApiOperation({ summary: "List the operator's tenants" })
  async list(@Query(new ZodPipe(noQuerySchema)) _query: object): Promise<{ data: TenantRecord[] }> {
    return { data: await this.tenants.list() };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one tenant of the operator' })
  get(@Param('id', TenantIdPipe) id: string): Promise<TenantRecord> {
    return this.tenants.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Suspend, resume or change a tenant' })
  @ApiBody({ schema: bodySchema(patchTenantSchema) })
  update(
    @Param('id', TenantIdPipe) id: string,
    @Body(new ZodPipe(patchTenantSchema)) body: PatchTenantBody,
  ): Promise<ChangedTenant> {
    return this.tenants.update(id, body);
  }

  @Get(':id/reembed')
  @ApiOperation({ summary: "Progress of the tenant's latest re-embedding" })
  reembed(@Param('id', TenantIdPipe) id: string): Promise<ReembedRecord> {
    return this.tenants.latestReembed(id);
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: "Delete a tenant's data from every store and destroy its key" })
  delete(@Param('id', TenantIdPipe) id: string): Promise<DeletionReceipt> {
    return this.tenants.delete(id);
  }

  @Get(':id/usage')
  @ApiOperation({ summary: 'Requests and tokens per day' })
  usage(
    @Param('id', TenantIdPipe) id: string,
    @Query(new ZodPipe(usageQuerySchema)) query: UsageQuery,
  ) {
    return this.tenants.usage(id, query);
  }
}
