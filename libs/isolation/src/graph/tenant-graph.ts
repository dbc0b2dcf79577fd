import { LRUCache } from 'lru-cache';
import { TenantContext } from '../context/tenant-context.js';
import { IsogateError, StoreUnavailableError } from '../errors/isogate-error.js';
import type { MasterKey } from '../keys/master-key.js';
import { tenantNames } from '../provisioning/store-names.js';
import {
  DEFAULT_MAX_TENANTS,
  TenantConnections,
  isAuthFailure,
  isServerReply,
} from '../connections/tenant-connections.js';
import {
  closeTenantGraph,
  openTenantGraph,
  type TenantGraphConnection,
} from './falkor-connection.js';
import { checkParams, type CypherParams } from './cypher-params.js';

export type { CypherParams, CypherValue } from './cypher-params.js';

/** One row of a Cypher result, by column name. */
export type GraphRow = Record<string, unknown>;

/** How the tenant graph reaches FalkorDB. */
export interface TenantGraphOptions {
  /** The graph server; the credentials used are the tenant's, derived from `masterKey`. */
  readonly url: string;
  readonly masterKey: MasterKey;
  /** Re-creates a tenant's ACL user that the server lost (the provisioner's `ensureGraphUser`). */
  readonly recreateUser: (tenantId: string) => Promise<void>;
  /** Tenants that keep an open connection (default 256); the least recently used is closed. */
  readonly maxTenants?: number;
}

/**
 * The current tenant's knowledge graph (`t:<tenant>:graph`), reached as the tenant's own ACL
 * user, which the server confines to `t:<tenant>:*`. The graph is looked up from the context on
 * every call: no shared object remembers a "current graph" that a later call for another
 * tenant could inherit.
 */
export class TenantGraph {
  readonly #connections: TenantConnections<TenantGraphConnection>;
  /** Tenants whose indexes this process has made sure of. */
  readonly #indexed = new LRUCache<string, true>({ max: 4_096 });

  constructor(options: TenantGraphOptions) {
    this.#connections = new TenantConnections<TenantGraphConnection>({
      maxTenants: options.maxTenants ?? DEFAULT_MAX_TENANTS,
      open: (tenantId) => {
        const names = tenantNames(tenantId);
        const password = options.masterKey.storeSecret('falkordb', tenantId);
        return openTenantGraph(options.url, names.aclUser, password, names.graphKey);
      },
      close: closeTenantGraph,
      recreateUser: options.recreateUser,
    });
  }

  /** Runs a read-write Cypher query; every value goes in `params`, never into the text. */
  async query(cypher: string, params: CypherParams = {}): Promise<GraphRow[]> {
    checkParams(params);
    return this.run((graph) => graph.query<GraphRow>(cypher, { params }));
  }

  /** Runs a read-only Cypher query (the server refuses writes in it). */
  async roQuery(cypher: string, params: CypherParams = {}): Promise<GraphRow[]> {
    checkParams(params);
    return this.run((graph) => graph.roQuery<GraphRow>(cypher, { params }));
  }

  /**
   * Creates indexes in the tenant's graph (`CREATE INDEX FOR ...` statements), once per process
   * and tenant; an index that exists already is fine.
   */
  async ensureIndexes(statements: readonly string[]): Promise<void> {
    const tenantId = TenantContext.requireTenantId();
    if (this.#indexed.has(tenantId)) return;
    for (const statement of statements) {
      await this.run((graph) =>
        graph.query<GraphRow>(statement).catch((error: unknown) => {
          if (/already indexed/i.test((error as Error).message)) return {};
          throw error;
        }),
      );
    }
    this.#indexed.set(tenantId, true);
  }

  /** Closes every tenant connection. */
  close(): void {
    this.#connections.clear();
  }

  private async run(
    work: (graph: TenantGraphConnection['graph']) => Promise<{ data?: GraphRow[] }>,
  ): Promise<GraphRow[]> {
    const tenantId = TenantContext.requireTenantId();
    try {
      const reply = await this.#connections.run(tenantId, ({ graph }) => work(graph));
      return reply.data ?? [];
    } catch (error) {
      if (error instanceof IsogateError) throw error;
      if (isServerReply(error) && !isAuthFailure(error)) {
        // A read of a graph nothing was written to yet: FalkorDB has no key, so no rows.
        if (/empty key/i.test((error as Error).message)) return [];
        // Syntax, types, NOPERM: the gateway's query is wrong; the store's text stays here.
        throw new IsogateError('internal_error', 'The graph query failed');
      }
      throw new StoreUnavailableError('falkordb', { cause: error });
    }
  }
}
