import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { IsogateError, type Role } from '@isogate/isolation';
import { isPublicRoute, type AuthenticatedRequest } from './auth.guard.js';
import { ROUTE_ROLES } from './decorators.js';

/**
 * Lets a caller through when one of its roles is among the route's. A non-public route that
 * names no roles is closed to everyone: forgetting `@Roles` denies, it never allows.
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(@Inject(Reflector) private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (isPublicRoute(this.reflector, context)) return true;
    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ROUTE_ROLES, [
      context.getHandler(),
      context.getClass(),
    ]);
    const caller = context.switchToHttp().getRequest<AuthenticatedRequest>().caller;
    if (
      caller === undefined ||
      allowed === undefined ||
      !caller.roles.some((role) => allowed.includes(role))
    ) {
      throw new IsogateError('forbidden', 'Your roles do not allow this operation');
    }
    return true;
  }
}
