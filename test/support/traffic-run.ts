import type pg from 'pg';
import {
  sendKind,
  type GatewayClient,
  type Outcome,
  type TenantFixture,
  type TrafficKind,
} from './traffic.js';

/**
 * Closed-loop traffic that runs until stopped: `workers` loops, each sending one request at a
 * time, tenants and kinds taken in turn. Every outcome is kept, for the checks afterwards.
 */
export class SteadyLoad {
  readonly outcomes: Outcome[] = [];
  #running = true;
  #n = 0;
  readonly #loops: Promise<void>[];

  constructor(
    private readonly client: GatewayClient,
    private readonly tenants: readonly TenantFixture[],
    private readonly kinds: readonly TrafficKind[],
    workers = 4,
  ) {
    this.#loops = Array.from({ length: workers }, () => this.loop());
  }

  /** Outcomes since `since` (a `performance.now()` instant). */
  after(since: number): Outcome[] {
    return this.outcomes.filter((o) => o.startedAt >= since);
  }

  /** Waits until a request of `kind` started after `since` answered 2xx; that outcome. */
  async firstSuccess(
    kind: TrafficKind,
    since: number,
    capMs = 30_000,
  ): Promise<Outcome | undefined> {
    const deadline = performance.now() + capMs;
    while (performance.now() < deadline) {
      const done = this.after(since).find(
        (o) => o.kind === kind && o.status >= 200 && o.status < 300,
      );
      if (done !== undefined) return done;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return undefined;
  }

  async stop(): Promise<Outcome[]> {
    this.#running = false;
    await Promise.all(this.#loops);
    return this.outcomes;
  }

  private async loop(): Promise<void> {
    while (this.#running) {
      const n = this.#n++;
      const tenant = this.tenants[n % this.tenants.length] as TenantFixture;
      const kind = this.kinds[
        Math.floor(n / this.tenants.length) % this.kinds.length
      ] as TrafficKind;
      this.outcomes.push(await sendKind(this.client, kind, tenant, this.tenants, n));
    }
  }
}

/**
 * What is wrong with the audit trail of `outcomes`: a 2xx without an `x-audit-event-id`, an id
 * in no audit table, a 2xx whose event is not in its caller's chain, or an event of another
 * request. An error may be recorded in the platform stream (a 503 raised before the caller's
 * tenant was confirmed). Read as a superuser (`pool`), so row-level security hides nothing.
 */
export async function auditProblems(
  pool: pg.Pool,
  outcomes: readonly Outcome[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const o of outcomes) {
    if (is2xx(o) && o.auditId === null) problems.push(`${describe(o)}: no x-audit-event-id`);
  }
  const withId = outcomes.filter((o) => o.auditId !== null);
  const rows = new Map<string, { chain: string; request_id: string }>();
  for (let i = 0; i < withId.length; i += 5_000) {
    const result = await pool.query<{ id: string; chain: string; request_id: string }>(
      `SELECT id::text AS id, tenant_id AS chain, request_id FROM audit_events WHERE id = ANY($1::uuid[])
       UNION ALL
       SELECT id::text, 'scope:' || scope, request_id FROM audit_control_events WHERE id = ANY($1::uuid[])`,
      [withId.slice(i, i + 5_000).map((o) => o.auditId)],
    );
    for (const row of result.rows) rows.set(row.id, row);
  }
  for (const o of withId) {
    const row = rows.get(o.auditId as string);
    if (row === undefined) problems.push(`${describe(o)}: event missing`);
    else if (row.request_id !== o.requestId)
      problems.push(`${describe(o)}: event of ${row.request_id}`);
    else if (row.chain !== o.tenantId && (is2xx(o) || !row.chain.startsWith('scope:'))) {
      problems.push(`${describe(o)}: event in chain ${row.chain}`);
    }
  }
  return problems;
}

const is2xx = (o: Outcome) => o.status >= 200 && o.status < 300;
const describe = (o: Outcome) => `${o.kind} ${o.status} ${o.requestId}`;

/** Counts of outcomes by `kind status`, for a readable failure message or a bench report. */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = `${o.kind} ${o.status}${o.code ? ` ${o.code}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
