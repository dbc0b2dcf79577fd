import { autocommitStatement, type AutocommitStatement } from '../db/autocommit-statement.js';
import { isConnectionFailure } from '../db/sql-session.js';
import { TenantDb } from '../db/tenant-db.js';
import { StoreUnavailableError } from '../errors/isogate-error.js';
import type { PoolPlane, PostgresPools } from '../stores/postgres.pools.js';
import { EVENT_COLUMNS, type AuditEventRow, type AuditOutcomeValue } from './audit-event-row.js';

/** Which events of the current tenant's chain to read. Times are ISO 8601; `to` is exclusive. */
export interface AuditEventQuery {
  readonly from?: string;
  readonly to?: string;
  readonly action?: string;
  readonly outcome?: AuditOutcomeValue;
  /** Only events after this seq (a cursor). */
  readonly afterSeq?: number;
  /** Only events up to this seq (pins an export to the chain as it was when it started). */
  readonly untilSeq?: number;
}

/** Where a chain ends: its last seq and that event's hash. */
export interface AuditChainHead {
  readonly seq: number;
  readonly hash: string;
}

/** A sealed event as `audit_append` inserts it; `scope` names the chain of an MSP or platform event. */
export interface AuditAppendEvent {
  readonly id: string;
  readonly seq: number;
  readonly ts: string;
  readonly tenant_id: string | null;
  readonly msp_id: string | null;
  readonly actor: string;
  readonly roles: readonly string[];
  readonly action: string;
  readonly resource: string | null;
  readonly outcome: AuditOutcomeValue;
  readonly status: number;
  readonly request_id: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly prev_hash: string;
  readonly hash: string;
  readonly scope?: string;
}

/** An interaction written with its event, in the same statement. */
export interface AuditAppendInteraction {
  readonly ts: string;
  readonly id: string;
  readonly tenant_id: string;
  readonly request_id: string;
  readonly kind: 'chat' | 'retrieve';
  readonly content_enc: Buffer;
  readonly content_sha256: string;
  readonly model: string | null;
  readonly tokens_in: number;
  readonly tokens_out: number;
}

/**
 * One chain's part of an append: `t` a tenant chain, `c` an MSP's or the platform stream. The
 * events are written only if the chain's head is still `expect_seq`/`expect_hash`; without
 * them (both null) nothing is written and the head is answered.
 */
export interface AuditAppendChain {
  readonly kind: 't' | 'c';
  readonly chain: string;
  readonly expect_seq: number | null;
  readonly expect_hash: string | null;
  readonly events?: readonly AuditAppendEvent[];
  readonly interactions?: readonly AuditAppendInteraction[];
}

/** What an append answered for one chain, in the order the chains were given. */
export type AuditAppendOutcome =
  | { readonly status: 'ok' }
  | { readonly status: 'stale'; readonly seq: number | string; readonly hash: string }
  | { readonly status: 'error'; readonly code: string; readonly message: string };

const APPEND = 'SELECT audit_append($1::jsonb) AS outcomes';

/**
 * The audit chains in PostgreSQL: appends (any chain, each through its own row-level policy)
 * and reads of the current tenant's chain. An append is one autocommit prepared statement, so
 * one round trip and one commit however many chains and events it carries.
 */
export class AuditEventsRepository {
  readonly #statement: AutocommitStatement;
  readonly #db: TenantDb;

  constructor(pools: PostgresPools, plane: PoolPlane = 'gateway') {
    this.#statement = autocommitStatement(pools, plane);
    this.#db = new TenantDb(pools, plane);
  }

  /** Appends `chains` in one statement; answers one outcome per chain. */
  async appendChains(chains: readonly AuditAppendChain[]): Promise<AuditAppendOutcome[]> {
    try {
      const [row] = await this.#statement<{ outcomes: AuditAppendOutcome[] }>(APPEND, [
        JSON.stringify(chains.map(storedForm)),
      ]);
      return row?.outcomes ?? [];
    } catch (error) {
      throw isConnectionFailure(error)
        ? new StoreUnavailableError('postgres', { cause: error, operation: 'append audit events' })
        : error;
    }
  }

  /** One round trip on the connections the appends use: throws when they cannot be made. */
  async ping(): Promise<void> {
    await this.#statement('SELECT 1');
  }

  /** Up to `limit` events of the current tenant's chain matching `query`, in seq order. */
  async page(query: AuditEventQuery, limit: number): Promise<AuditEventRow[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      values.push(value);
      where.push(clause.replace('?', `$${values.length}`));
    };
    if (query.from !== undefined) add('ts >= ?::timestamptz', query.from);
    if (query.to !== undefined) add('ts < ?::timestamptz', query.to);
    if (query.action !== undefined) add('action = ?', query.action);
    if (query.outcome !== undefined) add('outcome = ?', query.outcome);
    if (query.afterSeq !== undefined) add('seq > ?', query.afterSeq);
    if (query.untilSeq !== undefined) add('seq <= ?', query.untilSeq);
    values.push(limit);
    return this.#db.transaction((s) =>
      s.query<AuditEventRow>(
        `SELECT ${EVENT_COLUMNS} FROM audit_events
          ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY seq LIMIT $${values.length}`,
        values,
      ),
    );
  }

  /** Where the current tenant's chain ends, as its head row says (moved only by the insert trigger). */
  async head(): Promise<AuditChainHead | undefined> {
    const [row] = await this.#db.transaction((s) =>
      s.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_heads'),
    );
    return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
  }
}

/** bytea travels in jsonb as PostgreSQL's hex text form (`\x…`), which `audit_append` casts. */
function storedForm(chain: AuditAppendChain): object {
  if (chain.interactions === undefined || chain.interactions.length === 0) return chain;
  return {
    ...chain,
    interactions: chain.interactions.map((i) => ({
      ...i,
      content_enc: `\\x${i.content_enc.toString('hex')}`,
    })),
  };
}
