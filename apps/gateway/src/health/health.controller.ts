import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/decorators.js';
import type { FastifyReply } from 'fastify';
import { ReadinessService, type Readiness } from './readiness.service.js';

@ApiTags('operations')
@Public()
@Controller()
export class HealthController {
  constructor(@Inject(ReadinessService) private readonly readiness: ReadinessService) {}

  @Get('healthz')
  @ApiOperation({ summary: 'The process is up' })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'Every store answers; 503 naming the stores that do not' })
  async readyz(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Readiness & { down?: string[] }> {
    const readiness = await this.readiness.check();
    if (readiness.ready) return readiness;
    reply.status(HttpStatus.SERVICE_UNAVAILABLE);
    const down = Object.entries(readiness.stores)
      .filter(([, state]) => state === 'down')
      .map(([store]) => store);
    return { ...readiness, down };
  }
}
