import fc from 'fast-check';
import {
  chatBody,
  batchBody,
  documentBody,
  extraHeaders,
  queryString,
  rawBody,
  retrieveBody,
  policyBody,
  tenantBody,
  type Body,
} from './fuzz-bodies.js';
import { pathSegment } from './fuzz-strings.js';

/** Who a generated request claims to be; the runner turns the label into an Authorization header. */
export const CREDENTIALS = [
  'admin',
  'user',
  'auditor',
  'operator',
  'none',
  'garbage',
  'stranger',
  'alg-none',
  'expired',
  'hostile-claims',
  'surrogate-claims',
  'oversized',
  'wrong-scheme',
] as const;
export type Credential = (typeof CREDENTIALS)[number];

/** One generated request; `route` is the template it was made from, for the report. */
export interface FuzzRequest {
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly credential: Credential;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
}

/** Ids the generator aims at: the fuzzed tenant's, the control tenant's (never its tokens). */
export interface FuzzTargets {
  readonly fuzzedTenant: string;
  readonly controlTenant: string;
  readonly documentIds: readonly string[];
  readonly controlDocumentIds: readonly string[];
  /** Whether `POST /v1/chat/completions` exists. */
  readonly chat: boolean;
}

interface RouteShape {
  readonly method: string;
  readonly template: string;
  /** The credential the route is meant for, so most requests get past the role check. */
  readonly role: Credential;
  readonly path: (t: FuzzTargets) => fc.Arbitrary<string>;
  readonly body?: (t: FuzzTargets) => Body;
}

const fixed = (path: string) => () => fc.constant(path);
const withId =
  (prefix: string, suffix = '') =>
  (t: FuzzTargets) =>
    pathSegment([...t.documentIds, ...t.controlDocumentIds, t.fuzzedTenant, t.controlTenant]).map(
      (id) => `${prefix}${id}${suffix}`,
    );
const withQuery = (path: string, names: readonly string[]) => () =>
  queryString(names).map((q) => `${path}${q}`);

/** Every route of the API (the route snapshot), with the shape of its input. */
const ROUTE_SHAPES: readonly RouteShape[] = [
  {
    method: 'DELETE',
    template: '/v1/documents/:id',
    role: 'admin',
    path: withId('/v1/documents/'),
  },
  { method: 'DELETE', template: '/v1/tenants/:id', role: 'operator', path: withId('/v1/tenants/') },
  { method: 'GET', template: '/healthz', role: 'none', path: fixed('/healthz') },
  { method: 'GET', template: '/metrics', role: 'none', path: fixed('/metrics') },
  { method: 'GET', template: '/readyz', role: 'none', path: fixed('/readyz') },
  {
    method: 'GET',
    template: '/v1/audit/events',
    role: 'auditor',
    path: withQuery('/v1/audit/events', ['from', 'to', 'action', 'outcome', 'cursor']),
  },
  {
    method: 'GET',
    template: '/v1/audit/export',
    role: 'auditor',
    path: withQuery('/v1/audit/export', ['from', 'to', 'format']),
  },
  {
    method: 'GET',
    template: '/v1/audit/export/manifest',
    role: 'auditor',
    path: withQuery('/v1/audit/export/manifest', ['from', 'to', 'format', 'last_seq']),
  },
  {
    method: 'GET',
    template: '/v1/audit/interactions',
    role: 'auditor',
    path: withQuery('/v1/audit/interactions', ['from', 'to', 'cursor']),
  },
  {
    method: 'GET',
    template: '/v1/audit/public-key',
    role: 'auditor',
    path: withQuery('/v1/audit/public-key', []),
  },
  {
    method: 'GET',
    template: '/v1/audit/verify',
    role: 'auditor',
    path: withQuery('/v1/audit/verify', []),
  },
  {
    method: 'GET',
    template: '/v1/documents',
    role: 'user',
    path: withQuery('/v1/documents', ['cursor']),
  },
  { method: 'GET', template: '/v1/documents/:id', role: 'user', path: withId('/v1/documents/') },
  { method: 'GET', template: '/v1/models', role: 'user', path: withQuery('/v1/models', []) },
  {
    method: 'GET',
    template: '/v1/usage',
    role: 'admin',
    path: withQuery('/v1/usage', ['from', 'to']),
  },
  {
    method: 'GET',
    template: '/v1/msp/policy',
    role: 'operator',
    path: withQuery('/v1/msp/policy', []),
  },
  {
    method: 'PUT',
    template: '/v1/msp/policy',
    role: 'operator',
    path: fixed('/v1/msp/policy'),
    body: () => policyBody(),
  },
  { method: 'GET', template: '/v1/tenants', role: 'operator', path: withQuery('/v1/tenants', []) },
  { method: 'GET', template: '/v1/tenants/:id', role: 'operator', path: withId('/v1/tenants/') },
  {
    method: 'GET',
    template: '/v1/tenants/:id/usage',
    role: 'operator',
    path: withId('/v1/tenants/', '/usage'),
  },
  {
    method: 'GET',
    template: '/v1/tenants/:id/reembed',
    role: 'operator',
    path: withId('/v1/tenants/', '/reembed'),
  },
  {
    method: 'PATCH',
    template: '/v1/tenants/:id',
    role: 'operator',
    path: withId('/v1/tenants/'),
    body: tenantBody,
  },
  {
    method: 'POST',
    template: '/v1/documents',
    role: 'admin',
    path: fixed('/v1/documents'),
    body: documentBody,
  },
  {
    method: 'POST',
    template: '/v1/documents/batch',
    role: 'admin',
    path: fixed('/v1/documents/batch'),
    body: batchBody,
  },
  {
    method: 'POST',
    template: '/v1/retrieve',
    role: 'user',
    path: fixed('/v1/retrieve'),
    body: retrieveBody,
  },
  {
    method: 'POST',
    template: '/v1/tenants',
    role: 'operator',
    path: fixed('/v1/tenants'),
    body: tenantBody,
  },
  {
    method: 'POST',
    template: '/v1/chat/completions',
    role: 'user',
    path: fixed('/v1/chat/completions'),
    body: chatBody,
  },
  // Routes and methods that do not exist.
  {
    method: 'PUT',
    template: '/v1/documents/:id',
    role: 'admin',
    path: withId('/v1/documents/'),
    body: documentBody,
  },
  {
    method: 'GET',
    template: '/v1/:unknown',
    role: 'user',
    path: (t) => pathSegment([t.controlTenant, '..', 'admin']).map((s) => `/v1/${s}`),
  },
  { method: 'OPTIONS', template: '/v1/retrieve', role: 'user', path: fixed('/v1/retrieve') },
  { method: 'HEAD', template: '/v1/documents', role: 'user', path: fixed('/v1/documents') },
];

/** The routes a run covers (chat only where the gateway serves it). */
export function fuzzRoutes(t: FuzzTargets): readonly RouteShape[] {
  return ROUTE_SHAPES.filter((r) => t.chat || r.template !== '/v1/chat/completions');
}

/** A generated request against any route of the API. */
export function fuzzRequest(t: FuzzTargets): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...fuzzRoutes(t)).chain((shape) =>
    fc
      .record({
        path: shape.path(t),
        credential: fc.oneof(
          { weight: 6, arbitrary: fc.constant(shape.role) },
          {
            weight: 2,
            arbitrary: fc.constantFrom<Credential>('admin', 'user', 'auditor', 'operator'),
          },
          { weight: 2, arbitrary: fc.constantFrom(...CREDENTIALS) },
        ),
        headers: fc.oneof(
          { weight: 4, arbitrary: fc.constant({}) },
          { weight: 1, arbitrary: extraHeaders(t) },
        ),
        body: shape.body ? rawBody(shape.body(t)) : fc.constant(undefined),
      })
      .map(({ path, credential, headers, body }) => ({
        route: `${shape.method} ${shape.template}`,
        method: shape.method,
        path,
        credential,
        headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
        ...(body !== undefined ? { body } : {}),
      })),
  );
}
