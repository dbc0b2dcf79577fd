import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors/isogate-error.js';
import type { MasterKey } from '../keys/master-key.js';
import type { PurgeCounts, StoreProvisioning, VectorSpace } from '../lifecycle/tenant-record.js';
import type { FalkorAdmin } from '../stores/falkordb.admin.js';
import type { QdrantAdmin } from '../stores/qdrant.admin.js';
import { connectRedis, ready, type RedisAdmin } from '../stores/redis.admin.js';
import { withTimeout } from '../stores/store-probe.js';
import {
  CACHE_USER_COMMANDS,
  GRAPH_USER_COMMANDS,
  deleteTenantAclUser,
  hasTenantAclUser,
  scanTenantKeys,
  setTenantAclUser,
} from './acl.js';
import { countGraphNodes, deleteGraph } from './graph-admin.js';
import { tenantNames } from './store-names.js';
import {
  deleteCollection,
  deleteGeneration,
  deleteGenerationsExcept,
  ensureCollection,
  pointCount,
} from './vector-admin.js';

/** What provisioning needs: the admin connections and the master key. */
export interface StoreProvisionerOptions {
  readonly qdrant: QdrantAdmin;
  /** The graph server as its admin user; ACL commands run on a connection of their own. */
  readonly graphUrl: string;
  /** The FalkorDB admin client (graph counts and deletion). */
  readonly falkor: FalkorAdmin;
  /** The cache Redis as its admin user. */
  readonly cache: RedisAdmin;
  readonly masterKey: MasterKey;
  /** Dimensions of the dense vector; set only when an embeddings endpoint is configured. */
  readonly denseDimensions?: number;
}

/** What each store holds for a tenant, read with admin credentials (tests, diagnostics). */
export interface TenantStoreStatus {
  readonly qdrant: { readonly collection: boolean; readonly points: number };
  readonly falkordb: { readonly user: boolean; readonly graphNodes: number; readonly keys: number };
  readonly redis: { readonly user: boolean; readonly keys: number };
}

/**
 * Creates and removes a tenant's resources in Qdrant, FalkorDB and Redis with the admin
 * credentials; the only user of them. Every step is idempotent, so a provisioning that failed
 * part-way is completed by running it again.
 */
export class StoreProvisioner implements StoreProvisioning {
  readonly #graphAdmin: Redis;

  constructor(private readonly options: StoreProvisionerOptions) {
    this.#graphAdmin = connectRedis(options.graphUrl);
  }

  /**
   * Creates the tenant's collection of `space` (default: generation 0, `t_<id>`, with the
   * gateway's dense dimensions), if missing.
   */
  async ensureVectors(tenantId: string, space?: VectorSpace): Promise<void> {
    const { qdrant, denseDimensions } = this.options;
    const dimensions = space === undefined ? denseDimensions : space.dimensions;
    await inStore('qdrant', 'create collection', () =>
      ensureCollection(qdrant.provisioning, tenantId, dimensions, space?.generation ?? 0),
    );
  }

  /** Deletes the tenant's collections of every generation but those of `keep`. */
  async keepVectors(tenantId: string, keep: readonly number[]): Promise<void> {
    await inStore('qdrant', 'delete collections', () =>
      deleteGenerationsExcept(this.options.qdrant.provisioning, tenantId, keep),
    );
  }

  /** Deletes the tenant's collection of one generation, once another has replaced it. */
  async dropVectors(tenantId: string, generation: number): Promise<void> {
    await inStore('qdrant', 'delete collection', () =>
      deleteGeneration(this.options.qdrant.provisioning, tenantId, generation),
    );
  }

  /** Creates or resets the tenant's ACL user on the graph server (keys `t:<id>:*`). */
  async ensureGraphUser(tenantId: string): Promise<void> {
    const password = this.options.masterKey.storeSecret('falkordb', tenantId);
    await inStore('falkordb', 'set ACL user', async () =>
      setTenantAclUser(await this.graphAdmin(), tenantId, password, GRAPH_USER_COMMANDS),
    );
  }

  /** Creates or resets the tenant's ACL user on the cache Redis (keys `t:<id>:*`). */
  async ensureCacheUser(tenantId: string): Promise<void> {
    const password = this.options.masterKey.storeSecret('redis', tenantId);
    await inStore('redis', 'set ACL user', async () =>
      setTenantAclUser(await this.cacheAdmin(), tenantId, password, CACHE_USER_COMMANDS),
    );
  }

  /**
   * Removes everything of the tenant from the three stores and says how much there was. The ACL
   * users go first: the servers close their connections, so nothing the tenant still had open
   * can write while its data is deleted. Absent resources are fine (purge is idempotent).
   */
  async purge(tenantId: string): Promise<PurgeCounts> {
    await inStore('falkordb', 'delete ACL user', async () =>
      deleteTenantAclUser(await this.graphAdmin(), tenantId),
    );
    await inStore('redis', 'delete ACL user', async () =>
      deleteTenantAclUser(await this.cacheAdmin(), tenantId),
    );
    const points = await inStore('qdrant', 'delete collection', () =>
      deleteCollection(this.options.qdrant.provisioning, tenantId),
    );
    const nodes = await inStore('falkordb', 'delete graph', async () => {
      const { graphKey } = tenantNames(tenantId);
      const db = await this.options.falkor.client();
      const counted = await countGraphNodes(db, graphKey);
      await deleteGraph(db, graphKey);
      // Anything else the tenant's user could have written under its prefix goes as well.
      await scanTenantKeys(await this.graphAdmin(), tenantId, true);
      return counted;
    });
    const keys = await inStore('redis', 'delete keys', async () =>
      scanTenantKeys(await this.cacheAdmin(), tenantId, true),
    );
    return { qdrant: { points }, falkordb: { nodes }, redis: { keys } };
  }

  /** What each store holds for the tenant. */
  async stores(tenantId: string): Promise<TenantStoreStatus> {
    const { graphKey } = tenantNames(tenantId);
    const qdrant = await inStore('qdrant', 'count points', () =>
      pointCount(this.options.qdrant.client, tenantId),
    );
    const falkordb = await inStore('falkordb', 'read status', async () => {
      const admin = await this.graphAdmin();
      return {
        user: await hasTenantAclUser(admin, tenantId),
        graphNodes: await countGraphNodes(await this.options.falkor.client(), graphKey),
        keys: await scanTenantKeys(admin, tenantId, false),
      };
    });
    const redis = await inStore('redis', 'read status', async () => {
      const admin = await this.cacheAdmin();
      return {
        user: await hasTenantAclUser(admin, tenantId),
        keys: await scanTenantKeys(admin, tenantId, false),
      };
    });
    return { qdrant, falkordb, redis };
  }

  /** Closes the provisioner's own graph admin connection (the shared admins are not its own). */
  async close(): Promise<void> {
    this.#graphAdmin.disconnect();
  }

  /** The admin connections have no offline queue: a command sent before they are ready fails. */
  private async graphAdmin(): Promise<Redis> {
    await withTimeout(ready(this.#graphAdmin), 3_000, 'graph admin connection');
    return this.#graphAdmin;
  }

  private async cacheAdmin(): Promise<Redis> {
    const { client } = this.options.cache;
    await withTimeout(ready(client), 3_000, 'cache admin connection');
    return client;
  }
}

/**
 * Runs admin work on a store; any failure is reported as that store being unavailable, with
 * the failure itself and what was being done kept for the log.
 */
export async function inStore<T>(
  store: string,
  operation: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new StoreUnavailableError(store, { cause: error, operation });
  }
}
