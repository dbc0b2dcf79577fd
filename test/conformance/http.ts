import { findCanaries, type Canary } from './canaries.js';
import type { Principal, World } from './world.js';

/** One request of the run and its answer, kept for the final sweep over every response. */
export interface Exchange {
  readonly principal: Principal;
  readonly method: string;
  readonly path: string;
  /** The request id the gateway answered with (the one sent, unless something replaced it). */
  readonly requestId: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
  /** The parsed body, or undefined when it was not JSON. */
  readonly json: unknown;
  /** The LLM requests the gateway made while this call ran: [first, end) (local mode). */
  readonly llm: readonly [number, number] | undefined;
}

/** What a call sends besides method and path. */
export interface CallOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

const MAX_RETRIES = 5;

/**
 * Calls the gateway as one principal at a time, one request at a time (so the LLM requests
 * that arrive during a call are that call's), and records every answer.
 */
export class GatewayClient {
  readonly exchanges: Exchange[] = [];
  #seq = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly world: World,
    private readonly runId: string,
    /** How many requests the test LLM has received so far (local mode). */
    private readonly llmCount?: () => number,
  ) {}

  async call(
    principal: Principal,
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<Exchange> {
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body);
    this.refuseForeignInput(
      principal,
      `${path}\n${body ?? ''}\n${JSON.stringify(options.headers ?? {})}`,
    );
    const sentId = `cnf-${this.runId}-${++this.#seq}`;
    const headers: Record<string, string> = {
      'x-request-id': sentId,
      ...(principal.token !== undefined ? { authorization: `Bearer ${principal.token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    };
    const llmStart = this.llmCount?.();
    const response = await this.send(method, path, headers, body);
    const text = await response.text();
    const llmEnd = this.llmCount?.();
    const exchange: Exchange = {
      principal,
      method,
      path,
      requestId: response.headers.get('x-request-id') ?? sentId,
      status: response.status,
      headers: Object.fromEntries(response.headers),
      text,
      json: parseJson(text),
      llm: llmStart !== undefined && llmEnd !== undefined ? [llmStart, llmEnd] : undefined,
    };
    this.exchanges.push(exchange);
    return exchange;
  }

  /** Canaries and tokens in an answer's body or headers that its caller must never see. */
  leaksIn(exchange: Exchange): Canary[] {
    const headers = Object.entries(exchange.headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
    return findCanaries(
      `${headers}\n${exchange.text}`,
      this.world.forbiddenFor(exchange.principal),
    );
  }

  /** Request ids of every call made by `principals`. */
  requestIdsOf(principals: readonly Principal[]): Set<string> {
    return new Set(
      this.exchanges.filter((e) => principals.includes(e.principal)).map((e) => e.requestId),
    );
  }

  private async send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
      if (response.status !== 429 || attempt === MAX_RETRIES) return response;
      // A deployment's quotas may be tight: wait as told (bounded), then try again.
      await response.arrayBuffer();
      const seconds = Math.min(Number(response.headers.get('retry-after') ?? '1') || 1, 10);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
    }
  }

  /**
   * A request must never carry a canary its caller could not have seen: the run would then
   * find it in that caller's own audit trail and report a leak the gateway did not make.
   */
  private refuseForeignInput(principal: Principal, sent: string): void {
    const found = findCanaries(sent, this.world.forbiddenFor(principal));
    if (found.length > 0) {
      throw new Error(`conformance bug: ${principal.label} would send another tenant's canary`);
    }
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The `error.code` of an API error answer, or undefined. */
export function errorCode(exchange: Exchange): string | undefined {
  const error = (exchange.json as { error?: { code?: unknown } } | undefined)?.error;
  return typeof error?.code === 'string' ? error.code : undefined;
}

/** A field of a JSON answer's top-level object, typed by the caller. */
export function field<T>(exchange: Exchange, name: string): T | undefined {
  const json = exchange.json;
  if (typeof json !== 'object' || json === null) return undefined;
  return (json as Record<string, unknown>)[name] as T | undefined;
}
