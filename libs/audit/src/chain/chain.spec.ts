import { describe, expect, it } from '@jest/globals';
import type { AuditEvent } from './audit-event.js';
import { canonicalJson, eventHash, GENESIS_HASH, sha256Hex } from './canonical.js';
import { ChainVerifier } from './chain-verifier.js';

function chain(length: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= length; seq += 1) {
    const unsigned = {
      id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
      seq,
      ts: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
      tenant_id: 'acme',
      msp_id: null,
      actor: 'alice',
      roles: ['user'],
      action: 'GET /v1/models',
      resource: '/v1/models',
      outcome: 'ok' as const,
      status: 200,
      request_id: `r${seq}`,
      details: { é: 'ü', n: 1.5, z: [true, null] },
      prev_hash: prev,
    };
    const event = { ...unsigned, hash: eventHash(unsigned) };
    events.push(event);
    prev = event.hash;
  }
  return events;
}

const run = (events: readonly AuditEvent[], bounds?: { atLeast?: number; atMost?: number }) => {
  const verifier = new ChainVerifier();
  for (const event of events) verifier.push(event);
  return verifier.finish(bounds);
};

describe('canonical JSON and event hashes', () => {
  it('follows RFC 8785: sorted keys, no whitespace, ES number forms', () => {
    expect(canonicalJson({ b: 1, a: [1e21, 0.000001, -0], c: 'é\u2028' })).toBe(
      '{"a":[1e+21,0.000001,0],"b":1,"c":"é\u2028"}',
    );
  });

  it('hashes prev_hash followed by the canonical event without hash', () => {
    const [first] = chain(1) as [AuditEvent];
    const { hash, ...rest } = first;
    expect(hash).toBe(sha256Hex(GENESIS_HASH + canonicalJson(rest)));
    expect(eventHash(first)).toBe(hash);
  });
});

describe('ChainVerifier', () => {
  it('accepts an intact chain and reports its head', () => {
    const events = chain(5);
    expect(run(events, { atLeast: 5, atMost: 5 })).toEqual({
      valid: true,
      events: 5,
      head_hash: events[4]?.hash,
      first_broken_seq: null,
    });
  });

  it('names the changed event', () => {
    const events = chain(5);
    events[2] = { ...(events[2] as AuditEvent), actor: 'mallory' };
    expect(run(events).first_broken_seq).toBe(3);
  });

  it('names the missing seq of a gap', () => {
    const events = chain(5);
    events.splice(1, 1);
    expect(run(events).first_broken_seq).toBe(2);
  });

  it('names the first of two swapped events', () => {
    const events = chain(5);
    [events[1], events[2]] = [events[2] as AuditEvent, events[1] as AuditEvent];
    expect(run(events).first_broken_seq).toBe(2);
  });

  it('catches a cut tail against a head or a checkpoint, and events beyond the head', () => {
    const events = chain(5);
    expect(run(events.slice(0, 3), { atLeast: 5 }).first_broken_seq).toBe(4);
    const anchored = new ChainVerifier(undefined, new Map([[5, events[4]?.hash as string]]));
    for (const event of events.slice(0, 3)) anchored.push(event);
    expect(anchored.finish().first_broken_seq).toBe(4);
    expect(run(events, { atMost: 4 }).first_broken_seq).toBe(5);
  });

  it('starts from a checkpoint after pruning', () => {
    const events = chain(5);
    const verifier = new ChainVerifier({ seq: 2, hash: events[1]?.hash as string });
    for (const event of events.slice(2)) verifier.push(event);
    expect(verifier.finish()).toMatchObject({ valid: true, events: 3 });
  });
});
