import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { TenantContext, type CallerContext, type Role } from '@isogate/isolation';

export const PUBLIC_ROUTE = 'isogate:public';
export const ROUTE_ROLES = 'isogate:roles';

/** Marks a route reachable without a token. Every other route needs one (deny by default). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** The roles that may call a route; a caller needs at least one of them. */
export const Roles = (...roles: Role[]) => SetMetadata(ROUTE_ROLES, roles);

/** The verified caller of the current request. */
export const Caller = createParamDecorator(
  (_data: unknown, _ctx: ExecutionContext): CallerContext => TenantContext.require(),
);
