import { AuditScope, type AuditTrail } from '@isogate/audit';
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { statusOf, type ErrorBody } from '../errors/error-response.js';
import { draftOf, isAuditedPath, streamOf, type AuditedRequest } from './request-audit.js';

const UNAVAILABLE: ErrorBody = {
  error: {
    type: statusOf('store_unavailable').type,
    code: 'store_unavailable',
    message: 'The audit trail could not record this request, so it was not answered. Retry later.',
  },
};

/**
 * Records one event per `/v1` request, allowed or refused, before any byte of the answer is
 * sent: Fastify runs `onSend` for every reply (handlers, guard refusals, the exception filter,
 * body-parser errors and unmatched routes alike) after the status is final and before the
 * headers go out. If the event cannot be committed, the answer is replaced by a 503 (fail
 * closed): the caller never receives an answer, chat or retrieval included, that is not on
 * record. For writes, see the preflight in AuditScopeInterceptor.
 */
export function installAuditHooks(fastify: FastifyInstance, trail: AuditTrail): void {
  fastify.addHook('onRequest', async (request: AuditedRequest) => {
    if (isAuditedPath(request.url)) request.auditScope = new AuditScope();
  });
  fastify.addHook('onSend', async (request: AuditedRequest, reply, payload) => {
    const scope = request.auditScope;
    if (scope === undefined) return payload;
    request.auditScope = undefined;
    try {
      const stream = streamOf(request, reply.statusCode);
      await trail.append(
        stream,
        draftOf(request, reply, payload, scope, stream),
        scope.interactions,
      );
      void reply.header('x-audit-event-id', scope.eventId);
      return payload;
    } catch (error) {
      request.log.error({ err: error, reqId: request.id }, 'audit append failed; answering 503');
      if (payload instanceof Readable) payload.destroy();
      reply.removeHeader('content-length');
      reply.removeHeader('content-disposition');
      void reply.code(503).header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify(UNAVAILABLE);
    }
  });
}
