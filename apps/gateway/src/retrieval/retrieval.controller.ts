import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ChangesNothing } from '../edge/changes-nothing.js';
import { Roles } from '../auth/decorators.js';
import { bodySchema, ZodPipe } from '../validation/zod.pipe.js';
import { retrieveSchema, type RetrieveBody, type RetrievedChunk } from './retrieval.schemas.js';
import { RetrievalRecord } from './retrieval-record.js';
import { RetrievalService } from './retrieval.service.js';

@ApiTags('retrieval')
@ApiBearerAuth()
@Controller('v1/retrieve')
export class RetrievalController {
  constructor(
    @Inject(RetrievalService) private readonly retrieval: RetrievalService,
    @Inject(RetrievalRecord) private readonly record: RetrievalRecord,
  ) {}

  @Post()
  @HttpCode(200)
  @Roles('user', 'admin')
  @ChangesNothing()
  @ApiOperation({ summary: "Passages of the tenant's own documents for a query" })
  @ApiBody({ schema: bodySchema(retrieveSchema) })
  async retrieve(
    @Body(new ZodPipe(retrieveSchema)) body: RetrieveBody,
  ): Promise<{ results: RetrievedChunk[] }> {
    const answer = await this.retrieval.retrieve(body);
    await this.record.record(body.query, answer.results);
    return answer;
  }
}
