import {
  Inject,
  Injectable,
  SetMetadata,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { AuditScope, AuditTrail } from '@isogate/audit';
import { StoreUnavailableError, WaitClock } from '@isogate/isolation';
import { Reflector } from '@nestjs/core';
import { from, Observable, switchMap } from 'rxjs';
import type { AuditedRequest } from './request-audit.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CHANGES_NOTHING = 'isogate:changes-nothing';

/**
 * Marks a POST route that changes no stored state (retrieve), so it skips the audit preflight:
 * its answer is already withheld when its event cannot be written.
 */
export const ChangesNothing = () => SetMetadata(CHANGES_NOTHING, true);

/**
 * Opens the request's audit scope around the handler (so features can annotate the event and
 * stage interactions), and, before a write runs, checks that the audit store answers. The event itself is written after the handler, once the status is known; a
 * write whose event then cannot be committed answers 503 but has happened. The preflight makes
 * that window as small as a PostgreSQL failure between two statements; closing it entirely
 * would need each write to commit its event in its own transaction.
 */
@Injectable()
export class AuditScopeInterceptor implements NestInterceptor {
  constructor(
    @Inject(AuditTrail) private readonly trail: AuditTrail,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<AuditedRequest>();
    const scope = request.auditScope;
    if (scope === undefined) return next.handle();
    // Nest binds the handler to the async context in which `next.handle()` is called, so it is
    // called inside `run`, like the tenant context interceptor does.
    const clock = request.waitClock ?? new WaitClock();
    return new Observable((subscriber) =>
      AuditScope.run(scope, () =>
        WaitClock.run(clock, () => {
          const changesNothing =
            READS.has(request.method) ||
            this.reflector.get<boolean>(CHANGES_NOTHING, context.getHandler()) === true;
          const handled = changesNothing
            ? next.handle()
            : from(this.preflight()).pipe(switchMap(() => next.handle()));
          const subscription = handled.subscribe(subscriber);
          return () => subscription.unsubscribe();
        }),
      ),
    );
  }

  private async preflight(): Promise<void> {
    try {
      await WaitClock.measure(() => this.trail.preflight());
    } catch {
      throw new StoreUnavailableError('postgres');
    }
  }
}
