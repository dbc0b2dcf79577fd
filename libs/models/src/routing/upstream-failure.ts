import { IsogateError } from '@isogate/isolation';
import OpenAI from 'openai';

/** Why an upstream failed in a way that makes the next compliant upstream worth trying. */
export type FallbackReason = 'timeout' | 'server_error' | 'rate_limited' | 'connection_error';

/**
 * The reason to fall back from a failed call, or undefined when the failure must reach the
 * caller as it is: an answer in 4xx (the request's fault; another upstream would refuse it
 * too), the caller's own departure, a malformed answer. Reads the upstream error the clients
 * keep as `cause` of their IsogateError.
 */
export function fallbackReason(error: unknown): FallbackReason | undefined {
  if (!(error instanceof IsogateError)) return undefined;
  if (error.code === 'client_closed_request') return undefined;
  if (error.code === 'upstream_timeout') return 'timeout';
  const cause: unknown = error.cause;
  if (cause instanceof OpenAI.APIConnectionTimeoutError) return 'timeout';
  if (cause instanceof OpenAI.APIConnectionError) return 'connection_error';
  if (cause instanceof OpenAI.APIError) {
    const status: unknown = cause.status;
    if (status === 408) return 'timeout';
    if (status === 429) return 'rate_limited';
    if (typeof status === 'number' && status >= 500) return 'server_error';
    return undefined;
  }
  // A connection cut while the body was read (a stream dies) surfaces as the socket's error.
  return isTransportError(cause) ? 'connection_error' : undefined;
}

function isTransportError(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^(UND_ERR_|E[A-Z]+$)/.test(code);
}
