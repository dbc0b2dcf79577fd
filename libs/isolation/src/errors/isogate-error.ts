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
  'reembed_required',
  'reembed_in_progress',
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

/**
 * A failure with a stable code and a message that is safe to show to the caller. `cause`, the
 * failure it stands for, is for the log only: the caller sees the code and the message.
 */
export class IsogateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: { readonly retryAfterSeconds?: number; readonly param?: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'IsogateError';
  }
}

/** What a `StoreUnavailableError` stands for, for the log: the store's error and what was tried. */
export interface StoreFailure {
  /** The driver's or the store's error. */
  readonly cause?: unknown;
  /** What was being done, e.g. `create collection`. */
  readonly operation?: string;
}

/**
 * A store did not answer; what the request wanted was not done. The message names no
 * internals; `cause` and `operation` say in the log which store call failed, and how.
 */
export class StoreUnavailableError extends IsogateError {
  readonly operation: string | undefined;

  constructor(
    readonly store: string,
    failure: StoreFailure = {},
  ) {
    super(
      'store_unavailable',
      'A data store is temporarily unavailable; nothing was changed. Retry later.',
      undefined,
      'cause' in failure ? { cause: failure.cause } : undefined,
    );
    this.name = 'StoreUnavailableError';
    this.operation = failure.operation;
  }
}
