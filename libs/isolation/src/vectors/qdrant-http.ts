import { Pool } from 'undici';
import { WaitClock } from '../context/wait-clock.js';
import { IsogateError, StoreUnavailableError } from '../errors/isogate-error.js';

/** Socket failures after which a request may be sent again (see `QdrantHttp.call`). */
const RETRYABLE = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * Qdrant's REST API over undici's own keep-alive pool. Not global fetch (nor the official client,
 * which uses it): on a kept-alive connection fetch stalls about 40 ms on answers of a few KB
 * (Nagle against delayed ACK), while undici.request answers in about a millisecond.
 */
export class QdrantHttp {
  readonly #pool: Pool;

  constructor(url: string, connections: number) {
    this.#pool = new Pool(new URL(url).origin, { connections, pipelining: 1 });
  }

  /**
   * Sends one request with `token` and returns Qdrant's `result`. Every request the data plane
   * makes is idempotent (reads, upserts by id, deletes by filter), so one that died with its
   * socket (a keep-alive connection the server had just closed) is sent once more.
   */
  async call(token: string, method: 'POST' | 'PUT', path: string, body: unknown): Promise<unknown> {
    const payload = JSON.stringify(body);
    return WaitClock.measure(() => this.send(token, method, path, payload));
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  private async send(
    token: string,
    method: 'POST' | 'PUT',
    path: string,
    payload: string,
  ): Promise<unknown> {
    try {
      return await this.once(token, method, path, payload);
    } catch (error) {
      if (!RETRYABLE.has((error as { code?: string }).code ?? '')) throw this.unavailable(error);
      return this.once(token, method, path, payload).catch((again: unknown) => {
        throw this.unavailable(again);
      });
    }
  }

  private async once(
    token: string,
    method: 'POST' | 'PUT',
    path: string,
    payload: string,
  ): Promise<unknown> {
    const response = await this.#pool.request({
      method,
      path,
      headers: { 'api-key': token, 'content-type': 'application/json' },
      body: payload,
      headersTimeout: 5_000,
      bodyTimeout: 10_000,
    });
    const text = await response.body.text();
    const status = response.statusCode;
    if (status === 200) return (JSON.parse(text) as { result: unknown }).result;
    if (status === 429 || status >= 500) {
      // The status only: the body of a failed answer may quote what was sent.
      throw new StoreUnavailableError('qdrant', { cause: new Error(`Qdrant answered ${status}`) });
    }
    if (status === 400 || status === 422) {
      throw new IsogateError('invalid_request', 'The vector query is not valid');
    }
    // 401/403/404: the tenant's token or collection is not what provisioning made; a gateway or
    // provisioning fault, whose details stay here.
    throw new IsogateError('internal_error', 'The vector store refused the request');
  }

  /** The caller's view of a failure: coded errors pass, anything else is an outage. */
  private unavailable(error: unknown): IsogateError {
    return error instanceof IsogateError
      ? error
      : new StoreUnavailableError('qdrant', { cause: error });
  }
}
