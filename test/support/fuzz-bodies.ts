import fc from 'fast-check';
import type { FuzzTargets } from './fuzz-requests.js';
import { anyValue, deeplyNested, fieldValue, hostileString, hugeString } from './fuzz-strings.js';

/** Request bodies, query strings and headers for the fuzzer, per route (see fuzz-requests.ts). */
export type Body = fc.Arbitrary<Record<string, unknown>>;
const optional = { requiredKeys: [] as never[] };

/** `POST /v1/documents` (and the `PUT` that does not exist). */
export function documentBody(t: FuzzTargets): Body {
  const id = fc.oneof(
    fc.constantFrom(...t.documentIds, ...t.controlDocumentIds),
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,12}$/),
  );
  const metadata = fc.dictionary(
    fc.oneof(fc.stringMatching(/^[a-z_]{1,8}$/), hostileString()),
    fieldValue(fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean())),
    { maxKeys: 4 },
  );
  const body = fc.record(
    {
      id: fieldValue(id),
      title: fieldValue(hostileString()),
      text: fieldValue(fc.oneof(hostileString(), hugeString())),
      metadata: fieldValue(metadata),
    },
    optional,
  );
  // Now and then a field the API does not know, naming the control tenant.
  return fc
    .tuple(body, fc.nat(9))
    .map(([fields, n]) => (n === 0 ? { ...fields, tenant_id: t.controlTenant } : fields));
}

/** `POST /v1/documents/batch`: a few documents, some hostile, or something that is no batch. */
export function batchBody(t: FuzzTargets): Body {
  return fc.oneof(
    fc.record({ documents: fc.array(documentBody(t), { minLength: 1, maxLength: 4 }) }),
    fc.record({ documents: fc.oneof(fc.constant([]), hostileString(), fc.integer()) }),
    documentBody(t),
  );
}

/** A retrieval filter: metadata conditions, and Qdrant filter syntax smuggled in. */
function filterValue(t: FuzzTargets): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.record({
      metadata: fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), anyValue(), { maxKeys: 3 }),
    }),
    fc.constant({ metadata: { tenant_id: t.controlTenant } }),
    fc.constant({ must: [{ key: 'tenant_id', match: { value: t.controlTenant } }] }),
    fc.constant({ should: [{ is_empty: { key: 'tenant_id' } }] }),
    fc.constant({ metadata: { owner: { $ne: null } } }),
    anyValue(),
  );
}

/** `POST /v1/retrieve`. */
export function retrieveBody(t: FuzzTargets): Body {
  return fc.record(
    {
      query: fieldValue(fc.oneof(hostileString(), hugeString())),
      top_k: fieldValue(fc.integer({ min: -5, max: 1_000 })),
      filter: filterValue(t),
      expand_graph: fieldValue(fc.boolean()),
    },
    optional,
  );
}

/** `POST /v1/tenants` and `PATCH /v1/tenants/{id}`. */
export function tenantBody(t: FuzzTargets): Body {
  const patterns = fc.array(
    fc.oneof(
      fc.constantFrom(
        '\\d{3}',
        '(a+)+$',
        '(?<=x)y',
        '(a|aa)*',
        '[',
        'a{1,100000}',
        '.*.*.*=.*',
        '\\1',
      ),
      hostileString(),
    ),
    { maxLength: 3 },
  );
  return fc.record(
    {
      id: fieldValue(
        fc.oneof(
          fc.constantFrom(t.controlTenant, t.fuzzedTenant),
          fc.stringMatching(/^fz-[a-z0-9]{8}$/),
        ),
      ),
      name: fieldValue(hostileString()),
      status: fieldValue(fc.constantFrom('active', 'suspended', 'deleted')),
      quotas: fieldValue(
        fc.record(
          {
            requests_per_minute: anyValue(),
            tokens_per_day: anyValue(),
            max_documents: anyValue(),
            max_document_bytes: anyValue(),
          },
          optional,
        ),
      ),
      retention_days: fieldValue(fc.integer({ min: -1, max: 40_000 })),
      pii: fieldValue(fc.constantFrom('off', 'redact', 'pseudonymize')),
      pii_patterns: fieldValue(patterns),
      images: fieldValue(fc.boolean()),
      policy: fieldValue(policyBody()),
    },
    optional,
  );
}

/** A model policy: `PUT /v1/msp/policy`, and `policy` of a tenant. */
export function policyBody(): Body {
  const labels = fc.array(fc.oneof(fc.constantFrom('us-east', 'hipaa'), hostileString()), {
    maxLength: 3,
  });
  return fc.record(
    {
      data_class: fieldValue(fc.constantFrom('phi', 'pci', 'internal', 'public', 'secret')),
      allowed_regions: fieldValue(labels),
      require: fieldValue(
        fc.record(
          { baa: anyValue(), zero_retention: anyValue(), certifications: fieldValue(labels) },
          optional,
        ),
      ),
      models: fieldValue(labels),
      default_model: fieldValue(hostileString()),
    },
    optional,
  );
}

/** `POST /v1/chat/completions`. */
export function chatBody(t: FuzzTargets): Body {
  const message = fc.record(
    {
      role: fieldValue(fc.constantFrom('user', 'system', 'assistant', 'tool', 'developer')),
      content: fieldValue(fc.oneof(hostileString(), hugeString())),
    },
    optional,
  );
  return fc.record(
    {
      model: fieldValue(fc.constantFrom('test-chat', 'gpt-4o-mini', '../model')),
      messages: fieldValue(fc.array(message, { maxLength: 4 })),
      stream: fieldValue(fc.boolean()),
      max_tokens: fieldValue(fc.integer({ min: -10, max: 10_000_000 })),
      temperature: fieldValue(fc.double({ noNaN: true, min: -5, max: 5 })),
      user: fieldValue(hostileString()),
      retrieval: fieldValue(fc.record({ top_k: anyValue(), filter: filterValue(t) }, optional)),
    },
    optional,
  );
}

/** A request body: the JSON of `body`, or bytes that are not what a JSON parser expects. */
export function rawBody(body: Body): fc.Arbitrary<string | Uint8Array> {
  return fc.oneof(
    { weight: 6, arbitrary: body.map((value) => JSON.stringify(value)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        '{"text": "unterminated',
        '{"text":}',
        'null',
        '[]',
        '"text"',
        '1e999',
        '',
        '{"text":"a","text":{"x":1}}',
        '\ufeff{"text":"bom"}',
        '{"__proto__":{"admin":true},"text":"x"}',
        '{"constructor":{"prototype":{"polluted":true}}}',
      ),
    },
    { weight: 1, arbitrary: deeplyNested() },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Uint8Array.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]),
        Uint8Array.from([0xff, 0xfe, 0x7b, 0x7d]),
        Uint8Array.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
      ),
    },
    { weight: 1, arbitrary: hugeString().map((s) => JSON.stringify({ text: s, query: s })) },
  );
}

/** A query string: known parameters with hostile values, unknown ones, repeats, bad encoding. */
export function queryString(names: readonly string[]): fc.Arbitrary<string> {
  const pair = fc.tuple(
    fc.oneof(fc.constantFrom(...names, 'tenant_id', 'msp_id', 'limit'), hostileString()),
    fc.oneof(
      fc.constantFrom(
        '-1',
        '0',
        '1',
        '1000000',
        'NaN',
        '2024-13-45',
        '1970-01-01T00:00:00Z',
        'csv',
        'ok',
      ),
      hostileString(),
    ),
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    {
      weight: 4,
      arbitrary: fc
        .array(pair, { maxLength: 4 })
        .map(
          (pairs) =>
            `?${pairs.map(([k, v]) => `${encodeURIComponent(k.toWellFormed())}=${encodeURIComponent(v.toWellFormed())}`).join('&')}`,
        ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '?limit=1&limit=2',
        '?cursor=%ff',
        '?%',
        '?limit=%00',
        '?a[b]=1&a[c]=2',
      ),
    },
  );
}

/** Headers a hostile client adds: a forged tenant, odd content types, oversized values. */
export function extraHeaders(t: FuzzTargets): fc.Arbitrary<Record<string, string>> {
  const safe = hostileString().map((s) => encodeURIComponent(s.toWellFormed()).slice(0, 300));
  return fc.record(
    {
      'x-request-id': fc.oneof(safe, fc.constant('../../x'), fc.constant('a'.repeat(129))),
      'x-tenant-id': fc.constant(t.controlTenant),
      'content-type': fc.constantFrom(
        'text/plain',
        'application/json; charset=latin1',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json;;',
        'application/jsonx',
      ),
      'x-pad': fc.constantFrom(
        'a',
        'a'.repeat(2_000),
        'a'.repeat(8_000),
        'a'.repeat(20_000),
        'a'.repeat(70_000),
      ),
      'accept-encoding': fc.constantFrom('gzip', 'br', 'identity;q=0', '*'),
    },
    optional,
  );
}
