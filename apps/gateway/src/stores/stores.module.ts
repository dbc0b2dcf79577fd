import {
  Global,
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  ControlDb,
  DocumentsRepository,
  FalkorAdmin,
  MasterKey,
  TenantDb,
  TenantKeys,
  TenantStateCache,
  TenantStateReader,
  StoreProvisioner,
  TenantLifecycle,
  TenantsRepository,
  MspPolicyRepository,
  ReembedsRepository,
  UsageRepository,
  TenantVectorStore,
  TenantGraph,
  TenantCache,
  PostgresPools,
  QdrantAdmin,
  RedisAdmin,
  type StoreProbe,
} from '@isogate/isolation';
import { APP_CONFIG } from '../config/config.module.js';
import { lifecycleProviders } from './lifecycle.providers.js';
import type { AppConfig } from '../config/config.js';

/** Injection token of the list of store probes used by readiness. */
export const STORE_PROBES = Symbol('STORE_PROBES');

/** Opens the connections to the four stores once, and closes them on shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: PostgresPools,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new PostgresPools({ url: config.database.url, poolMax: config.database.poolMax }),
    },
    {
      provide: RedisAdmin,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig) => new RedisAdmin(c.cache.url),
    },
    {
      provide: FalkorAdmin,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig) => new FalkorAdmin(c.graph.url),
    },
    {
      provide: QdrantAdmin,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig) =>
        new QdrantAdmin({ url: c.vectors.url, apiKey: c.vectors.apiKey }),
    },
    {
      provide: MasterKey,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig) => new MasterKey(c.keys.masterKey),
    },
    {
      provide: TenantDb,
      inject: [PostgresPools],
      useFactory: (p: PostgresPools) => new TenantDb(p),
    },
    {
      provide: TenantKeys,
      inject: [TenantDb, MasterKey],
      useFactory: (db: TenantDb, masterKey: MasterKey) => new TenantKeys(db, masterKey),
    },
    {
      provide: DocumentsRepository,
      inject: [TenantDb],
      useFactory: (db: TenantDb) => new DocumentsRepository(db),
    },
    {
      provide: ControlDb,
      inject: [PostgresPools],
      useFactory: (p: PostgresPools) => new ControlDb(p),
    },
    {
      provide: TenantsRepository,
      inject: [PostgresPools],
      useFactory: (p: PostgresPools) => new TenantsRepository(p),
    },
    {
      provide: UsageRepository,
      inject: [TenantDb],
      useFactory: (db: TenantDb) => new UsageRepository(db),
    },
    {
      provide: MspPolicyRepository,
      inject: [PostgresPools],
      useFactory: (p: PostgresPools) => new MspPolicyRepository(p),
    },
    {
      provide: ReembedsRepository,
      inject: [PostgresPools],
      useFactory: (p: PostgresPools) => new ReembedsRepository(p),
    },
    {
      provide: TenantStateCache,
      inject: [PostgresPools],
      useFactory: (p: PostgresPools) => new TenantStateCache(new TenantStateReader(p)),
    },
    ...lifecycleProviders,
    {
      provide: STORE_PROBES,
      inject: [PostgresPools, RedisAdmin, FalkorAdmin, QdrantAdmin],
      useFactory: (...probes: StoreProbe[]) => probes,
    },
  ],
  exports: [
    DocumentsRepository,
    PostgresPools,
    RedisAdmin,
    FalkorAdmin,
    QdrantAdmin,
    STORE_PROBES,
    MasterKey,
    TenantDb,
    TenantKeys,
    ControlDb,
    TenantsRepository,
    MspPolicyRepository,
    ReembedsRepository,
    UsageRepository,
    TenantStateCache,
    StoreProvisioner,
    TenantLifecycle,
    TenantVectorStore,
    TenantGraph,
    TenantCache,
  ],
})
export class StoresModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(PostgresPools) private readonly postgres: PostgresPools,
    @Inject(RedisAdmin) private readonly redis: RedisAdmin,
    @Inject(FalkorAdmin) private readonly falkor: FalkorAdmin,
    @Inject(StoreProvisioner) private readonly provisioner: StoreProvisioner,
    @Inject(TenantVectorStore) private readonly vectors: TenantVectorStore,
    @Inject(TenantGraph) private readonly graph: TenantGraph,
    @Inject(TenantCache) private readonly cache: TenantCache,
  ) {}

  /**
   * Refuses to start as a database role that row-level security would not hold: a superuser,
   * a role with BYPASSRLS or the owner of a tenant table.
   */
  async onApplicationBootstrap(): Promise<void> {
    const problems = await this.postgres.roleProblems();
    if (problems.length > 0) {
      throw new Error(
        `DATABASE_URL must name the unprivileged gateway role: ${problems.join('; ')}`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([
      this.postgres.close(),
      this.redis.close(),
      this.falkor.close(),
      this.provisioner.close(),
      this.vectors.close(),
    ]);
    this.graph.close();
    this.cache.close();
  }
}
