import { Agent, request } from 'undici';

/** Statuses whose response may not have a body (the Fetch standard's "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** What the `openai` client calls: the subset of `fetch` it uses. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A `fetch` for the `openai` client over undici's `request` on a keep-alive agent of its own,
 * for requests whose body is a string or bytes (JSON). The answer is read whole and handed
 * back as a `Response`. Every call of the gateway to a model or an embeddings endpoint is of
 * this kind, and global `fetch` costs about twice the CPU per call (web streams on both sides)
 * and stalls on kept-alive connections for answers of a few KB (Nagle against delayed ACK, as
 * with Qdrant). Anything else (a stream or form body) goes to global `fetch` unchanged.
 */
export function bufferedFetch(): FetchLike {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });
  return async (input, init = {}) => {
    const body = init.body ?? undefined;
    if (input instanceof Request || (body !== undefined && !isPlainBody(body))) {
      return fetch(input, init);
    }
    const answer = await request(String(input), {
      dispatcher: agent,
      method: (init.method ?? 'GET').toUpperCase() as 'GET',
      headers: headerRecord(init.headers),
      ...(body !== undefined ? { body } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    const bytes = await answer.body.arrayBuffer();
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.append(name, value);
    }
    const status = answer.statusCode;
    return new Response(NULL_BODY_STATUS.has(status) ? null : bytes, { status, headers });
  };
}

function isPlainBody(body: NonNullable<RequestInit['body']>): body is string | Uint8Array {
  return typeof body === 'string' || body instanceof Uint8Array;
}

function headerRecord(headers: RequestInit['headers']): Record<string, string> {
  const record: Record<string, string> = {};
  if (headers === undefined) return record;
  for (const [name, value] of new Headers(headers)) record[name] = value;
  return record;
}
