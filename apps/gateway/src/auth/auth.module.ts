import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtAuthGuard } from './auth.guard.js';
import { BearerAuthenticator } from './bearer-authenticator.js';
import { EdgeAuthentication } from './edge-authentication.js';
import { RolesGuard } from './roles.guard.js';

/**
 * Authentication and roles, applied to every route (deny by default). The token is verified
 * by the edge hook (`EdgeAuthentication`); the guards check that a caller exists and its roles.
 */
@Module({
  providers: [
    BearerAuthenticator,
    EdgeAuthentication,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
  ],
  exports: [EdgeAuthentication],
})
export class AuthModule {}
