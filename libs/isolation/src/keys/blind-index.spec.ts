import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  canonicalMetadataPair,
  metadataBlindIndex,
  tenantMetadataIndexer,
  METADATA_INDEX_PURPOSE,
  type MetadataScalar,
} from './blind-index.js';

const keyA = Buffer.alloc(32, 1);
const keyB = Buffer.alloc(32, 2);
const scalar = fc.oneof(
  fc.string(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
);

describe('metadataBlindIndex', () => {
  it('is stable for a pair and a key, and 128 bits of base64url', () => {
    const index = metadataBlindIndex(keyA, 'department', 'oncology');
    expect(index).toBe(metadataBlindIndex(keyA, 'department', 'oncology'));
    expect(index).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('keys per tenant: another subkey gives another index for the same pair', () => {
    expect(metadataBlindIndex(keyA, 'department', 'oncology')).not.toBe(
      metadataBlindIndex(keyB, 'department', 'oncology'),
    );
  });

  it.each<[string, MetadataScalar, string, MetadataScalar]>([
    ['floor', 1, 'floor', '1'],
    ['audited', true, 'audited', 'true'],
    ['audited', false, 'audited', 0],
    ['department', 'oncology', 'ward', 'oncology'],
    // Naive concatenation would make these one string.
    ['a', 'b:c', 'a:b', 'c'],
    ['a', '","s","x', 'a', 'x'],
  ])('tells %s=%j from %s=%j', (k1, v1, k2, v2) => {
    expect(metadataBlindIndex(keyA, k1, v1)).not.toBe(metadataBlindIndex(keyA, k2, v2));
  });

  it('encodes numbers a filter holds equal alike, and refuses non-finite ones', () => {
    expect(canonicalMetadataPair('n', -0)).toBe(canonicalMetadataPair('n', 0));
    expect(canonicalMetadataPair('n', 1.0)).toBe(canonicalMetadataPair('n', 1));
    expect(() => canonicalMetadataPair('n', Number.NaN)).toThrow(RangeError);
    expect(() => canonicalMetadataPair('n', Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('gives distinct pairs distinct encodings', () => {
    fc.assert(
      fc.property(fc.string(), scalar, fc.string(), scalar, (k1, v1, k2, v2) => {
        // `-0 === 0`: a filter holds them equal, and so does the encoding.
        fc.pre(k1 !== k2 || v1 !== v2);
        expect(canonicalMetadataPair(k1, v1)).not.toBe(canonicalMetadataPair(k2, v2));
      }),
    );
  });
});

describe('tenantMetadataIndexer', () => {
  it('uses the metadata-index subkey of the tenant', async () => {
    const purposes: string[] = [];
    const indexer = await tenantMetadataIndexer({
      subkey: (purpose: string) => {
        purposes.push(purpose);
        return Promise.resolve(keyA);
      },
    });
    expect(purposes).toEqual([METADATA_INDEX_PURPOSE]);
    expect(indexer('department', 'oncology')).toBe(
      metadataBlindIndex(keyA, 'department', 'oncology'),
    );
  });
});
