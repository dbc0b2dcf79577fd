/**
 * Runs one SQL statement on its own (its own transaction, committed when it returns) and
 * answers its rows. The audit trail's append is one such statement: one round trip per write.
 * The gateway passes its pool's `query`; a statement sets any tenant it needs itself.
 */
export type AuditStatement = <Row extends object = Record<string, unknown>>(
  text: string,
  values?: readonly unknown[],
) => Promise<Row[]>;
