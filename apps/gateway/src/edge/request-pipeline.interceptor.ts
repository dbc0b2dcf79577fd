import {
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuditScope, AuditTrail } from '@isogate/audit';
import { StoreUnavailableError, TenantContext, WaitClock } from '@isogate/isolation';
import { Observable } from 'rxjs';
import type { AuditedRequest } from '../audit/request-audit.js';
import { RequestQuota } from '../quota/request-quota.js';
import { CHANGES_NOTHING } from './changes-nothing.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The one interceptor of every route: it opens the request's scopes around the handler and
 * runs the admission steps, in this order, whatever order modules are imported in:
 *
 * 1. the caller's tenant context (`TenantContext.run`), the audit scope (features annotate the
 *    event and stage interactions), and the wait clock (`x-gateway-overhead-ms`);
 * 2. a tenant caller's requests per minute: a refusal (429) is thrown like any other error, so
 *    it is answered in the API's error shape and audited to the tenant's chain. Guards ran
 *    before (Nest runs every guard before any interceptor), so an unknown or suspended tenant
 *    or a forbidden route costs no quota; operators are outside every tenant's quota;
 * 3. for a write, the audit preflight: the audit store must answer before anything changes.
 *    The event itself is written in `onSend`, once the status is known; a write whose event
 *    then cannot be committed answers 503 but has happened. The preflight makes that window
 *    as small as a PostgreSQL failure between two statements.
 *
 * Nest calls the handler when the returned observable is subscribed, and binds it to the async
 * context in which `next.handle()` is called, so both happen inside the `run`s: the handler and
 * everything it awaits see the scopes, and nothing after the response does.
 */
@Injectable()
export class RequestPipelineInterceptor implements NestInterceptor {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AuditTrail) private readonly trail: AuditTrail,
    @Inject(RequestQuota) private readonly quota: RequestQuota,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<AuditedRequest>();
    const { caller, auditScope: scope } = request;
    if (caller === undefined && scope === undefined) return next.handle();
    const clock = request.waitClock ?? new WaitClock();
    const changesNothing =
      READS.has(request.method) ||
      this.reflector.get<boolean>(CHANGES_NOTHING, context.getHandler()) === true;
    const inScopes = (fn: () => void): void => {
      const withClock = () => WaitClock.run(clock, fn);
      const withAudit = () =>
        scope === undefined ? withClock() : AuditScope.run(scope, withClock);
      if (caller === undefined) withAudit();
      else TenantContext.run(caller, withAudit);
    };
    return new Observable((subscriber) => {
      let subscription: { unsubscribe(): void } | undefined;
      let closed = false;
      inScopes(() => {
        this.admit(caller?.kind === 'tenant' ? caller.roles : undefined, changesNothing).then(
          () => {
            if (closed) return;
            subscription = next.handle().subscribe(subscriber);
          },
          (error: unknown) => subscriber.error(error),
        );
      });
      return () => {
        closed = true;
        subscription?.unsubscribe();
      };
    });
  }

  /** Steps 2 and 3: the tenant's request quota, then the audit preflight of a write. */
  private async admit(
    tenantRoles: Parameters<RequestQuota['admit']>[0] | undefined,
    changesNothing: boolean,
  ): Promise<void> {
    if (tenantRoles !== undefined) await this.quota.admit(tenantRoles);
    if (changesNothing) return;
    try {
      await WaitClock.measure(() => this.trail.preflight());
    } catch (error) {
      throw new StoreUnavailableError('postgres', { cause: error, operation: 'audit preflight' });
    }
  }
}
