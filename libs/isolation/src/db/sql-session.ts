import type pg from 'pg';

/** Errors that mean PostgreSQL is not there (or not answering), as opposed to a failed statement. */
export function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(08|57P0[1-3]|57014|53300)/.test(code)) return true;
  // A property read, not `instanceof Error`: errors from another realm must count too.
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return false;
  return /ECONNREFUSED|ECONNRESET|timeout|Connection terminated|connect ETIMEDOUT|EPIPE/i.test(
    message,
  );
}

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
  return onClient(pool, (client) => transactionOn(client, settings, fn));
}

/**
 * Runs `fn` in one transaction with the given settings on a client the caller holds (see
 * `inTransaction`). A failed transaction is rolled back, so the client can be used again.
 */
export async function transactionOn<T>(
  client: pg.ClientBase,
  settings: SessionSettings,
  fn: (session: SqlSession) => Promise<T>,
): Promise<T> {
  await client.query(openStatement(client, settings));
  try {
    const result = await fn(sessionOf(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (!isConnectionFailure(error)) await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Runs one constant read (`sql` is a single SELECT written in the code, never built from
 * input, and takes no parameters) in its own transaction with the given settings, in one
 * round trip: BEGIN, the settings, the read and COMMIT travel as one simple query. For the
 * small per-request reads whose three round trips would otherwise cost more than the read.
 */
export async function readInTransaction<Row extends object>(
  pool: pg.Pool,
  settings: SessionSettings,
  sql: string,
): Promise<Row[]> {
  return onClient(pool, async (client) => {
    // BEGIN, the settings' SELECT, the read, COMMIT: one result each.
    const results = (await client.query(
      `${openStatement(client, settings)}; ${sql}; COMMIT`,
    )) as unknown as pg.QueryResult<Row>[];
    const read = results[2];
    if (results.length !== 4 || read === undefined) {
      throw new Error('readInTransaction takes exactly one statement');
    }
    return read.rows;
  });
}

/** Runs `work` on a client of the pool; a failure destroys the client (the server rolls back). */
async function onClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  // A checked-out client whose connection dies emits 'error'; with no listener that would end
  // the process. The failure surfaces in the query that is waiting, and the client is destroyed.
  const onError = (error: Error) => {
    failure = error;
  };
  client.on('error', onError);
  try {
    return await work(client);
  } catch (error) {
    // The client is destroyed below, and the server rolls back whatever it had open: a
    // ROLLBACK first would be one more round trip (or, on a hung connection, one more timeout).
    failure = failure ?? (error instanceof Error ? error : new Error(String(error)));
    throw error;
  } finally {
    client.off('error', onError);
    client.release(failure);
  }
}

function openStatement(client: pg.ClientBase, settings: SessionSettings): string {
  // Values are escaped by the driver and were validated against the id pattern before; the
  // simple-query protocol lets BEGIN and both settings travel in one round trip.
  const setting = (name: string, value: string | undefined) =>
    `set_config('${name}', ${client.escapeLiteral(value ?? '')}, true)`;
  return `BEGIN; SELECT ${setting('app.tenant_id', settings.tenantId)}, ${setting('app.msp_id', settings.mspId)}`;
}

function sessionOf(client: pg.ClientBase): SqlSession {
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
