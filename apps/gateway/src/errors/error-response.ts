import type { ErrorCode } from '@isogate/isolation';

/** The OpenAI-shaped error body every failure answers with. */
export interface ErrorBody {
  error: { type: string; code: ErrorCode; message: string; param?: string };
}

/** HTTP status and OpenAI error type of each code: the one place where codes meet HTTP. */
export function statusOf(code: ErrorCode): { status: number; type: string } {
  switch (code) {
    case 'invalid_request':
    case 'invalid_json':
    case 'context_length_exceeded':
      return { status: 400, type: 'invalid_request_error' };
    case 'unauthorized':
    case 'invalid_token':
      return { status: 401, type: 'authentication_error' };
    case 'forbidden':
    case 'tenant_suspended':
      return { status: 403, type: 'permission_error' };
    case 'not_found':
    case 'route_not_found':
    case 'model_not_found':
      return { status: 404, type: 'not_found_error' };
    case 'conflict':
    case 'tenant_exists':
    case 'reembed_required':
    case 'reembed_in_progress':
    case 'document_limit_reached':
      return { status: 409, type: 'conflict_error' };
    case 'payload_too_large':
    case 'document_too_large':
      return { status: 413, type: 'invalid_request_error' };
    // Well-formed OpenAI requests the gateway cannot honour (n > 1, images) are 422, not 400, so
    // a client can tell "fix your JSON" from "this gateway does not do that".
    case 'unprocessable':
    case 'unsupported_parameter':
    case 'images_disabled':
      return { status: 422, type: 'invalid_request_error' };
    case 'rate_limited':
    case 'token_quota_exceeded':
      return { status: 429, type: 'rate_limit_error' };
    case 'store_unavailable':
    case 'no_compliant_upstream':
      return { status: 503, type: 'service_unavailable_error' };
    case 'upstream_error':
      return { status: 502, type: 'api_error' };
    case 'upstream_timeout':
      return { status: 504, type: 'api_error' };
    // nginx's convention: the client went away before the answer; recorded, never received.
    case 'client_closed_request':
      return { status: 499, type: 'api_error' };
    case 'tenant_context_missing':
    case 'internal_error':
      return { status: 500, type: 'api_error' };
  }
}

/** The error body for `code` with a message that is safe to show to the caller. */
export function errorBody(code: ErrorCode, message: string, param?: string): ErrorBody {
  return { error: { type: statusOf(code).type, code, message, ...(param ? { param } : {}) } };
}
