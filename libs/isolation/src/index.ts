export { STORE_NAMES, withTimeout } from './stores/store-probe.js';
export type { StoreName, StoreProbe } from './stores/store-probe.js';
export { PostgresPools } from './stores/postgres.pools.js';
export type { PostgresOptions, PoolPlane } from './stores/postgres.pools.js';
export { RedisAdmin, connectRedis } from './stores/redis.admin.js';
export { FalkorAdmin, connectFalkor } from './stores/falkordb.admin.js';
export { QdrantAdmin } from './stores/qdrant.admin.js';
export type { QdrantOptions } from './stores/qdrant.admin.js';
export { ERROR_CODES, IsogateError, StoreUnavailableError } from './errors/isogate-error.js';
export type { ErrorCode, StoreFailure } from './errors/isogate-error.js';
export { TenantContext, ROLES, TENANT_ID_PATTERN } from './context/tenant-context.js';
export type { CallerContext, Role } from './context/tenant-context.js';
export { WaitClock } from './context/wait-clock.js';
export { MasterKey, seal, open } from './keys/master-key.js';
export { TenantKeys } from './keys/tenant-keys.js';
export type { CredentialStore } from './keys/master-key.js';
export { TenantDb, ControlDb, isConnectionFailure } from './db/tenant-db.js';
export type { ScopedRead, SqlSession } from './db/tenant-db.js';
export { TENANT_TABLES } from './db/role-check.js';
export { TenantLifecycle, PROVISIONING_STEPS } from './lifecycle/tenant-lifecycle.js';
export type { ProvisioningStep, AfterStep } from './lifecycle/tenant-lifecycle.js';
export { toTenantRecord, TENANT_COLUMNS } from './lifecycle/tenant-record.js';
export type {
  TenantQuotas,
  PiiMode,
  ModelPolicy,
  TenantStatus,
  TenantRecord,
  NewTenant,
  TenantRow,
  PurgeCounts,
  StoreProvisioning,
  DeletionReceipt,
  VectorSpace,
} from './lifecycle/tenant-record.js';
export { StoreProvisioner } from './provisioning/store-provisioner.js';
export type { StoreProvisionerOptions } from './provisioning/store-provisioner.js';
export { collectionOf, tenantNames } from './provisioning/store-names.js';
export { TenantVectorStore, scoped as scopedVectorFilter } from './vectors/tenant-vector-store.js';
export type {
  VectorCondition,
  VectorFilter,
  VectorPoint,
  VectorQuery,
  VectorHit,
  TenantVectorStoreOptions,
  VectorTarget,
} from './vectors/tenant-vector-store.js';
export { QdrantTokens } from './vectors/qdrant-tokens.js';
export { TenantGraph } from './graph/tenant-graph.js';
export type {
  CypherParams,
  CypherValue,
  GraphRow,
  TenantGraphOptions,
} from './graph/tenant-graph.js';
export { TenantCache } from './cache/tenant-cache.js';
export type { TenantCacheOptions } from './cache/tenant-cache.js';
export { FailSoftCache } from './cache/fail-soft-cache.js';
export type { FailSoftCacheOptions } from './cache/fail-soft-cache.js';
export { TenantRequestLimiter } from './quota/request-limiter.js';
export type { RequestAdmission } from './quota/request-limiter.js';
export { TenantDailyTokens } from './quota/daily-tokens.js';
export { UsageLedger } from './quota/usage-ledger.js';
export type { ModelUsage } from './quota/usage-ledger.js';
export type { UsageFlushResult } from './quota/usage-ledger.js';
export { utcDay, msUntilUtcDayEnds } from './quota/utc-day.js';
export { isAuthFailure } from './connections/tenant-connections.js';
export { applyPii, luhnValid } from './pii/pii-rules.js';
export { compilePiiPattern, MAX_PII_PATTERNS } from './pii/pii-patterns.js';
export type { PiiKind, PiiPolicy, PiiResult } from './pii/pii-rules.js';
// documents repository
export {
  DocumentsRepository,
  VectorGenerationChanged,
} from './repositories/documents-repository.js';
export type { VectorGenerations } from './repositories/documents-repository.js';
export { ReembedsRepository } from './repositories/reembeds-repository.js';
export type {
  DocumentToReembed,
  ReembedRecord,
  ReembedStatus,
  StartedReembed,
} from './repositories/reembeds-repository.js';
export type {
  DocumentVersion,
  ListedDocument,
  SealedContent,
  SealedDocument,
  StoredDocument,
} from './repositories/documents-repository.js';
export {
  canonicalMetadataPair,
  metadataBlindIndex,
  tenantMetadataIndexer,
  METADATA_INDEX_PURPOSE,
} from './keys/blind-index.js';
export type { MetadataIndexer, MetadataScalar } from './keys/blind-index.js';

// tenants repository
export { TenantsRepository } from './repositories/tenants-repository.js';
export type { TenantChanges } from './repositories/tenants-repository.js';
export type { UsageDay, DayRange, ModelUsageDay } from './repositories/usage-rows.js';
export { UsageRepository } from './repositories/usage-repository.js';

// tenant state
export { MspPolicyRepository } from './repositories/msp-policy-repository.js';
export type { MspPolicyRecord } from './repositories/msp-policy-repository.js';
export { TenantStateReader } from './repositories/tenant-state.js';
export type { TenantState } from './repositories/tenant-state.js';
export { TenantStateCache, TENANT_STATE_TTL_MS } from './repositories/tenant-state-cache.js';

// audit repositories
export { AuditEventsRepository } from './repositories/audit-events-repository.js';
export type {
  AuditEventQuery,
  AuditAppendChain,
  AuditAppendEvent,
  AuditAppendInteraction,
  AuditAppendOutcome,
} from './repositories/audit-events-repository.js';
export { EVENT_FIELDS } from './repositories/audit-event-row.js';
export type { AuditEventRow, AuditOutcomeValue } from './repositories/audit-event-row.js';
export { AuditCheckpointsRepository } from './repositories/audit-checkpoints-repository.js';
export type {
  AuditCheckpointRow,
  CheckpointSession,
} from './repositories/audit-checkpoints-repository.js';
export { InteractionsRepository } from './repositories/interactions-repository.js';
export type { InteractionRow, InteractionQuery } from './repositories/interactions-repository.js';
export { AuditRetentionRepository } from './repositories/audit-retention-repository.js';
export type { RetentionSession } from './repositories/audit-retention-repository.js';
