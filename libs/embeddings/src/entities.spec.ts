import { describe, expect, it } from '@jest/globals';
import { entityKey, extractEntities, MAX_ENTITIES } from './entities.js';

const keysOf = (entities: readonly { key: string }[]) => entities.map((entity) => entity.key);

describe('extractEntities', () => {
  it('finds the people, organizations and places of a realistic sentence', () => {
    const entities = extractEntities(
      'Dr. Maria Chen of Stanford University met Angela Merkel at the World Health ' +
        "Organization in Geneva to discuss John Smith's report.",
    );

    expect(entities).toEqual(
      expect.arrayContaining([
        { key: 'maria chen', name: 'Maria Chen', kind: 'person' },
        { key: 'angela merkel', name: 'Angela Merkel', kind: 'person' },
        { key: 'john smith', name: 'John Smith', kind: 'person' },
        { key: 'stanford university', name: 'Stanford University', kind: 'organization' },
        {
          key: 'world health organization',
          name: 'World Health Organization',
          kind: 'organization',
        },
        { key: 'geneva', name: 'Geneva', kind: 'place' },
      ]),
    );
  });

  it('adds the metadata terms, and keeps the first kind seen for one key', () => {
    const entities = extractEntities('Engineers at Microsoft shipped it.', [
      'COVID-19',
      'Randomized Controlled Trial',
      'microsoft',
      'covid 19',
    ]);

    expect(entities).toEqual([
      { key: 'microsoft', name: 'Microsoft', kind: 'organization' },
      { key: 'covid 19', name: 'COVID-19', kind: 'term' },
      { key: 'randomized controlled trial', name: 'Randomized Controlled Trial', kind: 'term' },
    ]);
  });

  it('drops keys that are too short, too long or only a number', () => {
    const entities = extractEntities('', ['a', '2021', '12 345', 'x'.repeat(101), 'ok']);

    expect(keysOf(entities)).toEqual(['ok']);
  });

  it('never turns a PII placeholder into an entity', () => {
    const entities = extractEntities(
      'Write to [EMAIL] or [EMAIL_3fa2b9c1aa00], call [PHONE_0123456789ab]. Peter Jones agreed.',
      ['[EMAIL_3fa2b9c1aa00]', '[SSN]'],
    );

    expect(keysOf(entities)).toEqual(['peter jones']);
  });

  it('returns at most 64 entities, keeping the metadata terms when the cap bites', () => {
    const terms = Array.from({ length: 70 }, (_, i) => `term ${i}`);

    const onlyTerms = extractEntities('', terms);
    const mixed = extractEntities('Angela Merkel visited Geneva.', terms.slice(0, 63));

    expect(onlyTerms).toHaveLength(MAX_ENTITIES);
    expect(mixed).toHaveLength(MAX_ENTITIES);
    expect(mixed.filter((entity) => entity.kind === 'term')).toHaveLength(63);
  });

  it('returns nothing for empty text and no terms', () => {
    expect(extractEntities('   ')).toEqual([]);
  });
});

describe('entityKey', () => {
  it.each([
    ["John Smith's", 'john smith'],
    ['  U.S.   Food\tand Drug Administration ', 'us food and drug administration'],
    ["O'Brien", 'obrien'],
    ['São Paulo', 'são paulo'],
    ['COVID-19', 'covid 19'],
    ['Ｆｕｌｌwidth', 'fullwidth'],
  ])('normalizes %j to %j', (name, key) => {
    expect(entityKey(name)).toBe(key);
  });
});
