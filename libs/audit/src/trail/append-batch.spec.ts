import { describe, expect, it } from '@jest/globals';
import type { AuditDraft } from '../chain/audit-event.js';
import { GENESIS_HASH } from '../chain/canonical.js';
import { ChainVerifier } from '../chain/chain-verifier.js';
import { segmentStem } from '../archive/audit-archive.js';
import { chainKey, headAfter, sealChain, storable, type ChainBatch } from './append-batch.js';

const draft = (n: number): AuditDraft => ({
  id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  actor: 'alice',
  roles: ['user'],
  action: 'GET /v1/models',
  resource: '/v1/models',
  outcome: 'ok',
  status: 200,
  request_id: `r${n}`,
  details: {},
});
const batch = (stream: ChainBatch['stream'], count: number): ChainBatch => ({
  key: chainKey(stream),
  stream,
  items: Array.from({ length: count }, (_, i) => ({
    draft: draft(i + 1),
    interactions: [],
    resolve: () => undefined,
    reject: () => undefined,
  })),
});
const ts = '2026-01-01T00:00:00.000Z';

describe('sealChain', () => {
  it('seals consecutive events on the known head, which then moves to the last one', () => {
    const first = sealChain(
      batch({ kind: 'tenant', tenantId: 'acme' }, 3),
      { seq: 0, hash: GENESIS_HASH },
      ts,
    );
    const verifier = new ChainVerifier();
    for (const event of first.events) verifier.push(event);
    expect(verifier.finish()).toMatchObject({ valid: true, events: 3 });
    expect(first.payload).toMatchObject({
      kind: 't',
      chain: 'acme',
      expect_seq: 0,
      expect_hash: GENESIS_HASH,
    });
    const head = headAfter(first);
    expect(head).toEqual({ seq: 3, hash: first.events[2]?.hash });
    const next = sealChain(batch({ kind: 'tenant', tenantId: 'acme' }, 2), head, ts);
    expect(next.events.map((e) => [e.seq, e.prev_hash])).toEqual([
      [4, first.events[2]?.hash],
      [5, next.events[0]?.hash],
    ]);
  });

  it('asks for the head, sealing nothing, when the head is not known', () => {
    const sealed = sealChain(batch({ kind: 'msp', mspId: 'msp-1' }, 2), undefined, ts);
    expect(sealed.events).toEqual([]);
    expect(sealed.payload).toEqual({
      kind: 'c',
      chain: 'msp-1',
      expect_seq: null,
      expect_hash: null,
    });
    expect(headAfter(sealed)).toBeUndefined();
  });

  it('gives the platform stream and MSP chains their scope, and keys chains apart', () => {
    const sealed = sealChain(batch({ kind: 'platform' }, 1), { seq: 7, hash: 'a'.repeat(64) }, ts);
    expect(sealed.payload).toMatchObject({
      kind: 'c',
      chain: '.platform',
      events: [{ scope: '.platform', seq: 8 }],
    });
    expect(
      new Set([
        chainKey({ kind: 'tenant', tenantId: 'x-1' }),
        chainKey({ kind: 'msp', mspId: 'x-1' }),
      ]).size,
    ).toBe(2);
  });
});

describe('storable', () => {
  it('replaces NUL and unpaired surrogates, everywhere, and leaves the rest alone', () => {
    expect(storable({ 'k\u0000': ['a\u0000b', '\ud800x', 'é😀', 1, null, true] })).toEqual({
      'k\uFFFD': ['a\uFFFDb', '\uFFFDx', 'é😀', 1, null, true],
    });
  });

  it('is applied before hashing, so the stored event is the hashed one', () => {
    const odd = { ...batch({ kind: 'platform' }, 1) };
    const items = odd.items.map((p) => ({
      ...p,
      draft: { ...p.draft, actor: 'x\u0000', details: { claims: { sub: '\udc00' } } },
    }));
    const sealed = sealChain({ ...odd, items }, { seq: 0, hash: GENESIS_HASH }, ts);
    expect(sealed.events[0]).toMatchObject({
      actor: 'x\uFFFD',
      details: { claims: { sub: '\uFFFD' } },
    });
    expect(JSON.stringify(sealed.payload)).not.toMatch(/\\u0000|\\udc00/i);
    const verifier = new ChainVerifier();
    verifier.push(sealed.events[0] as never);
    expect(verifier.finish().valid).toBe(true);
  });
});

describe('segment keys', () => {
  it('sort in chain order and refuse what is not a tenant id', () => {
    expect(segmentStem('acme', 1, 20)).toBe('acme/0000000000000001-0000000000000020');
    expect(segmentStem('acme', 21, 100) > segmentStem('acme', 1, 20)).toBe(true);
    expect(() => segmentStem('../etc', 1, 2)).toThrow();
  });
});
