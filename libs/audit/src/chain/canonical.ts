import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditEvent } from './audit-event.js';

/** The `prev_hash` of a chain's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** RFC 8785 (JCS) canonical JSON of `value`; throws on what JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return text;
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes, or of bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `hash` of an event: SHA-256 of `prev_hash` followed by the canonical event without `hash`. */
export function eventHash(event: Omit<AuditEvent, 'hash'> | AuditEvent): string {
  const rest: Record<string, unknown> = { ...event };
  delete rest.hash;
  return sha256Hex(event.prev_hash + canonicalJson(rest));
}
