import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/config.js';
import { installJsonBodyParser } from './validation/json-body.js';
import { AllExceptionsFilter } from './errors/all-exceptions.filter.js';
import { openAuditScope } from './audit/audit-hooks.js';
import { errorBody } from './errors/error-response.js';
import { createLogger } from './logging/logger.js';
import { installEdgeHooks } from './edge/edge-hooks.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Options for building a gateway: tests pass their own logger to read what it writes. */
export interface GatewayOptions {
  readonly logger?: Logger;
}

/** Builds the gateway application (not yet listening) from a validated configuration. */
export async function createGateway(
  config: AppConfig,
  options: GatewayOptions = {},
): Promise<NestFastifyApplication> {
  const logger = options.logger ?? createLogger(config.server.logLevel);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // A caller's request id is kept only when it is a plain token; anything else is replaced.
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: 16 * 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: ['error', 'warn'],
    bufferLogs: false,
    // JSON only, through a parser that refuses bytes that are not UTF-8 (see json-body.ts).
    bodyParser: false,
  });
  installJsonBodyParser(app);
  app.useGlobalFilters(new AllExceptionsFilter(logger));
  installEdgeHooks(app);
  installDocs(app);
  try {
    await app.init();
  } catch (error) {
    // A refused start (say, a privileged database role) must not leave pools and sockets open.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

/**
 * URLs the router cannot take (a broken percent-encoding, a path parameter over 200 characters)
 * answer 400 in the API's error shape, and are audited like every other `/v1` request: the
 * router refuses them before the `onRequest` hooks, so the audit scope is opened here.
 */
function answerFrameworkError(_error: Error, request: FastifyRequest, reply: FastifyReply): void {
  openAuditScope(request, request.raw.url ?? '');
  void reply
    .code(400)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(errorBody('invalid_request', 'The request URL is malformed or too long')));
}

/**
 * Requests Node's HTTP parser refuses before there is a request (headers over 16 KB, malformed
 * request lines) get the API's error shape too. They cannot be audited: nothing of them was
 * parsed that could name a caller or a route.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // A client that reset the connection, or a socket already gone, gets nothing (as in Node).
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request was not received in time']
        : [400, 'Bad Request', 'The request is malformed'];
  const body = JSON.stringify(errorBody('invalid_request', message));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}

function installDocs(app: NestFastifyApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('isogate')
      .setDescription('Tenant-isolated AI retrieval gateway: HTTP API version 1')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
