import { describe, expect, it } from '@jest/globals';
import { UpstreamRateLimits } from './upstream-rate-limits.js';

/** A clock the test moves by hand. */
function fakeClock(startMs = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

const limited = (requestsPerMinute: number) => ({ id: 'a', rateLimit: { requestsPerMinute } });
const takes = (limits: UpstreamRateLimits, id: string, count: number) =>
  Array.from({ length: count }, () => limits.take(id));

describe('UpstreamRateLimits', () => {
  it('grants the limit at once, then nothing until it refills', () => {
    const clock = fakeClock();
    const limits = new UpstreamRateLimits([limited(3)], clock.now);
    expect(takes(limits, 'a', 4)).toEqual([true, true, true, false]);
    clock.advance(19_999);
    expect(limits.take('a')).toBe(false);
  });

  it('refills at the limit per minute, and never beyond the limit', () => {
    const clock = fakeClock();
    const limits = new UpstreamRateLimits([limited(3)], clock.now);
    takes(limits, 'a', 3);
    clock.advance(20_000);
    expect(takes(limits, 'a', 2)).toEqual([true, false]);
    clock.advance(10 * 60_000);
    expect(takes(limits, 'a', 4)).toEqual([true, true, true, false]);
  });

  it('takes a call of several requests as that many, one beyond the limit as the limit', () => {
    const clock = fakeClock();
    const limits = new UpstreamRateLimits([limited(4)], clock.now);
    expect(limits.take('a', 3)).toBe(true);
    expect(limits.take('a', 2)).toBe(false);
    expect(limits.take('a', 1)).toBe(true);
    clock.advance(60_000);
    expect(limits.take('a', 10)).toBe(true);
    expect(limits.take('a')).toBe(false);
    limits.giveBack('a', 10);
    expect(takes(limits, 'a', 5)).toEqual([true, true, true, true, false]);
  });

  it('refills nothing for a clock that went back', () => {
    const clock = fakeClock();
    const limits = new UpstreamRateLimits([limited(1)], clock.now);
    expect(limits.take('a')).toBe(true);
    clock.advance(-60_000);
    expect(limits.take('a')).toBe(false);
    clock.advance(60_000);
    expect(limits.take('a')).toBe(false);
    clock.advance(60_000);
    expect(limits.take('a')).toBe(true);
  });

  it('takes a call given back again, up to the limit only', () => {
    const limits = new UpstreamRateLimits([limited(2)], fakeClock().now);
    takes(limits, 'a', 2);
    limits.giveBack('a');
    expect(takes(limits, 'a', 2)).toEqual([true, false]);
    limits.giveBack('a');
    limits.giveBack('a');
    limits.giveBack('a');
    expect(takes(limits, 'a', 3)).toEqual([true, true, false]);
  });

  it('always grants an upstream without a limit, and keeps limits apart', () => {
    const limits = new UpstreamRateLimits(
      [limited(1), { id: 'b', rateLimit: { requestsPerMinute: 1 } }, { id: 'free' }],
      fakeClock().now,
    );
    expect(takes(limits, 'a', 2)).toEqual([true, false]);
    expect(limits.take('b')).toBe(true);
    expect(takes(limits, 'free', 1_000).every(Boolean)).toBe(true);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new UpstreamRateLimits([limited(0)])).toThrow(RangeError);
    expect(() => new UpstreamRateLimits([limited(1.5)])).toThrow(RangeError);
  });
});
