import { Inject, Injectable } from '@nestjs/common';
import { AuditScope, canonicalJson, sha256Hex } from '@isogate/audit';
import {
  IsogateError,
  MspPolicyRepository,
  ReembedsRepository,
  TenantLifecycle,
  TenantsRepository,
  TenantStateCache,
  type DeletionReceipt,
  type ModelPolicy,
  type ReembedRecord,
  type TenantRecord,
  type DayRange,
  type UsageDay,
  utcDay,
} from '@isogate/isolation';
import { mergePolicy, type LogicalModel } from '@isogate/models';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { Reembedding } from '../documents/reembedding.js';
import { ModelRouting } from '../models/model-routing.js';
import type { CreateTenantBody, PatchTenantBody, UsageQuery } from './tenant.schemas.js';

/** A tenant as a change answers it: with the re-embedding the change started, if any. */
export type ChangedTenant = TenantRecord & { readonly reembed?: ReembedRecord };

/** The operator's view of its MSP's tenants; the repository scopes every read to the MSP. */
@Injectable()
export class TenantsService {
  readonly #defaultEmbeddings: LogicalModel | undefined;

  constructor(
    @Inject(TenantsRepository) private readonly tenants: TenantsRepository,
    @Inject(TenantLifecycle) private readonly lifecycle: TenantLifecycle,
    @Inject(TenantStateCache) private readonly statuses: TenantStateCache,
    @Inject(MspPolicyRepository) private readonly mspPolicies: MspPolicyRepository,
    @Inject(ReembedsRepository) private readonly reembeds: ReembedsRepository,
    @Inject(Reembedding) private readonly reembedding: Reembedding,
    @Inject(ModelRouting) private readonly routing: ModelRouting,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.#defaultEmbeddings = config.models.embeddings;
  }

  async create(body: CreateTenantBody): Promise<TenantRecord> {
    const { embeddings_model: name, ...tenant } = body;
    const model =
      name === undefined
        ? this.#defaultEmbeddings
        : await this.compliantEmbeddings(name, tenant.policy ?? {});
    const record = await this.lifecycle.create({
      ...tenant,
      ...(model !== undefined
        ? { embeddings: { model: model.name, dimensions: model.dimensions } }
        : {}),
    });
    this.statuses.forget(body.id);
    return this.shown(record);
  }

  async list(): Promise<TenantRecord[]> {
    return (await this.tenants.listOfMsp()).map((record) => this.shown(record));
  }

  async get(id: string): Promise<TenantRecord> {
    return this.shown(await this.tenants.findOfMsp(id));
  }

  /**
   * Applies an operator's changes. A change of embeddings model re-embeds the tenant's
   * documents in the background (`reembed` in the answer); for a tenant that holds documents
   * it must be asked for (`reembed: true`), else 409 `reembed_required` and nothing changes.
   */
  async update(id: string, body: PatchTenantBody): Promise<ChangedTenant> {
    const { embeddings_model: name, reembed, ...changes } = body;
    let started: ReembedRecord | undefined;
    if (name !== undefined) {
      const current = await this.tenants.findOfMsp(id);
      const model = await this.compliantEmbeddings(name, changes.policy ?? current.policy);
      const indexed = current.embeddings_model ?? this.#defaultEmbeddings?.name;
      if (model.name !== indexed || reembed === true) {
        const documents = await this.reembeds.documentCount(id);
        if (documents > 0 && reembed !== true) {
          throw new IsogateError(
            'reembed_required',
            `The tenant holds ${documents} documents embedded with "${indexed ?? 'none'}"; ` +
              'send "reembed": true to embed them again with the new model',
            { param: 'embeddings_model' },
          );
        }
        started = await this.reembedding.start(id, model);
        AuditScope.annotate({
          reembed: { from_model: started.from_model, to_model: model.name, documents },
        });
      }
    }
    const record =
      Object.keys(changes).length > 0
        ? await this.tenants.change(id, changes)
        : await this.tenants.findOfMsp(id);
    if (changes.policy !== undefined) {
      AuditScope.annotate({ policy_sha256: sha256Hex(canonicalJson(record.policy)) });
    }
    this.statuses.forget(id);
    return { ...this.shown(record), ...(started !== undefined ? { reembed: started } : {}) };
  }

  /** The tenant's latest re-embedding; 404 when it never had one. */
  async latestReembed(id: string): Promise<ReembedRecord> {
    const latest = await this.reembedding.latest(id);
    if (latest === undefined) {
      throw new IsogateError('not_found', 'This tenant was never re-embedded');
    }
    return latest;
  }

  async delete(id: string): Promise<DeletionReceipt> {
    // The receipt names the audit event this very request is recorded as (written before the
    // answer is sent; if it cannot be, the answer is a 503 and the receipt is never seen).
    const receipt = await this.lifecycle.delete(id, AuditScope.current()?.eventId ?? null);
    this.statuses.forget(id);
    return receipt;
  }

  async usage(
    id: string,
    query: UsageQuery,
  ): Promise<{ tenant_id: string; from: string; to: string; data: UsageDay[] }> {
    const range = usageRange(query);
    const data = await this.tenants.dailyUsage(id, range);
    return { tenant_id: id, ...range, data };
  }

  /** The embeddings model `name`, if the tenant's policy (with its MSP's) allows one of its upstreams. */
  private async compliantEmbeddings(name: string, policy: ModelPolicy): Promise<LogicalModel> {
    const msp = (await this.mspPolicies.read()).policy;
    return this.routing.compliantEmbeddingsModel(name, mergePolicy(msp, policy));
  }

  /** A tenant from before models were chosen per tenant shows the default it uses. */
  private shown(record: TenantRecord): TenantRecord {
    if (record.embeddings_model !== null) return record;
    return { ...record, embeddings_model: this.#defaultEmbeddings?.name ?? null };
  }
}

/** The days a usage query asks for: the 30 days up to `to` (today) unless `from` is given. */
export function usageRange(query: UsageQuery): DayRange {
  const to = query.to ?? utcDay(Date.now());
  const from = query.from ?? utcDay(Date.parse(to) - 29 * 86_400_000);
  if (from > to) throw new IsogateError('invalid_request', 'from must not be after to');
  return { from, to };
}
