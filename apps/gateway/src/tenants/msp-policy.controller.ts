import { Body, Controller, Get, Inject, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditScope, canonicalJson, sha256Hex } from '@isogate/audit';
import { MspPolicyRepository, TenantStateCache, type MspPolicyRecord } from '@isogate/isolation';
import { Roles } from '../auth/decorators.js';
import { bodySchema, ZodPipe } from '../validation/zod.pipe.js';
import { noQuerySchema, policySchema, type PolicyBody } from './tenant.schemas.js';

/** The default model policy of the operator's MSP, which applies to every tenant of it. */
@ApiTags('tenants')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/msp/policy')
export class MspPolicyController {
  constructor(
    @Inject(MspPolicyRepository) private readonly policies: MspPolicyRepository,
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
  ) {}

  @Get()
  @ApiOperation({ summary: "The MSP's default model policy" })
  read(@Query(new ZodPipe(noQuerySchema)) _query: object): Promise<MspPolicyRecord> {
    return this.policies.read();
  }

  @Put()
  @ApiOperation({ summary: "Replace the MSP's default model policy" })
  @ApiBody({ schema: bodySchema(policySchema) })
  async replace(@Body(new ZodPipe(policySchema)) body: PolicyBody): Promise<MspPolicyRecord> {
    const record = await this.policies.replace(body);
    // The change is on record by its digest; the policy itself is in the request's resource.
    AuditScope.annotate({ policy_sha256: sha256Hex(canonicalJson(record.policy)) });
    // This process follows at once; other replicas within the state cache's 2 s.
    this.states.forgetAll();
    return record;
  }
}
