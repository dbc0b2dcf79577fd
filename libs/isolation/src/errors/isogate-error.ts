/**
 * Every error the gateway answers with has one of these stable codes. The HTTP status is
 * chosen once, at the edge, from the code alone (see the gateway's error filter).
 */
export const ERROR_CODES = [
  'invalid_request',
  'invalid_json',
  'unauthorized',
  'invalid_token',
  'forbidden',
  'tenant_suspended',
  'tenant_context_missing',
  'not_found',
  'route_not_found',
  'conflict',
  'tenant_exists',
  'document_limit_reached',
  'payload_too_large',
  'document_too_large',
  'unprocessable',
  'unsupported_parameter',
  'images_disabled',
  'rate_limited',
  'token_quota_exceeded',
  'model_not_found',
  'context_length_exceeded',
  'upstream_error',
  'upstream_timeout',
  'client_closed_request',
  'store_unavailable',
  'no_compliant_upstream',
  'internal_error',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A failure with a stable code and a message that is safe to show to the caller. */
export class IsogateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: { readonly retryAfterSeconds?: number; readonly param?: string },
  ) {
    super(message);
    this.name = 'IsogateError';
  }
}

/** A store did not answer; what the request wanted was not done. Names no internals. */
export class StoreUnavailableError extends IsogateError {
  constructor(readonly store: string) {
    super(
      'store_unavailable',
      'A data store is temporarily unavailable; nothing was changed. Retry later.',
    );
    this.name = 'StoreUnavailableError';
  }
}
