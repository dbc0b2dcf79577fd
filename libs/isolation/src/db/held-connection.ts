import type pg from 'pg';
import { transactionOn, type SessionSettings, type SqlSession } from './sql-session.js';

const TRY_LOCK = 'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked';
const UNLOCK = 'SELECT pg_advisory_unlock(hashtextextended($1, 0))';

/**
 * One connection of a pool, held across several transactions so that a session-level advisory
 * lock taken on it covers all of them. Everything the lock holder does in PostgreSQL runs on
 * this connection: a holder that waited for a second connection of the same pool could starve
 * it, with the connections it needs held by callers waiting for its lock.
 */
export class HeldConnection {
  #failure: Error | undefined;

  readonly #onError = (error: Error) => {
    this.#failure ??= error;
  };

  private constructor(private readonly client: pg.PoolClient) {
    // An idle held client whose server goes away emits 'error'; without a listener the process
    // would end. The next statement on it fails, and the client is destroyed on release.
    client.on('error', this.#onError);
  }

  /** Checks out a connection of `pool`; release it with `release`. */
  static async open(pool: pg.Pool): Promise<HeldConnection> {
    return new HeldConnection(await pool.connect());
  }

  /** Takes the advisory lock named `name` without waiting; false when another session holds it. */
  async tryLock(name: string): Promise<boolean> {
    const result = await this.#tracked(() =>
      this.client.query<{ locked: boolean }>(TRY_LOCK, [name]),
    );
    return result.rows[0]?.locked === true;
  }

  /**
   * Gives the lock up. Never fails: if the statement does, the connection is destroyed on
   * release, and PostgreSQL drops the session's locks with it.
   */
  async unlock(name: string): Promise<void> {
    await this.#tracked(() => this.client.query(UNLOCK, [name])).catch(() => undefined);
  }

  /** Runs `fn` in one transaction with `settings` on this connection. */
  async transaction<T>(
    settings: SessionSettings,
    fn: (session: SqlSession) => Promise<T>,
  ): Promise<T> {
    return this.#tracked(() => transactionOn(this.client, settings, fn));
  }

  /** Returns the connection to its pool, or destroys it when anything on it failed. */
  release(): void {
    this.client.off('error', this.#onError);
    this.client.release(this.#failure);
  }

  async #tracked<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.#failure ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    }
  }
}
