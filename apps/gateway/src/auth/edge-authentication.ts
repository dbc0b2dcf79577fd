import { Inject, Injectable } from '@nestjs/common';
import { IsogateError, TenantStateCache } from '@isogate/isolation';
import type { AuthenticatedRequest } from './auth.guard.js';
import { BearerAuthenticator } from './bearer-authenticator.js';

/**
 * Who is calling, decided at the edge from the bearer token alone, before a byte of the body
 * is read: a refused caller costs no body parsing, and every later refusal (a malformed body,
 * a body too large) is recorded in the chain of the caller the token names.
 */
@Injectable()
export class EdgeAuthentication {
  constructor(
    @Inject(BearerAuthenticator) private readonly authenticator: BearerAuthenticator,
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
  ) {}

  /**
   * Attaches the verified token's identity (`user`) and, when its tenant exists and is active,
   * the caller (`caller`) to the request. Answers the refusal to give, or undefined; it throws
   * only when the tenant's state cannot be read.
   */
  async identify(request: AuthenticatedRequest): Promise<IsogateError | undefined> {
    const identity = await this.authenticator.authenticate(request.headers.authorization);
    if (identity === undefined) {
      return new IsogateError(
        'invalid_token',
        'A valid bearer token is required (it is missing, invalid or expired)',
      );
    }
    request.user = identity;
    if (identity.kind === 'tenant') {
      const state = await this.states.state(identity.tenantId);
      if (state === undefined)
        return new IsogateError('invalid_token', 'The token names a tenant that does not exist');
      if (state.status !== 'active')
        return new IsogateError('tenant_suspended', 'The tenant is not active');
    }
    request.caller = { ...identity, requestId: request.id };
    return undefined;
  }
}
