import { Client, Pool, type Dispatcher } from 'undici';
import type { Credential, FuzzRequest } from './fuzz-requests.js';
import type { Signer } from './traffic.js';

/** The Authorization header of each credential label (undefined: none sent). */
export type Credentials = Readonly<Record<Credential, string | undefined>>;

/** What one generated request came back with. */
export interface FuzzResult {
  readonly request: FuzzRequest;
  /** HTTP status; 0 when the connection failed before an answer. */
  readonly status: number;
  /** Why the answer breaks the contract (a 5xx, a 4xx not in the error shape ...), if it does. */
  readonly problem: string | undefined;
  /** The parsed JSON body of a 2xx, for the invariant checks (writes and deletes). */
  readonly json: unknown;
  /** The answer carried an `x-audit-event-id`. */
  readonly audited: boolean;
  /** The first attempt got no answer, the same request on a fresh connection did. */
  readonly retried: boolean;
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The credentials a fuzz run sends: the fuzzed tenant's own roles and an operator of another
 * MSP (valid), and every kind of bad token. None is valid for the control tenant: tokens that
 * name it are unsigned, signed by a stranger, or carry no role that reaches it.
 */
export async function fuzzCredentials(options: {
  sign: Signer;
  strangerSign: Signer;
  fuzzedTenant: string;
  controlTenant: string;
  operatorMsp: string;
}): Promise<Credentials> {
  const { sign, fuzzedTenant, controlTenant } = options;
  const bearer = (token: string) => `Bearer ${token}`;
  const role = async (r: string) =>
    bearer(await sign({ tenant_id: fuzzedTenant, roles: [r], sub: 'fuzzer' }));
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ tenant_id: controlTenant, roles: ['admin'], sub: 'x', exp: 4e9 })}.`;
  return {
    admin: await role('admin'),
    user: await role('user'),
    auditor: await role('auditor'),
    operator: bearer(
      await sign({ msp_id: options.operatorMsp, roles: ['operator'], sub: 'fuzz-operator' }),
    ),
    none: undefined,
    garbage: 'Bearer not.a.jwt',
    stranger: bearer(
      await options.strangerSign({ tenant_id: controlTenant, roles: ['admin', 'auditor'] }),
    ),
    'alg-none': bearer(unsigned),
    expired: bearer(
      await sign({
        tenant_id: fuzzedTenant,
        roles: ['admin'],
        exp: Math.floor(Date.now() / 1000) - 3_600,
      }),
    ),
    'hostile-claims': bearer(
      await sign({
        tenant_id: `${controlTenant}\u0000`,
        roles: ['admin', 'auditor', 'superuser'],
        sub: '\u202e',
      }),
    ),
    // Unsigned: refused, but its claims are still read for the platform stream's record.
    'surrogate-claims': bearer(
      `${b64({ alg: 'ES256' })}.${b64({ sub: '\ud800', tenant_id: 'x\udc00y' })}.c2ln`,
    ),
    oversized: `Bearer ${'e'.repeat(40_000)}`,
    'wrong-scheme': `Basic ${Buffer.from('admin:admin').toString('base64')}`,
  };
}

/** Whether the request is big enough that the server may close the connection on it. */
function oversized(request: FuzzRequest): boolean {
  const headerBytes = Object.values(request.headers).reduce((n, v) => n + v.length, 0);
  const bodyBytes =
    typeof request.body === 'string' ? request.body.length : (request.body?.length ?? 0);
  return request.credential === 'oversized' || headerBytes > 16_000 || bodyBytes > 1_000_000;
}

/** Why an answer breaks the API's contract for bad input, or undefined when it keeps it. */
export function problemOf(request: FuzzRequest, status: number, text: string): string | undefined {
  if (status === 0) return oversized(request) ? undefined : `no answer (${text})`;
  if (status >= 500) return `answered ${status}: ${text.slice(0, 200)}`;
  if (status < 400 || request.method === 'HEAD') return undefined;
  try {
    const { error } = JSON.parse(text) as { error?: Record<string, unknown> };
    const fields = ['type', 'code', 'message'].map((k) => typeof error?.[k]);
    if (fields.every((f) => f === 'string')) return undefined;
  } catch {
    // not JSON: reported below
  }
  return `${status} not in the error shape: ${text.slice(0, 200)}`;
}

/** Sends generated requests to one gateway and judges each answer. */
export class FuzzClient {
  readonly #pool: Pool;

  constructor(
    private readonly url: string,
    private readonly credentials: Credentials,
  ) {
    this.#pool = new Pool(url, { connections: 16, pipelining: 1 });
  }

  async send(request: FuzzRequest): Promise<FuzzResult> {
    let answer = await this.once(this.#pool, request);
    let retried = false;
    if (answer.status === 0 && problemOf(request, 0, '') !== undefined) {
      // Once more on a fresh connection: a kept-alive connection that the server was closing
      // as it was reused is a race of the connection, not this request's fault; a request
      // that gets no answer on a fresh connection either is.
      const fresh = new Client(this.url);
      const again = await this.once(fresh, request);
      await fresh.close();
      retried = again.status !== 0;
      answer = retried ? again : { ...again, text: `${answer.text}; again: ${again.text}` };
    }
    const { status, text, audited } = answer;
    let json: unknown;
    if (status >= 200 && status < 300) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { request, status, problem: problemOf(request, status, text), json, audited, retried };
  }

  private async once(dispatcher: Dispatcher, request: FuzzRequest) {
    const authorization = this.credentials[request.credential];
    try {
      const response = await dispatcher.request({
        method: request.method,
        path: request.path,
        headers: { ...request.headers, ...(authorization !== undefined ? { authorization } : {}) },
        ...(request.body !== undefined ? { body: request.body } : {}),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      const audited = typeof response.headers['x-audit-event-id'] === 'string';
      return { status: response.statusCode, text: await response.body.text(), audited };
    } catch (error) {
      // No answer: the connection failed or was closed by the server (judged by the caller).
      const { code, message } = error as { code?: string; message?: string };
      return { status: 0, text: `${code ?? 'error'}: ${message ?? ''}`, audited: false };
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** A short, printable account of a request (bodies and headers can be megabytes). */
export function describeRequest(request: FuzzRequest): string {
  const cut = (text: string, n: number) =>
    text.length > n ? `${text.slice(0, n)}…(${text.length})` : text;
  const body =
    request.body === undefined
      ? ''
      : typeof request.body === 'string'
        ? ` body ${JSON.stringify(cut(request.body, 120))}`
        : ` body bytes [${[...request.body.slice(0, 16)].join(',')}]`;
  const headers = Object.entries(request.headers)
    .map(([name, value]) => `${name}: ${JSON.stringify(cut(value, 40))}`)
    .join(', ');
  return `${request.method} ${cut(request.path, 120)} as ${request.credential}${headers ? ` {${headers}}` : ''}${body}`;
}

/** Each kind of problem once (status and the start of the answer), with its routes and an example. */
export function distinctProblems(results: readonly FuzzResult[]): string[] {
  const seen = new Map<string, { count: number; routes: Set<string>; example: string }>();
  for (const result of results) {
    if (result.problem === undefined) continue;
    const key = result.problem.slice(0, 70);
    const entry = seen.get(key) ?? {
      count: 0,
      routes: new Set(),
      example: describeRequest(result.request),
    };
    entry.count += 1;
    entry.routes.add(result.request.route);
    seen.set(key, entry);
  }
  return [...seen.entries()].map(
    ([key, { count, routes, example }]) =>
      `${key}… x${count} on ${[...routes].sort().join(', ')}; e.g. ${example}`,
  );
}

/** Counts of results by route and status, sorted, for the report. */
export function countByRoute(
  results: readonly FuzzResult[],
): Record<string, Record<string, number>> {
  const table: Record<string, Record<string, number>> = {};
  for (const { request, status } of [...results].sort((a, b) =>
    a.request.route.localeCompare(b.request.route),
  )) {
    const row = (table[request.route] ??= {});
    row[String(status)] = (row[String(status)] ?? 0) + 1;
  }
  return table;
}
