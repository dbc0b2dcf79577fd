import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { TenantContext } from '@isogate/isolation';
import { Observable } from 'rxjs';
import type { AuthenticatedRequest } from './auth.guard.js';

/**
 * Opens the caller's context around the handler with `run()`. Nest calls the handler when the
 * returned observable is subscribed, so subscribing inside `run` puts the handler and
 * everything it awaits inside the context, and nothing after the response.
 */
@Injectable()
export class TenantContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const caller = context.switchToHttp().getRequest<AuthenticatedRequest>().caller;
    if (caller === undefined) return next.handle();
    return new Observable((subscriber) =>
      TenantContext.run(caller, () => {
        const subscription = next.handle().subscribe(subscriber);
        return () => subscription.unsubscribe();
      }),
    );
  }
}
