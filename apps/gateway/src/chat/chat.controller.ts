import { Body, Controller, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ChangesNothing } from '../edge/changes-nothing.js';
import { Roles } from '../auth/decorators.js';
import { bodySchema, ZodPipe } from '../validation/zod.pipe.js';
import type { Readable } from 'node:stream';
import { completionOf } from './chat-answer.js';
import { eventStreamOf, liveEventStream } from './chat-stream.js';
import { chatRequestSchema, type ChatCompletion, type ChatRequest } from './chat.schemas.js';
import { ChatService } from './chat.service.js';

@ApiTags('chat')
@ApiBearerAuth()
@Controller('v1/chat/completions')
export class ChatController {
  constructor(@Inject(ChatService) private readonly chat: ChatService) {}

  @Post()
  @HttpCode(200)
  @Roles('user', 'admin')
  // No stored document changes; the answer is withheld when its audit event cannot be written.
  @ChangesNothing()
  @ApiOperation({ summary: "OpenAI-compatible chat grounded in the tenant's own documents" })
  @ApiBody({ schema: bodySchema(chatRequestSchema) })
  async complete(
    @Body(new ZodPipe(chatRequestSchema)) body: ChatRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChatCompletion | string | Readable> {
    const signal = abortOnDisconnect(reply);
    if (!body.stream) return completionOf(body.model, await this.chat.answer(body, signal));
    const answer = await this.chat.stream(body, signal);
    void reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-accel-buffering', 'no');
    const includeUsage = body.stream_options?.include_usage === true;
    return 'deltas' in answer
      ? liveEventStream(body.model, answer, includeUsage)
      : eventStreamOf(body.model, answer, includeUsage);
  }
}

/** A signal that aborts when the client goes away before its answer, cancelling the model call. */
function abortOnDisconnect(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
