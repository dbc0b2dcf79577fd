import fc from 'fast-check';

/**
 * Strings aimed at each store's query language and at the gateway's own parsing: SQL (and
 * PostgreSQL's tenant setting), Cypher, Qdrant filter syntax, Redis key patterns and protocol,
 * path traversal, prototype keys, template and log injection.
 */
export const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE documents; --",
  "x' UNION SELECT text_enc FROM documents --",
  "1; SELECT set_config('app.tenant_id', 'other', false); --",
  "current_setting('app.tenant_id')",
  '$1',
  '\\x00',
  "') MATCH (n) DETACH DELETE n //",
  '"}) MATCH (n) RETURN n UNION MATCH (m) RETURN m //',
  'CALL db.labels() YIELD label RETURN label',
  '`t:other:graph`',
  '{"should":[{"is_empty":{"key":"tenant_id"}}]}',
  '{"must_not":[{"key":"tenant_id","match":{"value":"x"}}]}',
  'tenant_id',
  'payload.tenant_id',
  't:*',
  '*',
  '\r\nFLUSHALL\r\n',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2f',
  '..\\..\\windows',
  '%00',
  '__proto__',
  'constructor',
  'prototype',
  '${7*7}',
  '{{7*7}}',
  '\n{"level":60,"msg":"forged"}',
  'Bearer ',
] as const;

/** Unicode that trips encoders, comparers and renderers. */
export const UNICODE_EDGES = [
  '\ud800',
  '\udfff',
  'a\ud83dz',
  '\u0000',
  'nul\u0000byte',
  '\u202eevil\u202c',
  '\u200b\u200d\ufeff',
  'e\u0301\u0301\u0301',
  `a${'\u0300'.repeat(300)}`,
  '\u{1F600}\u{1F9EC}\u{10FFFF}',
  '\uffff\ufffe',
  '\u0085\u2028\u2029',
  'İıſK',
] as const;

/** Strings from every family: injections, unicode edges, random text, and mixes of them. */
export function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...INJECTIONS) },
    { weight: 3, arbitrary: fc.constantFrom(...UNICODE_EDGES) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.oneof(fc.constantFrom(...INJECTIONS, ...UNICODE_EDGES), fc.string()), {
          minLength: 2,
          maxLength: 4,
        })
        .map((parts) => parts.join('')),
    },
  );
}

/** A large string: just under and over the limits that matter (field caps, 1 MB, 16 MB body). */
export function hugeString(): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom(1_001, 4_001, 70_000, 1_100_000),
      fc.constantFrom('a', 'é', '\u{1F600}', 'valve '),
    )
    .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)));
}

/** JSON nested `depth` levels deep, as text (objects or arrays), optionally with `__proto__`. */
export function deeplyNested(): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(64, 1_000, 100_000), fc.boolean(), fc.boolean())
    .map(([depth, arrays, proto]) => {
      const open = arrays ? '[' : proto ? '{"__proto__":' : '{"a":';
      const close = arrays ? ']' : '}';
      return `${open.repeat(depth)}1${close.repeat(depth)}`;
    });
}

/** Any JSON value, of the wrong type for most fields: the shape a validator must refuse. */
export function anyValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: hostileString() },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.integer(),
        fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.5, Number.MIN_VALUE),
      ),
    },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.array(hostileString(), { maxLength: 3 }) },
    {
      weight: 1,
      arbitrary: fc.dictionary(hostileString(), hostileString(), { maxKeys: 3 }),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

/** A value for a field that is sometimes right, often wrong. */
export function fieldValue(plausible: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 2, arbitrary: anyValue() });
}

/** A path segment: hostile text percent-encoded, or raw traversal and encoding tricks. */
export function pathSegment(known: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 3, arbitrary: hostileString().map((s) => encodeURIComponent(s.toWellFormed())) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '..',
        '.',
        '..%2f..%2fetc%2fpasswd',
        '%2e%2e%2f',
        '%2e%2e',
        'doc-0%00',
        '%00',
        '%',
        '%zz',
        '%E0%A4%A',
        '%ED%A0%80',
        'doc-0%2f..',
        'a'.repeat(201),
        'a'.repeat(5_000),
      ),
    },
  );
}
