import { Readable } from 'node:stream';
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
  return undiciFetch(new Agent({ keepAliveTimeout: 30_000, connections: 64 }), 'buffered');
}

/**
 * A `fetch` like {@link bufferedFetch} whose answer body is handed over as it arrives, for
 * streamed answers: it is read only as fast as the caller reads it, so a slow reader slows the
 * upstream (TCP backpressure) instead of the body piling up in memory.
 */
export function streamingFetch(): FetchLike {
  return undiciFetch(new Agent({ keepAliveTimeout: 30_000, connections: 1024 }), 'streamed');
}

function undiciFetch(agent: Agent, body: 'buffered' | 'streamed'): FetchLike {
  return async (input, init = {}) => {
    const sent = init.body ?? undefined;
    if (input instanceof Request || (sent !== undefined && !isPlainBody(sent))) {
      return fetch(input, init);
    }
    const answer = await request(String(input), {
      dispatcher: agent,
      method: (init.method ?? 'GET').toUpperCase() as 'GET',
      headers: headerRecord(init.headers),
      ...(sent !== undefined ? { body: sent } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    const status = answer.statusCode;
    const headers = headersOf(answer.headers);
    if (NULL_BODY_STATUS.has(status)) {
      await answer.body.dump();
      return new Response(null, { status, headers });
    }
    if (body === 'streamed') {
      return new Response(Readable.toWeb(answer.body) as ReadableStream<Uint8Array>, {
        status,
        headers,
      });
    }
    return new Response(await readAtMost(answer.body, MAX_BUFFERED_BYTES), { status, headers });
  };
}

/**
 * The most of a response read whole (32 MB: a long answer with logprobs of every token fits):
 * an endpoint that sends more is failing, and the gateway will not hold it in memory.
 */
export const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

/** The body's bytes; an error (the body destroyed) once it is longer than `limit`. */
async function readAtMost(body: Readable, limit: number): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const part of body as AsyncIterable<Buffer>) {
    length += part.length;
    if (length > limit) {
      body.destroy();
      throw new Error(`the response is longer than ${limit} bytes`);
    }
    parts.push(part);
  }
  return Buffer.concat(parts, length);
}

function headersOf(record: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(record)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
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
