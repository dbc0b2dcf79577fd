import { createHmac } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { PiiMode } from '../lifecycle/tenant-record.js';

/** The kinds of personal data the rules find. */
export type PiiKind = 'email' | 'card' | 'ssn' | 'phone' | 'ipv4' | 'ipv6' | 'custom';

/** A tenant's rules: its mode, its own identifier patterns, and its pseudonym key. */
export interface PiiPolicy {
  readonly mode: PiiMode;
  /** Extra identifiers the tenant lists (medical record numbers, account ids, ...). */
  readonly patterns?: readonly RegExp[];
  /** Keys the pseudonyms; per tenant, so one value gives unrelated tokens in two tenants. */
  readonly pseudonymKey?: Buffer;
}

/** The result: the text to store, embed or send, and how many of each kind were replaced. */
export interface PiiResult {
  readonly text: string;
  readonly found: Partial<Record<PiiKind, number>>;
}

interface Rule {
  readonly kind: PiiKind;
  readonly pattern: RegExp;
  readonly accept?: (match: string) => boolean;
}

/** Luhn checksum: a run of digits is treated as a card number only when it passes. */
export function luhnValid(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

// Order matters: the longer, stricter shapes go first so a card number is not taken for a
// phone number, nor an SSN for part of one.
const RULES: readonly Rule[] = [
  {
    kind: 'email',
    pattern: /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}/g,
  },
  { kind: 'card', pattern: /\b\d(?:[ -]?\d){12,18}\b/g, accept: luhnValid },
  { kind: 'ssn', pattern: /\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b/g },
  {
    kind: 'phone',
    pattern: /(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b/g,
  },
  {
    kind: 'ipv4',
    pattern: /\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b/g,
  },
  {
    kind: 'ipv6',
    pattern: /(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])/g,
    accept: (m) => isIPv6(m),
  },
];

const LABEL: Record<PiiKind, string> = {
  email: 'EMAIL',
  card: 'CARD',
  ssn: 'SSN',
  phone: 'PHONE',
  ipv4: 'IP',
  ipv6: 'IP',
  custom: 'ID',
};

function replacement(kind: PiiKind, value: string, policy: PiiPolicy): string {
  if (policy.mode !== 'pseudonymize') return `[${LABEL[kind]}]`;
  if (policy.pseudonymKey === undefined)
    throw new Error('pseudonymize needs the tenant pseudonym key');
  const normalized = kind === 'email' ? value.toLowerCase() : value.replace(/[\s().-]/g, '');
  const token = createHmac('sha256', policy.pseudonymKey)
    .update(`${kind}:${normalized}`)
    .digest('hex')
    .slice(0, 12);
  return `[${LABEL[kind]}_${token}]`;
}

/**
 * Applies a tenant's PII rules to `text` before it is stored, embedded, put in the graph or
 * sent to an LLM. `redact` replaces each finding with a typed placeholder; `pseudonymize` with a
 * keyed token that is stable inside the tenant and unlinkable across tenants.
 */
export function applyPii(text: string, policy: PiiPolicy): PiiResult {
  if (policy.mode === 'off') return { text, found: {} };
  const found: Partial<Record<PiiKind, number>> = {};
  const custom: Rule[] = (policy.patterns ?? []).map((p) => ({
    kind: 'custom',
    pattern: new RegExp(p.source, p.flags.includes('g') ? p.flags : `${p.flags}g`),
  }));
  let result = text;
  for (const rule of [...custom, ...RULES]) {
    result = result.replace(rule.pattern, (match) => {
      if (rule.accept !== undefined && !rule.accept(match)) return match;
      found[rule.kind] = (found[rule.kind] ?? 0) + 1;
      return replacement(rule.kind, match, policy);
    });
  }
  return { text: result, found };
}
