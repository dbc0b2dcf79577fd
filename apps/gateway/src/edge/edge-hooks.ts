import { AuditTrail } from '@isogate/audit';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { openAuditScope, recordAuditEvent } from '../audit/audit-hooks.js';
import { isAuditedPath, type AuditedRequest } from '../audit/request-audit.js';
import { EdgeAuthentication } from '../auth/edge-authentication.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { drainUnreadBody, refuseOversizedBody } from './body-drain.js';

/**
 * The edge of every request, declared in one place and in order (Fastify runs hooks of one
 * kind in the order they are added; nothing here depends on which module initializes first):
 *
 * `onRequest`, before the body is read:
 *   1. the audit scope and wait clock of a `/v1` request;
 *   2. who is calling: the bearer token verified, the tenant's state checked (matched `/v1`
 *      routes only; an unmatched one answers 404 whoever calls);
 *   3. a declared body length over the limit: 413;
 *   4. a refused caller: 401 or 403, the body never read.
 *   Then Fastify reads and parses the body, the guards check the roles, and the one
 *   interceptor (RequestPipelineInterceptor) opens the tenant context around the handler.
 *
 * `onSend`, once the status is final and before a byte goes out:
 *   5. the request id header; a body left unread is drained rather than reset;
 *   6. the audit event, committed (or the answer becomes a 503).
 *
 * `onResponse`: 7. the metrics.
 */
export function installEdgeHooks(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const authentication = app.get(EdgeAuthentication);
  const trail = app.get(AuditTrail);
  const metrics = app.get(MetricsService);
  const bodyLimit = fastify.initialConfig.bodyLimit ?? 1024 * 1024;

  fastify.addHook('onRequest', async (request: AuditedRequest) => {
    openAuditScope(request, request.url);
    const refusal =
      isAuditedPath(request.url) && !request.is404
        ? await measured(request, () => authentication.identify(request))
        : undefined;
    refuseOversizedBody(request.raw, bodyLimit);
    if (refusal !== undefined) throw refusal;
  });

  fastify.addHook('onSend', async (request: AuditedRequest, reply, payload) => {
    void reply.header('x-request-id', request.id);
    keepConnectionWhileDraining(request, reply);
    return recordAuditEvent(trail, request, reply, payload);
  });

  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observe(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
}

/** Counts the edge's reads (the tenant's state) on the request's wait clock. */
function measured<T>(request: AuditedRequest, work: () => Promise<T>): Promise<T> {
  return request.waitClock === undefined ? work() : request.waitClock.measure(work);
}

/**
 * Fastify marks the answer to a body refused part-way `connection: close` (the client may still
 * be sending), and Node then closes the socket with the rest of the body unread: a reset that
 * can reach the client before the answer does. The rest is drained instead, and the connection
 * is kept (the request's framing is intact, so the next request on it is read correctly).
 */
function keepConnectionWhileDraining(request: FastifyRequest, reply: FastifyReply): void {
  if (!drainUnreadBody(request.raw)) return;
  if (String(reply.getHeader('connection')).toLowerCase() === 'close') {
    reply.removeHeader('connection');
  }
}
