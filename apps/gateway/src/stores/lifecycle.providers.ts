import type { Provider } from '@nestjs/common';
import {
  FalkorAdmin,
  MasterKey,
  PostgresPools,
  QdrantAdmin,
  RedisAdmin,
  StoreProvisioner,
  TenantCache,
  TenantGraph,
  TenantLifecycle,
  TenantStateCache,
  TenantVectorStore,
} from '@isogate/isolation';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';

/**
 * Provisioning (the only user of the stores' admin credentials) and the tenant-scoped data-plane
 * clients, which reach each store with the credentials of the tenant in the current context.
 */
export const lifecycleProviders: Provider[] = [
  {
    provide: TenantVectorStore,
    inject: [APP_CONFIG, TenantStateCache],
    useFactory: (c: AppConfig, states: TenantStateCache) =>
      new TenantVectorStore({
        url: c.vectors.url,
        apiKey: c.vectors.apiKey,
        // The generation the tenant's state names, the same for all of a request.
        generation: async () => (await states.current())?.vectorGeneration ?? 0,
      }),
  },
  {
    provide: TenantGraph,
    inject: [APP_CONFIG, MasterKey, StoreProvisioner],
    useFactory: (c: AppConfig, masterKey: MasterKey, provisioner: StoreProvisioner) =>
      new TenantGraph({
        url: c.graph.url,
        maxTenants: c.graph.maxTenants,
        masterKey,
        recreateUser: (t) => provisioner.ensureGraphUser(t),
      }),
  },
  {
    provide: TenantCache,
    inject: [APP_CONFIG, MasterKey, StoreProvisioner],
    useFactory: (c: AppConfig, masterKey: MasterKey, provisioner: StoreProvisioner) =>
      new TenantCache({
        url: c.cache.url,
        maxTenants: c.cache.maxTenants,
        masterKey,
        recreateUser: (t) => provisioner.ensureCacheUser(t),
      }),
  },
  {
    provide: StoreProvisioner,
    inject: [APP_CONFIG, QdrantAdmin, FalkorAdmin, RedisAdmin, MasterKey],
    useFactory: (
      c: AppConfig,
      qdrant: QdrantAdmin,
      falkor: FalkorAdmin,
      cache: RedisAdmin,
      masterKey: MasterKey,
    ) =>
      new StoreProvisioner({
        qdrant,
        graphUrl: c.graph.url,
        falkor,
        cache,
        masterKey,
        ...denseDimensionsOf(c),
      }),
  },
  {
    provide: TenantLifecycle,
    inject: [PostgresPools, MasterKey, StoreProvisioner],
    useFactory: (pools: PostgresPools, masterKey: MasterKey, stores: StoreProvisioner) =>
      new TenantLifecycle(pools, masterKey, stores),
  },
];

/** The length of the dense vectors tenant collections hold: the embeddings model's. */
function denseDimensionsOf(c: AppConfig): { denseDimensions?: number } {
  const dimensions = c.models.embeddings?.dimensions ?? c.embeddings.dimensions;
  return dimensions !== undefined ? { denseDimensions: dimensions } : {};
}
