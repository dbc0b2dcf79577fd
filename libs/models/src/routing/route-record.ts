import { IsogateError } from '@isogate/isolation';
import type { FallbackReason } from './upstream-failure.js';

/**
 * How one upstream of a route fared: answered, skipped without a call (`breaker_open`, or
 * `limit_reached` when its rate limit in this process is used up), or why it failed (a 429
 * from the upstream is `rate_limited`), so an audit tells a skip from a provider's refusal.
 */
export type AttemptOutcome = 'ok' | 'breaker_open' | 'limit_reached' | FallbackReason;

/** One upstream the router tried or skipped, in order. */
export interface RouteAttempt {
  readonly upstream: string;
  readonly outcome: AttemptOutcome;
}

/** Which upstream answered a request and why: for the audit trail and the response headers. */
export interface RouteRecord {
  /** The id of the upstream that answered. */
  readonly upstream: string;
  /** The model name that upstream was sent. */
  readonly upstream_model: string;
  /** `policyVersion` of the policy the route was chosen under. */
  readonly policy_version: string;
  readonly attempts: readonly RouteAttempt[];
}

/**
 * No upstream that the tenant's policy allows could answer: none complies (`reason`
 * `no_compliant`), or every compliant one failed, was skipped by its breaker or its rate
 * limit, or was beyond the retry budget (`exhausted`; `cause` is the last failure). Code
 * `no_compliant_upstream` (503). The message names no upstream; `attempts` does, for the logs
 * and the audit.
 */
export class NoCompliantUpstreamError extends IsogateError {
  constructor(
    readonly reason: 'no_compliant' | 'exhausted',
    readonly policyVersion: string,
    readonly attempts: readonly RouteAttempt[],
    cause?: unknown,
  ) {
    super(
      'no_compliant_upstream',
      reason === 'no_compliant'
        ? "No upstream of this model meets the tenant's compliance policy"
        : 'No upstream of this model that meets the compliance policy is available; retry later',
    );
    this.name = 'NoCompliantUpstreamError';
    if (cause !== undefined) this.cause = cause;
  }
}
