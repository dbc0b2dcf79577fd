import {
  FalkorAdmin,
  MasterKey,
  QdrantAdmin,
  RedisAdmin,
  StoreProvisioner,
  TenantCache,
  TenantGraph,
  TenantVectorStore,
} from '@isogate/isolation';
import { testConfig } from './env.js';

/** The store layer of the isolation lib, built from the test configuration, with the gateway out of the way. */
export interface StoreKit {
  readonly masterKey: MasterKey;
  readonly qdrant: QdrantAdmin;
  readonly falkor: FalkorAdmin;
  readonly redis: RedisAdmin;
  readonly provisioner: StoreProvisioner;
  readonly vectors: TenantVectorStore;
  readonly graph: TenantGraph;
  readonly cache: TenantCache;
  provision(tenantId: string): Promise<void>;
  close(): Promise<void>;
}

export function storeKit(): StoreKit {
  const config = testConfig();
  const masterKey = new MasterKey(config.keys.masterKey);
  const qdrant = new QdrantAdmin({ url: config.vectors.url, apiKey: config.vectors.apiKey });
  const falkor = new FalkorAdmin(config.graph.url);
  const redis = new RedisAdmin(config.cache.url);
  const provisioner = new StoreProvisioner({
    qdrant,
    graphUrl: config.graph.url,
    falkor,
    cache: redis,
    masterKey,
  });
  const vectors = new TenantVectorStore({ url: config.vectors.url, apiKey: config.vectors.apiKey });
  const graph = new TenantGraph({
    url: config.graph.url,
    masterKey,
    recreateUser: (t) => provisioner.ensureGraphUser(t),
  });
  const cache = new TenantCache({
    url: config.cache.url,
    masterKey,
    recreateUser: (t) => provisioner.ensureCacheUser(t),
  });
  return {
    masterKey,
    qdrant,
    falkor,
    redis,
    provisioner,
    vectors,
    graph,
    cache,
    async provision(tenantId) {
      await provisioner.ensureVectors(tenantId);
      await provisioner.ensureGraphUser(tenantId);
      await provisioner.ensureCacheUser(tenantId);
    },
    async close() {
      graph.close();
      cache.close();
      await vectors.close();
      await provisioner.close();
      await falkor.close();
      await redis.close();
    },
  };
}
