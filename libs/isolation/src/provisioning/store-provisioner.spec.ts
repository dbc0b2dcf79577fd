import { describe, expect, it } from '@jest/globals';
import { StoreUnavailableError } from '../errors/isogate-error.js';
import { inStore } from './store-provisioner.js';

describe('inStore', () => {
  it('reports a failed admin call as its store being unavailable, keeping the failure', async () => {
    const timeout = new Error('createCollection timed out');
    const failed = inStore('qdrant', 'create collection', () => Promise.reject(timeout));
    await expect(failed).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(failed).rejects.toMatchObject({
      code: 'store_unavailable',
      store: 'qdrant',
      operation: 'create collection',
      cause: timeout,
    });
  });

  it('keeps internals out of the message the caller sees', async () => {
    const failed = inStore('redis', 'set ACL user', () =>
      Promise.reject(new Error('ACL SETUSER t:acme failed')),
    );
    await expect(failed).rejects.toThrow(
      'A data store is temporarily unavailable; nothing was changed. Retry later.',
    );
  });

  it('answers what the work answered when it succeeds', async () => {
    await expect(inStore('falkordb', 'count nodes', () => Promise.resolve(3))).resolves.toBe(3);
  });
});
