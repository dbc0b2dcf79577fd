import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/decorators.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';

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
  readonly #models: ModelEntry[];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const created = Math.floor(Date.now() / 1000);
    this.#models = config.llm.models.map(({ id }) => ({
      id,
      object: 'model',
      created,
      owned_by: 'isogate',
    }));
  }

  @Get()
  @Roles('user', 'admin')
  @ApiOperation({ summary: 'The models the gateway offers' })
  list(): { object: 'list'; data: ModelEntry[] } {
    return { object: 'list', data: this.#models };
  }
}
