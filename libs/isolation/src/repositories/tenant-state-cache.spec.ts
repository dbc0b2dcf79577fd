import { describe, expect, it, jest } from '@jest/globals';
import { TENANT_STATE_TTL_MS, TenantStateCache } from './tenant-state-cache.js';
import type { TenantState } from './tenant-state.js';

const active: TenantState = {
  status: 'active',
  quotas: {},
  pii: 'redact',
  piiPatterns: [],
  images: false,
  policy: {},
  mspPolicy: {},
  embeddingsModel: undefined,
  vectorGeneration: 0,
};
const suspended: TenantState = { ...active, status: 'suspended' };

/** A reader whose answers the test hands out one by one. */
function scriptedReader() {
  const pending: { resolve: (s: TenantState | undefined) => void; reject: (e: Error) => void }[] =
    [];
  const read = jest.fn(
    (_tenantId: string) =>
      new Promise<TenantState | undefined>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
  );
  const next = () => {
    const first = pending.shift();
    if (first === undefined) throw new Error('no read is waiting');
    return first;
  };
  return { read, next };
}

describe('TenantStateCache', () => {
  it('reads a tenant once however many requests wait for it, and keeps it for the TTL', async () => {
    const reader = scriptedReader();
    const cache = new TenantStateCache(reader);
    const both = Promise.all([cache.state('acme'), cache.state('acme')]);
    reader.next().resolve(active);
    expect(await both).toEqual([active, active]);
    expect(await cache.state('acme')).toBe(active);
    expect(reader.read).toHaveBeenCalledTimes(1);
  });

  it('reads again after forget(), and drops a read that started before it', async () => {
    const reader = scriptedReader();
    const cache = new TenantStateCache(reader);
    const before = cache.state('acme');
    cache.forget('acme');
    const after = cache.state('acme');
    reader.next().resolve(active); // the read begun before the change
    reader.next().resolve(suspended);
    expect(await before).toBe(active);
    expect(await after).toBe(suspended);
    expect(await cache.state('acme')).toBe(suspended);
    expect(reader.read).toHaveBeenCalledTimes(2);
  });

  it('keeps the last known state when a read fails, and fails with none known', async () => {
    jest.useFakeTimers();
    try {
      const reader = scriptedReader();
      const cache = new TenantStateCache(reader);
      const unknown = cache.state('acme');
      reader.next().reject(new Error('postgres away'));
      await expect(unknown).rejects.toThrow('postgres away');
      const first = cache.state('acme');
      reader.next().resolve(active);
      await first;
      jest.advanceTimersByTime(TENANT_STATE_TTL_MS + 1);
      const stale = cache.state('acme');
      reader.next().reject(new Error('postgres away'));
      expect(await stale).toBe(active);
    } finally {
      jest.useRealTimers();
    }
  });
});
