import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { JwtAuthGuard } from './auth.guard.js';
import { TenantContextInterceptor } from './context.interceptor.js';
import { JwtStrategy } from './jwt.strategy.js';
import { RolesGuard } from './roles.guard.js';
import { TenantStatusCache } from './tenant-status.cache.js';

/** Authentication, roles and the tenant context, applied to every route (deny by default). */
@Module({
  imports: [PassportModule],
  providers: [
    JwtStrategy,
    TenantStatusCache,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
    { provide: APP_INTERCEPTOR, useClass: TenantContextInterceptor },
  ],
  exports: [TenantStatusCache],
})
export class AuthModule {}
