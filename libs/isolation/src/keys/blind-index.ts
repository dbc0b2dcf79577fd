import { createHmac, type KeyObject } from 'node:crypto';
import type { TenantKeys } from './tenant-keys.js';

/** A metadata value a filter can match. */
export type MetadataScalar = string | number | boolean;

/** The purpose of the tenant subkey metadata blind indexes are computed under. */
export const METADATA_INDEX_PURPOSE = 'metadata-index';

/**
 * Bytes of the HMAC kept (128 bits, 22 base64url characters). A filter's result is not checked
 * against the clear value afterwards (no store holds it where the filter runs), so a collision
 * would be a wrong match: at 128 bits the chance among even 2^32 distinct pairs of one tenant
 * is about 2^-65. Shorter than the full digest, it keeps every point's payload small.
 */
const INDEX_BYTES = 16;

/**
 * The encoding a metadata pair is hashed in: a JSON array of a version, the key, a type tag
 * and the value's text. JSON strings encode any string injectively, so no two distinct pairs
 * share an encoding, and the tag keeps `1`, `"1"` and `true`, `"true"` apart. Numbers use the
 * shortest round-trip text, so `-0` and `0` (equal to a filter) encode alike.
 */
export function canonicalMetadataPair(key: string, value: MetadataScalar): string {
  if (typeof value === 'string') return JSON.stringify(['m1', key, 's', value]);
  if (typeof value === 'boolean') return JSON.stringify(['m1', key, 'b', value ? 'true' : 'false']);
  if (!Number.isFinite(value)) throw new RangeError('metadata numbers must be finite');
  return JSON.stringify(['m1', key, 'n', String(value)]);
}

/**
 * The blind index of one metadata pair under a tenant's subkey: HMAC-SHA256 of its canonical
 * encoding, truncated to 128 bits, base64url. Equal pairs of one tenant give equal indexes, so
 * an equality filter can match them; another tenant's subkey gives unrelated values, and the
 * store learns neither the key nor the value.
 */
export function metadataBlindIndex(
  subkey: Buffer | KeyObject,
  key: string,
  value: MetadataScalar,
): string {
  return createHmac('sha256', subkey)
    .update(canonicalMetadataPair(key, value), 'utf8')
    .digest()
    .subarray(0, INDEX_BYTES)
    .toString('base64url');
}

/** Computes blind indexes of metadata pairs for one tenant. */
export type MetadataIndexer = (key: string, value: MetadataScalar) => string;

/**
 * The blind-index function of the current tenant: writes and filters both take it from here,
 * so they always agree on the subkey.
 */
export async function tenantMetadataIndexer(
  keys: Pick<TenantKeys, 'subkey'>,
): Promise<MetadataIndexer> {
  const subkey = await keys.subkey(METADATA_INDEX_PURPOSE);
  return (key, value) => metadataBlindIndex(subkey, key, value);
}
