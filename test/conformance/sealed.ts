import { open } from '@isogate/isolation';

const BASE64 = /^[A-Za-z0-9+/]{40,}={0,2}$/;

/**
 * Everything one tenant's credentials read from a store, as text to scan: every string, key
 * and number, plus the plaintext of every value sealed with the tenant's data key (text,
 * titles, interactions and cached answers are sealed at rest, so a leak written into a
 * tenant's own store under its own key would otherwise be invisible to a scan).
 */
export class TenantReading {
  readonly texts: string[] = [];
  /** Sealed values that opened with the tenant's key. */
  opened = 0;

  constructor(
    private readonly tenantId: string,
    private readonly dataKeys: readonly Buffer[],
  ) {}

  /** Adds `value` (any JSON-like value, Buffers included) to the reading. */
  add(value: unknown): void {
    if (value === null || value === undefined) return;
    if (Buffer.isBuffer(value)) {
      if (!this.tryOpen(value)) this.texts.push(value.toString('latin1'));
      return;
    }
    if (value instanceof Date) return;
    if (Array.isArray(value)) {
      for (const item of value) this.add(item);
      return;
    }
    if (typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        this.texts.push(key);
        this.add(item);
      }
      return;
    }
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
      this.texts.push(String(value));
      return;
    }
    if (typeof value !== 'string') return;
    this.texts.push(value);
    // Stores keep JSON as text too (cache envelopes): its sealed members are opened as well.
    if (/^\s*[[{]/.test(value)) {
      try {
        this.add(JSON.parse(value));
      } catch {
        // not JSON after all: scanned as it is
      }
    }
    if (BASE64.test(value)) {
      const bytes = Buffer.from(value, 'base64');
      // Not sealed with this key: still scanned decoded, for base64 that hides plain text.
      if (!this.tryOpen(bytes)) this.texts.push(bytes.toString('latin1'));
    }
  }

  /** Everything read, as one string for the canary scan. */
  get text(): string {
    return this.texts.join('\n');
  }

  private tryOpen(sealed: Buffer): boolean {
    for (const key of this.dataKeys) {
      try {
        const plain = open(key, sealed, this.tenantId).toString('utf8');
        this.opened += 1;
        this.add(plain);
        return true;
      } catch {
        // another key version, or not sealed for this tenant
      }
    }
    return false;
  }
}
