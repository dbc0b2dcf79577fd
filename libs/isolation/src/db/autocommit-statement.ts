import { createHash } from 'node:crypto';
import { poolOf, type PoolPlane, type PostgresPools } from '../stores/postgres.pools.js';

/** One SQL statement in its own transaction, committed when it returns; answers its rows. */
export type AutocommitStatement = <Row extends object = Record<string, unknown>>(
  text: string,
  values?: readonly unknown[],
) => Promise<Row[]>;

/**
 * Autocommit statements on one pool, each as a named prepared statement: a connection parses
 * and plans a statement once, not on every call (the audit trail appends with one per event).
 */
export function autocommitStatement(
  pools: PostgresPools,
  plane: PoolPlane = 'gateway',
): AutocommitStatement {
  const pool = poolOf(pools, plane);
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined) {
      name = `isogate_stmt_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
      names.set(text, name);
    }
    return name;
  };
  return async <Row extends object>(text: string, values: readonly unknown[] = []) =>
    (await pool.query<Row>({ name: nameOf(text), text, values: [...values] })).rows;
}
