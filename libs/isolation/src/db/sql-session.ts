import type pg from 'pg';

/** What a transaction body may do: run parameterized SQL and read rows. */
export interface SqlSession {
  query<Row extends object = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<Row[]>;
  /** Like `query`, and also the number of rows the statement touched. */
  execute(text: string, values?: readonly unknown[]): Promise<number>;
}

/** Settings a transaction opens with; each becomes a transaction-local `set_config`. */
export interface SessionSettings {
  readonly tenantId?: string;
  readonly mspId?: string;
}

/**
 * Runs `fn` in one transaction with the given settings, as `set_config(..., true)` so they end
 * with the transaction. BEGIN and the settings go in one round trip. A connection on which
 * anything failed is destroyed rather than returned to the pool in an unknown state.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  settings: SessionSettings,
  fn: (session: SqlSession) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    await client.query(openStatement(client, settings));
    const result = await fn(sessionOf(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release(failure);
  }
}

function openStatement(client: pg.PoolClient, settings: SessionSettings): string {
  // Values are escaped by the driver and were validated against the id pattern before; the
  // simple-query protocol lets BEGIN and both settings travel in one round trip.
  const setting = (name: string, value: string | undefined) =>
    `set_config('${name}', ${client.escapeLiteral(value ?? '')}, true)`;
  return `BEGIN; SELECT ${setting('app.tenant_id', settings.tenantId)}, ${setting('app.msp_id', settings.mspId)}`;
}

function sessionOf(client: pg.PoolClient): SqlSession {
  return {
    async query<Row extends object>(text: string, values: readonly unknown[] = []) {
      const result = await client.query<Row>(text, values as unknown[]);
      return result.rows;
    },
    async execute(text: string, values: readonly unknown[] = []) {
      const result = await client.query(text, values as unknown[]);
      return result.rowCount ?? 0;
    },
  };
}
