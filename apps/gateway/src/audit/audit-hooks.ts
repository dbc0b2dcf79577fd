import { AuditScope, type AuditTrail } from '@isogate/audit';
import { WaitClock } from '@isogate/isolation';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { errorBody } from '../errors/error-response.js';
import { draftOf, isAuditedPath, streamOf, type AuditedRequest } from './request-audit.js';

const UNAVAILABLE = errorBody(
  'store_unavailable',
  'The audit trail could not record this request, so it was not answered. Retry later.',
);

/** Opens the audit scope (and wait clock) of a `/v1` request; other paths are not audited. */
export function openAuditScope(request: AuditedRequest, url: string): void {
  if (!isAuditedPath(url)) return;
  request.auditScope = new AuditScope();
  request.waitClock = new WaitClock();
}

/**
 * Records one event per `/v1` request, allowed or refused, before any byte of the answer is
 * sent: it runs in `onSend` (edge/edge-hooks.ts), which Fastify runs for every reply (handlers,
 * edge and guard refusals, the exception filter, body-parser errors and unmatched routes
 * alike) after the status is final and before the headers go out. If the event cannot be
 * committed, the answer is replaced by a 503 (fail closed): the caller never receives an
 * answer, chat or retrieval included, that is not on record. For writes, see the preflight in
 * RequestPipelineInterceptor. Answers the payload to send.
 */
export async function recordAuditEvent(
  trail: AuditTrail,
  request: AuditedRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<unknown> {
  const scope = request.auditScope;
  if (scope === undefined) return payload;
  request.auditScope = undefined;
  try {
    const stream = streamOf(request, reply.statusCode);
    const clock = request.waitClock ?? new WaitClock();
    const draft = draftOf(request, reply, payload, scope, stream);
    await clock.measure(() => trail.append(stream, draft, scope.interactions));
    for (const effect of scope.committedEffects) {
      await clock
        .measure(effect)
        .catch((error: unknown) =>
          request.log.warn({ err: error, reqId: request.id }, 'an after-commit effect failed'),
        );
    }
    void reply.header('x-audit-event-id', scope.eventId);
    // The gateway's own share of the request: everything but waiting on stores and models.
    const overhead = Math.max(0, reply.elapsedTime - clock.waitedMs);
    void reply.header('x-gateway-overhead-ms', overhead.toFixed(3));
    return payload;
  } catch (error) {
    request.log.error({ err: error, reqId: request.id }, 'audit append failed; answering 503');
    for (const effect of scope.refusedEffects) effect();
    if (payload instanceof Readable) payload.destroy();
    reply.removeHeader('content-length');
    reply.removeHeader('content-disposition');
    void reply.code(503).header('content-type', 'application/json; charset=utf-8');
    return JSON.stringify(UNAVAILABLE);
  }
}
