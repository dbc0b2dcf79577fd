import {
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { TenantContext } from '@isogate/isolation';
import type { Observable } from 'rxjs';
import type { AuthenticatedRequest } from '../auth/auth.guard.js';
import { RequestQuota } from './request-quota.js';

const isApiPath = (url: string) =>
  url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?');

/**
 * Applies the tenant's requests per minute to every `/v1` request of a tenant caller. An
 * interceptor rather than a guard: Nest runs every guard before any interceptor, so the token,
 * the roles and the tenant's state are always checked first (an unknown or suspended tenant
 * costs no quota), whatever order modules are imported in. A refusal is thrown like any other
 * error, so the 429 is answered in the API's error shape and audited to the tenant's chain.
 * Operators are outside every tenant's quota.
 */
@Injectable()
export class RequestQuotaInterceptor implements NestInterceptor {
  constructor(@Inject(RequestQuota) private readonly quota: RequestQuota) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const caller = request.caller;
    if (caller?.kind === 'tenant' && isApiPath(request.url)) {
      await TenantContext.run(caller, () => this.quota.admit(caller.roles));
    }
    return next.handle();
  }
}
