import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { TenantStateCache } from '@isogate/isolation';
import { Roles } from '../auth/decorators.js';
import { ModelRouting, policyOf } from './model-routing.js';

/** One model, shaped as OpenAI's `GET /v1/models` lists it. */
export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

@ApiTags('chat')
@ApiBearerAuth()
@Controller('v1/models')
export class ModelsController {
  readonly #created = Math.floor(Date.now() / 1000);

  constructor(
    @Inject(ModelRouting) private readonly routing: ModelRouting,
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
  ) {}

  @Get()
  @Roles('user', 'admin')
  @ApiOperation({ summary: "The models the caller's tenant may use" })
  async list(): Promise<{ object: 'list'; data: ModelEntry[] }> {
    const policy = policyOf(await this.states.current());
    const data = this.routing.chatModels(policy).map(({ id }) => ({
      id,
      object: 'model' as const,
      created: this.#created,
      owned_by: 'isogate',
    }));
    return { object: 'list', data };
  }
}
