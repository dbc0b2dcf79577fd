import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { IsogateError } from '@isogate/isolation';
import OpenAI from 'openai';
import { loadCatalog } from '../catalog/load-catalog.js';
import type { Upstream } from '../catalog/model-catalog.js';
import { followPlan, type UpstreamGates } from './follow-plan.js';
import { RoutePlans } from './route-plans.js';
import type { TenantPolicy } from './tenant-policy.js';
import { UpstreamBreakers, type BreakerSettings } from './upstream-breakers.js';
import { UpstreamRateLimits } from './upstream-rate-limits.js';

/** `cheap` has no BAA and no limit; `east` (2 a minute) and `west` (1 a minute) have a BAA. */
const catalog = loadCatalog(
  JSON.stringify({
    upstreams: [
      { id: 'cheap', region: 'us-east' },
      { id: 'east', baa: true, zero_retention: true, rate_limit: { requests_per_minute: 2 } },
      { id: 'west', baa: true, zero_retention: true, rate_limit: { requests_per_minute: 1 } },
    ].map((attributes) => ({
      kind: 'openai-compatible',
      purpose: 'chat',
      base_url: 'http://127.0.0.1:9/v1',
      model: `${attributes.id}-model`,
      context_tokens: 8192,
      ...attributes,
    })),
    models: [{ name: 'general', purpose: 'chat', upstreams: ['cheap', 'east', 'west'] }],
  }),
  {},
);
const phi: TenantPolicy = { data_class: 'phi' };
const open: TenantPolicy = { data_class: 'public' };

/** The error ChatModel throws for an upstream answer of `status`. */
function upstreamError(status: number): IsogateError {
  const error = new IsogateError('upstream_error', 'The language model failed to answer');
  error.cause = OpenAI.APIError.generate(status, { message: 'x' }, 'x', new Headers());
  return error;
}

describe('followPlan', () => {
  let nowMs: number;
  let calls: string[];
  let failing: Set<string>;
  const plans = new RoutePlans(catalog);
  const gates = (breaker: BreakerSettings = {}): UpstreamGates => ({
    breakers: new UpstreamBreakers(
      catalog.upstreams.map((upstream) => upstream.id),
      breaker,
    ),
    limits: new UpstreamRateLimits(catalog.upstreams, () => nowMs),
    maxAttempts: undefined,
  });
  const call = async (upstream: Upstream): Promise<string> => {
    calls.push(upstream.id);
    if (failing.has(upstream.id)) throw upstreamError(503);
    return `answer of ${upstream.id}`;
  };
  const send = (through: UpstreamGates, policy: TenantPolicy = phi) =>
    followPlan(plans.plan('general', 'chat', policy), through, call);
  const outcomes = async (through: UpstreamGates) =>
    (await send(through)).route.attempts.map((a) => `${a.upstream}:${a.outcome}`);

  beforeEach(() => {
    nowMs = 1_000_000;
    calls = [];
    failing = new Set();
  });

  it('sends every request to the first compliant upstream while it is under its limit', async () => {
    const through = gates();
    for (let i = 0; i < 2; i++) {
      const { value, route } = await send(through);
      expect(value).toBe('answer of east');
      expect(route).toMatchObject({
        upstream: 'east',
        upstream_model: 'east-model',
        attempts: [{ upstream: 'east', outcome: 'ok' }],
      });
    }
    expect(calls).toEqual(['east', 'east']);
  });

  it('falls back to the next compliant upstream once the limit is used up, without a call', async () => {
    const through = gates();
    await send(through);
    await send(through);

    const { value, route } = await send(through);

    expect(value).toBe('answer of west');
    expect(route.attempts).toEqual([
      { upstream: 'east', outcome: 'limit_reached' },
      { upstream: 'west', outcome: 'ok' },
    ]);
    expect(calls).toEqual(['east', 'east', 'west']);
  });

  it('uses the first upstream again once its limit has refilled', async () => {
    const through = gates();
    for (let i = 0; i < 3; i++) await send(through);
    // Half a minute gives back half of each limit: one call of east's two, half of west's one.
    nowMs += 30_000;
    expect(await outcomes(through)).toEqual(['east:ok']);
    await expect(send(through)).rejects.toMatchObject({ code: 'no_compliant_upstream' });
    // A whole minute gives back all of them.
    nowMs += 60_000;
    expect(await outcomes(through)).toEqual(['east:ok']);
    expect(await outcomes(through)).toEqual(['east:ok']);
    expect(await outcomes(through)).toEqual(['east:limit_reached', 'west:ok']);
    expect(calls).toEqual(['east', 'east', 'west', 'east', 'east', 'east', 'west']);
  });

  it('never calls a non-compliant upstream, even when every compliant one is limited', async () => {
    const through = gates();
    for (let i = 0; i < 3; i++) await send(through);

    await expect(send(through)).rejects.toMatchObject({
      code: 'no_compliant_upstream',
      reason: 'exhausted',
      attempts: [
        { upstream: 'east', outcome: 'limit_reached' },
        { upstream: 'west', outcome: 'limit_reached' },
      ],
    });
    expect(calls).toEqual(['east', 'east', 'west']);
    // Control: cheap answers a policy it complies with, so its absence above was the policy's.
    expect((await send(through, open)).route.upstream).toBe('cheap');
  });

  it('stops at maxAttempts calls; skips by the limit do not count against it', async () => {
    const through = { ...gates(), maxAttempts: 1 };
    for (let i = 0; i < 2; i++) await send(through);
    failing.add('west');

    await expect(send(through)).rejects.toMatchObject({
      code: 'no_compliant_upstream',
      attempts: [
        { upstream: 'east', outcome: 'limit_reached' },
        { upstream: 'west', outcome: 'server_error' },
      ],
    });
  });

  it('counts a call of several requests as that many against the limit', async () => {
    const through = gates();
    const sendOf = (requests: number) =>
      followPlan(plans.plan('general', 'chat', phi), through, call, requests);

    expect((await sendOf(2)).route.upstream).toBe('east');
    expect((await sendOf(1)).route.attempts).toEqual([
      { upstream: 'east', outcome: 'limit_reached' },
      { upstream: 'west', outcome: 'ok' },
    ]);
  });

  describe('with a breaker', () => {
    beforeEach(() => {
      jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    });
    afterEach(() => {
      jest.useRealTimers();
    });

    it('does not spend the limit on a call its open breaker refused', async () => {
      const through = gates({ failures: 1, cooldownMs: 1_000 });
      failing.add('east');
      expect(await outcomes(through)).toEqual(['east:server_error', 'west:ok']);
      failing.delete('east');
      // East has one call left; the breaker skips it twice, and that leaves the call there.
      for (let i = 0; i < 2; i++) {
        await expect(send(through)).rejects.toMatchObject({
          attempts: [
            { upstream: 'east', outcome: 'breaker_open' },
            { upstream: 'west', outcome: 'limit_reached' },
          ],
        });
      }
      jest.setSystemTime(Date.now() + 1_001);

      expect(await outcomes(through)).toEqual(['east:ok']);
      expect(calls).toEqual(['east', 'west', 'east']);
    });
  });
});
