import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { IsogateError, type CallerContext } from '@isogate/isolation';
import type { FastifyRequest } from 'fastify';
import { BearerAuthenticator } from './bearer-authenticator.js';
import type { VerifiedIdentity } from './claims.js';
import { PUBLIC_ROUTE } from './decorators.js';
import { TenantStatusCache } from './tenant-status.cache.js';

/** The request as the guards leave it: the verified caller, once authentication passed. */
export type AuthenticatedRequest = FastifyRequest & {
  user?: VerifiedIdentity;
  caller?: CallerContext;
};

/** Whether the route handling `context` is marked `@Public()`. */
export function isPublicRoute(reflector: Reflector, context: ExecutionContext): boolean {
  return (
    reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]) === true
  );
}

/**
 * The global guard: every route needs a verified bearer token unless it is `@Public()`. The
 * token's tenant must exist and be active. Nothing a caller sends besides the token (headers,
 * query, body) takes part in deciding who the caller is.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(BearerAuthenticator) private readonly authenticator: BearerAuthenticator,
    @Inject(TenantStatusCache) private readonly statuses: TenantStatusCache,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublicRoute(this.reflector, context)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const identity = await this.authenticator.authenticate(request.headers.authorization);
    if (identity === undefined) {
      throw new IsogateError(
        'invalid_token',
        'A valid bearer token is required (it is missing, invalid or expired)',
      );
    }
    request.user = identity;
    if (identity.kind === 'tenant') await this.requireActive(identity.tenantId);
    request.caller = { ...identity, requestId: request.id };
    return true;
  }

  private async requireActive(tenantId: string): Promise<void> {
    const status = await this.statuses.status(tenantId);
    if (status === undefined)
      throw new IsogateError('invalid_token', 'The token names a tenant that does not exist');
    if (status !== 'active') throw new IsogateError('tenant_suspended', 'The tenant is not active');
  }
}
