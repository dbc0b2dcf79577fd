import {
  Catch,
  HttpException,
  Inject,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { IsogateError, type ErrorCode } from '@isogate/isolation';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { errorBody, statusOf } from './error-response.js';

export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** Nest's own HTTP exceptions, by status, mapped onto our codes. */
function codeOfHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'route_not_found';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 415:
    case 422:
      return 'unprocessable';
    case 429:
      return 'rate_limited';
    case 503:
      return 'store_unavailable';
    default:
      return status < 500 ? 'invalid_request' : 'internal_error';
  }
}

/**
 * Fastify's body-parser failures, whether they reach the filter as they are or wrapped by
 * Nest (the original then sits in `cause`).
 */
function bodyParserCode(exception: unknown): { code: ErrorCode; message: string } | undefined {
  const codes = [exception, (exception as { cause?: unknown } | null)?.cause].map(
    (e) => (e as { code?: unknown } | null | undefined)?.code,
  );
  if (
    codes.includes('FST_ERR_CTP_INVALID_JSON_BODY') ||
    codes.includes('FST_ERR_CTP_EMPTY_JSON_BODY')
  ) {
    return { code: 'invalid_json', message: 'The request body is not valid JSON' };
  }
  if (codes.includes('FST_ERR_CTP_BODY_TOO_LARGE')) {
    return { code: 'payload_too_large', message: 'The request body is too large' };
  }
  if (codes.includes('FST_ERR_CTP_INVALID_MEDIA_TYPE')) {
    return { code: 'unprocessable', message: 'Unsupported content type: send application/json' };
  }
  return undefined;
}

/** Safe caller-facing message for a Nest HTTP exception; never a stack or store text. */
function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'object' && response !== null && 'message' in response) {
    const message = response.message;
    if (Array.isArray(message)) return message.join('; ');
    if (typeof message === 'string') return message;
  }
  return exception.message;
}

/** Turns every failure into the API's error shape, at the edge, once. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(@Inject(ROOT_LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const { code, message, retryAfter, param } = this.describe(exception, request);
    const { status } = statusOf(code);
    if (status >= 500)
      this.logger.error({ reqId: request.id, code, err: exception }, 'request failed');
    const body = errorBody(code, message, param);
    if (retryAfter !== undefined) void reply.header('Retry-After', String(retryAfter));
    void reply.status(status).type('application/json').send(body);
  }

  private describe(exception: unknown, request: FastifyRequest) {
    if (exception instanceof IsogateError) {
      return {
        code: exception.code,
        message: exception.message,
        retryAfter: exception.details?.retryAfterSeconds,
        param: exception.details?.param,
      };
    }
    const parserCode = bodyParserCode(exception);
    if (parserCode !== undefined) {
      return {
        code: parserCode.code,
        message: parserCode.message,
        retryAfter: undefined,
        param: undefined,
      };
    }
    if (exception instanceof HttpException) {
      const code = codeOfHttpStatus(exception.getStatus());
      const message =
        code === 'route_not_found'
          ? `No route ${request.method} ${request.url.split('?')[0]}`
          : messageOf(exception);
      return { code, message, retryAfter: undefined, param: undefined };
    }
    const fastifyStatus = (exception as { statusCode?: unknown } | null)?.statusCode;
    if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
      const code = fastifyStatus === 400 ? 'invalid_json' : codeOfHttpStatus(fastifyStatus);
      const message =
        code === 'payload_too_large'
          ? 'Request body is too large'
          : 'Request body could not be parsed';
      return { code, message, retryAfter: undefined, param: undefined };
    }
    return {
      code: 'internal_error' as const,
      message: 'Internal error',
      retryAfter: undefined,
      param: undefined,
    };
  }
}
