import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { JwtAuthGuard } from './auth.guard.js';
import { BearerAuthenticator } from './bearer-authenticator.js';
import { TenantContextInterceptor } from './context.interceptor.js';
import { RolesGuard } from './roles.guard.js';
import { TenantStatusCache } from './tenant-status.cache.js';

/** Authentication, roles and the tenant context, applied to every route (deny by default). */
@Module({
  providers: [
    BearerAuthenticator,
    TenantStatusCache,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
    { provide: APP_INTERCEPTOR, useClass: TenantContextInterceptor },
  ],
  exports: [TenantStatusCache],
})
export class AuthModule {}
