import nlp from 'compromise';

/** What an entity is; `term` is a tenant-supplied metadata term (keyword, tag, MeSH term). */
export type EntityKind = 'person' | 'organization' | 'place' | 'term';

/** A named thing found in a text, joined across documents through its `key`. */
export interface Entity {
  /** The normalized name: lowercase, no punctuation, single spaces, no possessive 's. */
  readonly key: string;
  /** The name as written (trimmed of edge punctuation). */
  readonly name: string;
  readonly kind: EntityKind;
}

/** At most this many entities come out of one call, so one text cannot flood the graph. */
export const MAX_ENTITIES = 64;
// compromise is roughly linear but slow (~7 ms per 1,000 characters); a chunk is far smaller.
const MAX_ANALYZED_CHARS = 50_000;
const MIN_KEY_LENGTH = 2;
const MAX_KEY_LENGTH = 100;
// Output of the PII rules ([EMAIL], [PHONE_3fa2b9c1aa00], ...): never a name, and a pseudonym
// token must not become a graph node that links the documents of one person.
const PII_PLACEHOLDER = /\[[A-Z][A-Z0-9]*(?:_[0-9A-Za-z]+)?\]/g;
// compromise splits "John Smith's" into two people at the possessive, so it is removed first.
const CAPITALIZED_POSSESSIVE = /(\p{Lu}[\p{L}\p{M}.-]*)['’]s\b/gu;

/**
 * The join key of an entity name: NFKC, lowercase, possessive 's removed, apostrophes and dots
 * dropped (O'Brien → obrien, U.S. → us), other punctuation turned into spaces, spaces collapsed.
 */
export function entityKey(name: string): string {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/['’]s(?![\p{L}\p{N}])/gu, '')
    .replace(/['’.]/gu, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

function displayName(raw: string): string {
  const name = raw.replace(/\s+/gu, ' ').replace(/^[^\p{L}\p{N}(]+|[^\p{L}\p{N}.)]+$/gu, '');
  // A trailing dot is sentence punctuation unless it closes an abbreviation (U.S., Dr.).
  return /(?:^|[\s.])\p{L}\.$/u.test(name) ? name : name.replace(/\.+$/u, '');
}

function usableKey(key: string): boolean {
  return key.length >= MIN_KEY_LENGTH && key.length <= MAX_KEY_LENGTH && !/^[\d ]+$/u.test(key);
}

// compromise types `out()` as any; this keeps the untyped value inside this file.
function matches(view: { out: (format: 'array') => unknown }): string[] {
  const value = view.out('array');
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : [];
}

function namedEntities(text: string): { name: string; kind: EntityKind }[] {
  const doc = nlp(
    text
      .slice(0, MAX_ANALYZED_CHARS)
      .replace(PII_PLACEHOLDER, ',')
      .replace(CAPITALIZED_POSSESSIVE, '$1'),
  );
  return [
    ...matches(doc.people().not('#Honorific')).map((name) => ({ name, kind: 'person' as const })),
    ...matches(doc.organizations()).map((name) => ({ name, kind: 'organization' as const })),
    // "Paris, France" is two places; split so each joins with documents that name one of them.
    ...matches(doc.places())
      .flatMap((name) => name.split(','))
      .map((name) => ({ name, kind: 'place' as const })),
  ];
}

class EntityList {
  readonly items: Entity[] = [];
  readonly #keys = new Set<string>();

  add(raw: string, kind: EntityKind): void {
    const name = displayName(raw.replace(PII_PLACEHOLDER, ' '));
    const key = entityKey(name);
    if (!usableKey(key) || this.#keys.has(key)) return;
    this.#keys.add(key);
    this.items.push({ key, name, kind });
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }
}

/**
 * Finds the people, organizations and places in `text` (compromise) and adds the document's
 * metadata terms. Deduplicated by key, keeping the first kind seen (person, organization,
 * place, then term); at most {@link MAX_ENTITIES}, and when that cap bites the metadata terms
 * are kept ahead of found names because the tenant chose them. PII placeholders are ignored.
 */
export function extractEntities(text: string, metadataTerms: readonly string[] = []): Entity[] {
  const found = new EntityList();
  for (const { name, kind } of namedEntities(text)) found.add(name, kind);
  const terms = new EntityList();
  for (const term of metadataTerms) {
    const key = entityKey(displayName(term.replace(PII_PLACEHOLDER, ' ')));
    if (!found.has(key)) terms.add(term, 'term');
  }
  const termCount = Math.min(terms.items.length, MAX_ENTITIES);
  return [...found.items.slice(0, MAX_ENTITIES - termCount), ...terms.items.slice(0, termCount)];
}
