import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { TenantContext } from '../context/tenant-context.js';
import type { TenantDb } from '../db/tenant-db.js';
import { IsogateError } from '../errors/isogate-error.js';
import { open, seal, type MasterKey } from './master-key.js';

/** How long an unwrapped data key is kept in memory before it is read and unwrapped again. */
const KEY_TTL_MS = 30_000;

/** A tenant's unwrapped data key, prepared once, and the subkeys derived from it so far. */
interface DataKey {
  readonly key: KeyObject;
  readonly subkeys: Map<string, KeyObject>;
}

/**
 * The current tenant's data key: read (through row-level security) from `tenant_keys`,
 * unwrapped with the master key, and used to seal what the tenant stores. Records are sealed
 * with AES-256-GCM, a fresh nonce each, and the tenant id as associated data, so a record
 * copied into another tenant's rows does not open. Once the tenant's key row is destroyed,
 * nothing it sealed can be read again (after at most `KEY_TTL_MS` in a running gateway).
 */
export class TenantKeys {
  readonly #keys: LRUCache<string, Promise<DataKey>>;

  constructor(
    private readonly db: TenantDb,
    private readonly masterKey: MasterKey,
    maxTenants = 1_024,
  ) {
    this.#keys = new LRUCache<string, Promise<DataKey>>({ max: maxTenants, ttl: KEY_TTL_MS });
  }

  /** Seals `plaintext` for the current tenant. */
  async seal(plaintext: Buffer | string): Promise<Buffer> {
    const tenantId = TenantContext.requireTenantId();
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    return seal((await this.key(tenantId)).key, data, tenantId);
  }

  /** Opens a record sealed for the current tenant; a record of anyone else does not open. */
  async open(sealed: Buffer): Promise<Buffer> {
    const tenantId = TenantContext.requireTenantId();
    try {
      return open((await this.key(tenantId)).key, sealed, tenantId);
    } catch (error) {
      if (error instanceof IsogateError) throw error;
      throw new IsogateError('internal_error', 'A stored record could not be decrypted');
    }
  }

  /** Seals a string and returns it as base64, for stores that keep JSON (Qdrant payloads). */
  async sealText(plaintext: string): Promise<string> {
    return (await this.seal(plaintext)).toString('base64');
  }

  /** Opens what `sealText` produced. */
  async openText(sealed: string): Promise<string> {
    return (await this.open(Buffer.from(sealed, 'base64'))).toString('utf8');
  }

  /**
   * A keyed digest under a subkey of the tenant's data key, for values that must be comparable
   * inside the tenant (pseudonyms, graph entity keys, cursors) but unlinkable across tenants.
   */
  async mac(purpose: string, value: string): Promise<string> {
    const key = await this.subkeyObject(purpose);
    return createHmac('sha256', key).update(value, 'utf8').digest('base64url');
  }

  /** Checks a value produced by `mac` in constant time. */
  async verifyMac(purpose: string, value: string, mac: string): Promise<boolean> {
    const expected = Buffer.from(await this.mac(purpose, value));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** A 32-byte key for `purpose`, derived from the current tenant's data key. */
  async subkey(purpose: string): Promise<Buffer> {
    return (await this.subkeyObject(purpose)).export();
  }

  private async subkeyObject(purpose: string): Promise<KeyObject> {
    const { key, subkeys } = await this.key(TenantContext.requireTenantId());
    let subkey = subkeys.get(purpose);
    if (subkey === undefined) {
      subkey = createSecretKey(createHmac('sha256', key).update(`isogate:${purpose}`).digest());
      subkeys.set(purpose, subkey);
    }
    return subkey;
  }

  private key(tenantId: string): Promise<DataKey> {
    const cached = this.#keys.get(tenantId);
    if (cached !== undefined) return cached;
    const loading = this.load(tenantId);
    this.#keys.set(tenantId, loading);
    loading.catch(() => this.#keys.delete(tenantId));
    return loading;
  }

  private async load(tenantId: string): Promise<DataKey> {
    const rows = await this.db.read<{ wrapped_key: Buffer }>(
      'SELECT wrapped_key FROM tenant_keys ORDER BY version DESC LIMIT 1',
    );
    const wrapped = rows[0]?.wrapped_key;
    // A tenant without a key is one whose key was destroyed (deletion): its data is gone.
    if (wrapped === undefined) throw new IsogateError('not_found', 'The tenant has no data key');
    return { key: createSecretKey(this.masterKey.unwrap(tenantId, wrapped)), subkeys: new Map() };
  }
}
