import { describe, expect, it } from '@jest/globals';
import { LocalBuckets, takeFromBucket } from './token-bucket.js';
import { StoreCircuit } from '../cache/store-circuit.js';
import { msUntilUtcDayEnds, utcDay } from './utc-day.js';

describe('token bucket', () => {
  it('admits a full burst, then refuses with the time until one token is back', () => {
    const buckets = new LocalBuckets(10);
    const decisions = [0, 1, 2, 3].map(() => buckets.take('a', 3, 1_000));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
    // 3 per minute: one token every 20 s.
    expect(decisions[3]?.retryAfterMs).toBe(20_000);
    expect(buckets.take('a', 3, 1_000 + 19_999).allowed).toBe(false);
    expect(buckets.take('a', 3, 1_000 + 20_000).allowed).toBe(true);
  });

  it('keeps buckets apart and bounded', () => {
    const buckets = new LocalBuckets(2);
    expect(buckets.take('a', 1, 0).allowed).toBe(true);
    expect(buckets.take('a', 1, 0).allowed).toBe(false);
    expect(buckets.take('b', 1, 0).allowed).toBe(true);
    buckets.take('c', 1, 0);
    expect(buckets.size).toBe(2);
  });

  it('never refills for a clock that went back, and caps at the limit', () => {
    const { state } = takeFromBucket(undefined, 60, 10_000);
    const back = takeFromBucket({ tokens: 0, stampMs: 10_000 }, 60, 5_000);
    expect(back.decision.allowed).toBe(false);
    expect(back.state.stampMs).toBe(10_000);
    const later = takeFromBucket(state, 60, 10_000 + 3_600_000);
    expect(later.decision.remaining).toBe(59);
  });

  it('applies a lowered limit at once', () => {
    const lowered = takeFromBucket({ tokens: 100, stampMs: 0 }, 2, 0);
    expect(lowered.decision).toMatchObject({ allowed: true, remaining: 1 });
  });
});

describe('store circuit', () => {
  it('leaves a failed store alone, then lets one call try it again', () => {
    let now = 0;
    const circuit = new StoreCircuit(1_000, () => now);
    expect(circuit.tryAcquire()).toBe(true);
    circuit.failed();
    expect(circuit.tryAcquire()).toBe(false);
    now = 1_000;
    expect(circuit.tryAcquire()).toBe(true);
    expect(circuit.tryAcquire()).toBe(false);
    circuit.failed();
    expect(circuit.tryAcquire()).toBe(false);
    now = 2_000;
    expect(circuit.tryAcquire()).toBe(true);
    circuit.succeeded();
    expect(circuit.isOpen).toBe(false);
    expect(circuit.tryAcquire()).toBe(true);
  });
});

describe('UTC day', () => {
  it('names the day and the time left in it', () => {
    const ms = Date.parse('2026-03-01T23:59:59.500Z');
    expect(utcDay(ms)).toBe('2026-03-01');
    expect(msUntilUtcDayEnds(ms)).toBe(500);
    expect(msUntilUtcDayEnds(Date.parse('2026-03-02T00:00:00.000Z'))).toBe(86_400_000);
  });
});
