import { FalkorDB } from '../graph/falkor-errors.js';
import { withTimeout, type StoreProbe } from './store-probe.js';

/** Opens a FalkorDB client; the caller owns it and must close it. */
export async function connectFalkor(
  url: string,
  credentials: { username?: string; password?: string } = {},
): Promise<FalkorDB> {
  const parsed = new URL(url);
  const db = await withTimeout(
    FalkorDB.connect({
      socket: { host: parsed.hostname, port: Number(parsed.port || 6379), connectTimeout: 2_000 },
      ...credentials,
    }),
    3_000,
    'falkordb connect',
  );
  db.on('error', () => undefined);
  return db;
}

/**
 * The admin connection to the graph store: provisioning and health checks only. Connected
 * lazily and re-opened after a failure, so the gateway starts and recovers without the store.
 */
export class FalkorAdmin implements StoreProbe {
  readonly store = 'falkordb' as const;
  #db: Promise<FalkorDB> | undefined;

  constructor(private readonly url: string) {}

  async client(): Promise<FalkorDB> {
    this.#db ??= connectFalkor(this.url).catch((error: unknown) => {
      this.#db = undefined;
      throw error;
    });
    return this.#db;
  }

  async ping(): Promise<void> {
    try {
      const db = await this.client();
      const connection = await db.connection;
      await withTimeout(connection.ping(), 2_000, 'falkordb ping');
    } catch (error) {
      await this.reset();
      throw error;
    }
  }

  private async reset(): Promise<void> {
    const pending = this.#db;
    this.#db = undefined;
    if (pending === undefined) return;
    await pending.then((db) => db.close()).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.reset();
  }
}
