import { randomInt } from 'node:crypto';

/** Where a canary was planted. */
export type CanaryField = 'title' | 'text' | 'metadata' | 'name' | 'token';

/**
 * A unique string planted in one tenant's data (or a secret that must never travel). The
 * needle is its random part, lowercased: a leak that lost the prefix, changed case or was cut
 * at a word boundary is still found, and 16 random letters match nothing by chance.
 */
export interface Canary {
  /** The tenant (or MSP, for tokens) the canary belongs to. */
  readonly owner: string;
  readonly field: CanaryField;
  readonly value: string;
  readonly needle: string;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function randomLetters(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += LETTERS[randomInt(LETTERS.length)];
  return out;
}

/**
 * A fresh canary `CANARY-<owner>-<random>`. Letters only, so no PII rule (phone, card, IP)
 * rewrites it and the stored text keeps it verbatim.
 */
export function newCanary(owner: string, field: Exclude<CanaryField, 'token'>): Canary {
  const random = randomLetters(16);
  return { owner, field, value: `CANARY-${owner}-${random}`, needle: random };
}

/** A bearer token as a needle: its signature, which nothing but the token itself contains. */
export function tokenCanary(owner: string, token: string): Canary {
  const signature = token.split('.')[2] ?? token;
  return { owner, field: 'token', value: `token of ${owner}`, needle: signature.toLowerCase() };
}

/** The canaries of `canaries` that occur in `haystack`, each once. */
export function findCanaries(haystack: string, canaries: readonly Canary[]): Canary[] {
  if (canaries.length === 0 || haystack === '') return [];
  const lower = haystack.toLowerCase();
  return canaries.filter((canary) => lower.includes(canary.needle));
}

/** "2 canaries of t-a1 (title, text)", for a table's detail column. */
export function describeCanaries(found: readonly Canary[]): string {
  const byOwner = new Map<string, Set<string>>();
  for (const canary of found) {
    const fields = byOwner.get(canary.owner) ?? new Set<string>();
    fields.add(canary.field);
    byOwner.set(canary.owner, fields);
  }
  return [...byOwner]
    .map(([owner, fields]) => {
      const count = found.filter((c) => c.owner === owner).length;
      return `${count} canar${count === 1 ? 'y' : 'ies'} of ${owner} (${[...fields].join(', ')})`;
    })
    .join('; ');
}
