import type { Upstream } from '../catalog/model-catalog.js';
import { NoCompliantUpstreamError, type RouteAttempt, type RouteRecord } from './route-record.js';
import type { RoutePlan } from './route-plans.js';
import { BreakerOpen, type UpstreamBreakers } from './upstream-breakers.js';
import { fallbackReason } from './upstream-failure.js';
import type { UpstreamRateLimits } from './upstream-rate-limits.js';

/** What the router keeps across requests to decide whether an upstream may be called now. */
export interface UpstreamGates {
  readonly breakers: UpstreamBreakers;
  readonly limits: UpstreamRateLimits;
  /** Upstream calls per request at most (undefined: as many as the plan has upstreams). */
  readonly maxAttempts: number | undefined;
}

/**
 * Calls the upstreams of `plan`, and only those, in order until one answers. One whose rate
 * limit is used up (`limit_reached`) or whose breaker is open (`breaker_open`) is skipped
 * without a call, and the skip does not count against `maxAttempts`; a failure that is a
 * reason to fall back is recorded and the next one tried; any other failure is thrown as it is.
 * `requests` is what one call costs against a rate limit: the HTTP requests it sends.
 * @throws NoCompliantUpstreamError `no_compliant` for an empty plan, `exhausted` when no
 * upstream answered (the last failure as `cause`).
 */
export async function followPlan<T>(
  plan: RoutePlan,
  gates: UpstreamGates,
  call: (upstream: Upstream) => Promise<T>,
  requests = 1,
): Promise<{ value: T; route: RouteRecord }> {
  if (plan.upstreams.length === 0) {
    throw new NoCompliantUpstreamError('no_compliant', plan.policyVersion, []);
  }
  const attempts: RouteAttempt[] = [];
  let budget = gates.maxAttempts ?? plan.upstreams.length;
  let lastFailure: unknown;
  for (const upstream of plan.upstreams) {
    if (budget === 0) break;
    // Taken before the breaker is asked, and given back if it refuses: the breaker's check
    // and a half-open probe happen inside its call, which must not be spent on a skip.
    if (!gates.limits.take(upstream.id, requests)) {
      attempts.push({ upstream: upstream.id, outcome: 'limit_reached' });
      continue;
    }
    try {
      const value = await gates.breakers.run(upstream.id, () => call(upstream));
      attempts.push({ upstream: upstream.id, outcome: 'ok' });
      const route: RouteRecord = {
        upstream: upstream.id,
        upstream_model: upstream.model,
        policy_version: plan.policyVersion,
        attempts,
      };
      return { value, route };
    } catch (error) {
      if (error instanceof BreakerOpen) {
        gates.limits.giveBack(upstream.id, requests);
        attempts.push({ upstream: upstream.id, outcome: 'breaker_open' });
        continue;
      }
      const reason = fallbackReason(error);
      if (reason === undefined) throw error;
      attempts.push({ upstream: upstream.id, outcome: reason });
      lastFailure = error;
      budget--;
    }
  }
  throw new NoCompliantUpstreamError('exhausted', plan.policyVersion, attempts, lastFailure);
}
