import type { Exchange, GatewayClient } from './http.js';
import type { LocalHarness } from './local.js';
import type { Suite } from './suite.js';
import type { Tenant, World } from './world.js';

/** What every group of cases works with. */
export interface RunContext {
  readonly suite: Suite;
  readonly client: GatewayClient;
  readonly world: World;
  /** The in-process gateway, test LLM and store access; undefined against a remote deployment. */
  readonly local: LocalHarness | undefined;
  /** Unique per run: part of ids the run creates. */
  readonly runId: string;
  /** Whether the gateway has the chat route (it answers 404 `route_not_found` when not). */
  readonly hasChat: boolean;
}

/** An ordered pair of tenants: `attacker` reaches for `victim`'s data. */
export interface Crossing {
  readonly attacker: Tenant;
  readonly victim: Tenant;
  readonly boundary: string;
}

/** Every ordered pair of distinct tenants, labelled with the boundary between them. */
export function crossings(world: World): Crossing[] {
  return world.tenants.flatMap((attacker) =>
    world.tenants
      .filter((victim) => victim !== attacker)
      .map((victim) => ({
        attacker,
        victim,
        boundary: `${attacker.slot} → ${victim.slot} (${
          attacker.msp === victim.msp ? 'same MSP' : 'other MSP'
        })`,
      })),
  );
}

/** The boundary label of a case about one tenant and everyone else. */
export const againstAll = (tenant: Tenant) => `${tenant.slot} → all others`;

/** One passage of a retrieve answer. */
export interface Passage {
  readonly document_id: string;
  readonly chunk_index: number;
  readonly title: string;
  readonly text: string;
}

/** The passages of a retrieve answer (empty when the answer has none). */
export function passages(exchange: Exchange): Passage[] {
  const results = (exchange.json as { results?: unknown } | undefined)?.results;
  return Array.isArray(results) ? (results as Passage[]) : [];
}

/** The `data` array of a list answer. */
export function dataOf<T = Record<string, unknown>>(exchange: Exchange): T[] {
  const data = (exchange.json as { data?: unknown } | undefined)?.data;
  return Array.isArray(data) ? (data as T[]) : [];
}

/** The `next_cursor` of a list answer. */
export function nextCursor(exchange: Exchange): string | null {
  const cursor = (exchange.json as { next_cursor?: unknown } | undefined)?.next_cursor;
  return typeof cursor === 'string' ? cursor : null;
}

/** Request ids of every call made so far with one of `tenant`'s tokens. */
export function ownRequestIds(ctx: RunContext, tenant: Tenant): Set<string> {
  return ctx.client.requestIdsOf([tenant.user, tenant.admin, tenant.auditor]);
}
