import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { IsogateError, type CallerContext } from '@isogate/isolation';
import type { FastifyRequest } from 'fastify';
import type { VerifiedIdentity } from './claims.js';
import { PUBLIC_ROUTE } from './decorators.js';

/** The request as the edge leaves it: the verified token's identity, and the allowed caller. */
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
 * The global guard: every route needs a caller unless it is `@Public()`. The token is verified
 * (and the tenant's state checked) at the edge, in the `onRequest` hook of every `/v1` request
 * (see edge/edge-hooks.ts); a route outside `/v1` that is not public has no caller and stays
 * closed. Nothing a caller sends besides the token takes part in deciding who the caller is.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(@Inject(Reflector) private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (isPublicRoute(this.reflector, context)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (request.caller === undefined) {
      throw new IsogateError(
        'invalid_token',
        'A valid bearer token is required (it is missing, invalid or expired)',
      );
    }
    return true;
  }
}
