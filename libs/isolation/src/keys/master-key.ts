import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/** Stores whose per-tenant credentials are derived from the master key. */
export type CredentialStore = 'qdrant' | 'falkordb' | 'redis' | 'pseudonym';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals `plaintext` with AES-256-GCM under `key`, binding `aad` (the tenant id) so a record
 * copied into another tenant's rows fails to open. Layout: nonce | tag | ciphertext.
 */
export function seal(key: Buffer | KeyObject, plaintext: Buffer, aad: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]);
}

/** Opens what `seal` produced; throws when the key, the associated data or a byte is wrong. */
export function open(key: Buffer | KeyObject, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed value is too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
  return Buffer.concat([
    decipher.update(sealed.subarray(NONCE_BYTES + TAG_BYTES)),
    decipher.final(),
  ]);
}

/**
 * The master key: wraps tenant data keys and derives per-tenant store credentials as
 * HMAC(master key, store + tenant id), so no per-tenant password is ever stored.
 */
export class MasterKey {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the master key must be 32 bytes');
    this.#key = Buffer.from(key);
  }

  /** The credential of `tenantId` in `store`: 64 hex characters, stable across restarts. */
  storeSecret(store: CredentialStore, tenantId: string): string {
    return createHmac('sha256', this.#key).update(`${store}\u0000${tenantId}`).digest('hex');
  }

  /** A fresh random 256-bit data key for a tenant, returned with its wrapped form. */
  newDataKey(tenantId: string): { key: Buffer; wrapped: Buffer } {
    const key = randomBytes(32);
    return { key, wrapped: this.wrap(tenantId, key) };
  }

  wrap(tenantId: string, dataKey: Buffer): Buffer {
    return seal(this.#key, dataKey, `tenant-key:${tenantId}`);
  }

  unwrap(tenantId: string, wrapped: Buffer): Buffer {
    return open(this.#key, wrapped, `tenant-key:${tenantId}`);
  }
}
