import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'undici';

/** Signs a token with the given claims (a test identity provider's, or a bench's signer). */
export type Signer = (claims: Record<string, unknown>) => Promise<string>;

/** The kinds of request the mixed traffic is made of. */
export const TRAFFIC_KINDS = ['retrieve', 'list', 'get', 'ingest', 'audit', 'chat'] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];

/** A tenant seeded with documents that all carry its own canary word. */
export interface TenantFixture {
  readonly id: string;
  /** A word found in every document of this tenant and in no other tenant's. */
  readonly canary: string;
  readonly subject: string;
  /** Document ids; the same ids exist in every fixture tenant, with different contents. */
  readonly docIds: readonly string[];
  readonly tokens: { readonly admin: string; readonly user: string; readonly auditor: string };
}

/** What one request of the traffic came back with (never the body: bench runs keep millions). */
export interface Outcome {
  readonly tenantId: string;
  readonly kind: TrafficKind;
  readonly status: number;
  readonly requestId: string;
  readonly auditId: string | null;
  /** The error code of a 4xx/5xx, or null. */
  readonly code: string | null;
  /** A 2xx whose body holds what the caller's own tenant should see. */
  readonly own: boolean;
  /** The body named another tenant's canary. */
  readonly leak: boolean;
  /** The error message named a store or a driver (it must not). */
  readonly internals: boolean;
  readonly startedAt: number;
  readonly ms: number;
}

/** Words every fixture document shares, so a search that crossed tenants would find others'. */
export const SHARED_TEXT =
  'Aortic valve stenosis narrows the outflow of the left ventricle; transcatheter valve replacement relieves it.';

/** Store and driver names an error message must never show a caller. */
const INTERNALS = /postgres|pg_|redis|falkor|qdrant|valkey|ECONN|ETIMEDOUT|EPIPE|socket|stack/i;

/** Creates a tenant (as `operator`) with `docs` documents carrying its canary. */
export async function createTenantFixture(
  client: GatewayClient,
  operator: string,
  sign: Signer,
  options: { prefix?: string; docs?: number } = {},
): Promise<TenantFixture> {
  const id = `${options.prefix ?? 'trf'}-${randomUUID().slice(0, 8)}`;
  const created = await client.send(operator, 'POST', '/v1/tenants', { id, name: id, pii: 'off' });
  if (created.status !== 201) throw new Error(`tenant ${id} not created: ${created.status}`);
  const canary = `cnry${randomBytes(5).toString('hex')}`;
  const subject = `sub-${id}`;
  const token = (role: string) => sign({ tenant_id: id, roles: [role], sub: subject });
  const tokens = {
    admin: await token('admin'),
    user: await token('user'),
    auditor: await token('auditor'),
  };
  const docIds = Array.from({ length: options.docs ?? 4 }, (_, i) => `doc-${i}`);
  for (const docId of docIds) {
    const put = await client.send(tokens.admin, 'POST', '/v1/documents', documentOf(docId, canary));
    if (put.status !== 201) throw new Error(`seed document not stored: ${put.status}`);
  }
  return { id, canary, subject, docIds, tokens };
}

/** A document of a fixture tenant: its canary in title, text and metadata. */
export function documentOf(id: string, canary: string): Record<string, unknown> {
  return {
    id,
    title: `${canary} note ${id}`,
    text: `${SHARED_TEXT} Case ${id} of ${canary}: the patient recovered.`,
    metadata: { owner: canary },
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A kept-alive HTTP client for one gateway (undici pool: cheap enough for load runs). */
export class GatewayClient {
  readonly #pool: Pool;

  constructor(
    readonly url: string,
    connections = 64,
  ) {
    this.#pool = new Pool(url, { connections, pipelining: 1 });
  }

  async send(
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const response = await this.#pool.request({
      method,
      path,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      text: await response.body.text(),
    };
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** The request of `kind` for `tenant`; `n` makes written document ids unique. */
function requestOf(kind: TrafficKind, t: TenantFixture, n: number) {
  const doc = t.docIds[n % t.docIds.length] ?? 'doc-0';
  switch (kind) {
    case 'retrieve':
      return {
        token: t.tokens.user,
        method: 'POST',
        path: '/v1/retrieve',
        body: { query: `${t.canary} aortic valve`, top_k: 5 },
      };
    case 'list':
      return { token: t.tokens.user, method: 'GET', path: '/v1/documents?limit=20' };
    case 'get':
      return { token: t.tokens.user, method: 'GET', path: `/v1/documents/${doc}` };
    case 'ingest':
      return {
        token: t.tokens.admin,
        method: 'POST',
        path: '/v1/documents',
        body: documentOf(`w-${n}`, t.canary),
      };
    case 'audit':
      return { token: t.tokens.auditor, method: 'GET', path: '/v1/audit/events?limit=20' };
    case 'chat':
      return {
        token: t.tokens.user,
        method: 'POST',
        path: '/v1/chat/completions',
        body: {
          model: 'test-chat',
          messages: [
            {
              role: 'user',
              content: `What do the notes of ${t.canary} say about the aortic valve?`,
            },
          ],
        },
      };
  }
}

/** Whether a 2xx body of `kind` shows the caller's own tenant's data, and only it. */
function ownAnswer(kind: TrafficKind, t: TenantFixture, text: string): boolean {
  const body = JSON.parse(text) as Record<string, unknown>;
  const has = (value: unknown) => JSON.stringify(value).includes(t.canary);
  switch (kind) {
    case 'retrieve': {
      const results = body.results as { text: string }[];
      return results.length > 0 && results.every((r) => r.text.includes(t.canary));
    }
    case 'list':
      return (body.data as { title: string }[]).every((d) => d.title.includes(t.canary));
    case 'get':
    case 'ingest':
      return has(body.title);
    case 'audit':
      return (body.data as { tenant_id: string }[]).every((e) => e.tenant_id === t.id);
    case 'chat':
      return has(body.choices);
  }
}

/** Sends one request of `kind` as `tenant` and judges its answer against `all` tenants. */
export async function sendKind(
  client: GatewayClient,
  kind: TrafficKind,
  tenant: TenantFixture,
  all: readonly TenantFixture[],
  n: number,
): Promise<Outcome> {
  const spec = requestOf(kind, tenant, n);
  const requestId = `trf-${randomUUID()}`;
  const startedAt = performance.now();
  let reply: Reply;
  try {
    reply = await client.send(spec.token, spec.method, spec.path, spec.body, {
      'x-request-id': requestId,
    });
  } catch {
    reply = { status: 0, headers: {}, text: '' };
  }
  const ms = performance.now() - startedAt;
  const ok = reply.status >= 200 && reply.status < 300;
  const error = ok || reply.status === 0 ? undefined : errorOf(reply.text);
  const header = reply.headers['x-audit-event-id'];
  return {
    tenantId: tenant.id,
    kind,
    status: reply.status,
    requestId,
    auditId: typeof header === 'string' ? header : null,
    code: error?.code ?? null,
    own: ok && ownAnswer(kind, tenant, reply.text),
    leak: all.some((other) => other.id !== tenant.id && reply.text.includes(other.canary)),
    internals: error !== undefined && INTERNALS.test(error.message),
    startedAt,
    ms,
  };
}

function errorOf(text: string): { code: string; message: string } {
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    return { code: String(error.code), message: String(error.message) };
  } catch {
    return { code: 'not_error_shape', message: text.slice(0, 200) };
  }
}
