import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { AuditScope, AuditTrail } from '@isogate/audit';
import {
  ReembedsRepository,
  StoreProvisioner,
  TENANT_STATE_TTL_MS,
  TenantContext,
  TenantKeys,
  TenantStateCache,
  type CallerContext,
  type DocumentToReembed,
  type ReembedRecord,
} from '@isogate/isolation';
import type { LogicalModel, RouteRecord } from '@isogate/models';
import { DocumentIndex } from './document-index.js';
import { DocumentPreparer } from './document-preparer.js';
import type { MetadataValue } from './document-index.js';

/** Document ids read per page (progress is written after every document). */
const PAGE = 64;
/**
 * How long the replaced generation is kept after the switch: a replica that has not seen the
 * switch yet (its tenant state is up to `TENANT_STATE_TTL_MS` old) still reads from it.
 */
export const RETIRE_AFTER_MS = TENANT_STATE_TTL_MS * 5;

type OperatorContext = Extract<CallerContext, { kind: 'operator' }>;

/**
 * Re-embeds a tenant's documents with another embeddings model, in the background, without
 * taking its retrieval down: the new vectors are built in a new generation of its collection
 * (`t_<tenant>_g<n>`) from the documents PostgreSQL holds, while retrieval keeps using the old
 * one; once all are there, one transaction (holding the generation lock, so no document write
 * overlaps) makes the new generation hold exactly the visible documents and switches the
 * tenant to it. The old generation is dropped a little later. A failure leaves the tenant on
 * its old vectors, and the run is recorded as failed (`GET /v1/tenants/{id}/reembed`).
 *
 * Writes meanwhile: a document written during the run goes to the current generation only;
 * the switch's reconciliation embeds it into the new one. A deletion removes the document from
 * both generations (DocumentsRepository.removeHidden), and a document is re-embedded under its
 * own lock, so a deleted document is never written back.
 */
@Injectable()
export class Reembedding implements OnApplicationShutdown {
  readonly #log = new Logger('Reembedding');
  readonly #running = new Map<string, Promise<void>>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    @Inject(ReembedsRepository) private readonly reembeds: ReembedsRepository,
    @Inject(StoreProvisioner) private readonly provisioner: StoreProvisioner,
    @Inject(DocumentPreparer) private readonly preparer: DocumentPreparer,
    @Inject(DocumentIndex) private readonly index: DocumentIndex,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @Inject(TenantStateCache) private readonly states: TenantStateCache,
    @Inject(AuditTrail) private readonly trail: AuditTrail,
  ) {}

  /**
   * Starts re-embedding `tenantId`'s documents with `model`, for the operator of the current
   * context; answers once the run is recorded and its collection exists.
   * @throws IsogateError `reembed_in_progress` while another run is going on
   */
  async start(tenantId: string, model: LogicalModel): Promise<ReembedRecord> {
    const operator = TenantContext.require() as OperatorContext;
    const started = await this.reembeds.start(tenantId, model.name);
    try {
      // A generation left by a run that failed, or by a process that stopped before dropping
      // the one it replaced, goes now.
      await this.provisioner.keepVectors(tenantId, [started.replaces]);
      await this.provisioner.ensureVectors(tenantId, {
        generation: started.generation,
        dimensions: model.dimensions,
      });
    } catch (error) {
      await this.reembeds.fail(
        tenantId,
        started.generation,
        'The vector store could not create the new collection',
      );
      throw error;
    }
    const context: OperatorContext = { ...operator, requestId: operator.requestId };
    const run = TenantContext.run(context, () =>
      this.run(tenantId, model, started.generation, context),
    ).finally(() => this.#running.delete(tenantId));
    this.#running.set(tenantId, run);
    return started.record;
  }

  /** The tenant's latest run, if any (404 `not_found` otherwise). */
  latest(tenantId: string): Promise<ReembedRecord | undefined> {
    return this.reembeds.latest(tenantId);
  }

  /** Waits for the runs under way (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#running.values()]);
  }

  async onApplicationShutdown(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  private async run(
    tenantId: string,
    model: LogicalModel,
    generation: number,
    operator: OperatorContext,
  ): Promise<void> {
    const tenant: CallerContext = {
      kind: 'tenant',
      tenantId,
      subject: operator.subject,
      roles: [],
      requestId: operator.requestId,
    };
    // Each document's embeddings route, as a request's would be on its event: the run's end
    // event lists every upstream its embeddings went to, and the policy versions that chose.
    const routes = { upstreams: new Set<string>(), policies: new Set<string>(), fallbacks: 0 };
    const asTenant = <T>(work: () => Promise<T>) => {
      const scope = new AuditScope();
      return TenantContext.run({ ...tenant }, () => AuditScope.run(scope, work)).finally(() => {
        const route = scope.details.embeddings_route as RouteRecord | undefined;
        if (route === undefined) return;
        routes.upstreams.add(route.upstream);
        routes.policies.add(route.policy_version);
        if (route.attempts.length > 1) routes.fallbacks++;
      });
    };
    const routed = () => ({
      embeddings_upstreams: [...routes.upstreams].sort(),
      policy_versions: [...routes.policies].sort(),
      fallbacks: routes.fallbacks,
    });
    let done = 0;
    try {
      let after = '';
      for (;;) {
        const ids = await this.reembeds.documentIds(tenantId, after, PAGE);
        for (const id of ids) {
          await this.reembeds.withDocument(tenantId, id, (doc) =>
            asTenant(() => this.embedInto(doc, model, generation)),
          );
          done++;
          // Also the run's sign of life: a run silent for long is taken over by a new one.
          await this.reembeds.progress(tenantId, generation, done);
        }
        if (ids.length < PAGE) break;
        after = ids[ids.length - 1] ?? after;
      }
      const switched = await this.reembeds.complete(tenantId, generation, (visible, read) =>
        asTenant(() => this.reconcile(visible, read, model, generation)),
      );
      this.states.forget(tenantId);
      this.retireLater(tenantId, switched.replaced);
      await this.record(operator, tenantId, 'ok', {
        to_model: model.name,
        documents: done,
        ...routed(),
      });
    } catch (error) {
      this.#log.error(
        { err: error, tenant: tenantId, generation },
        'a re-embedding failed; the tenant keeps its current vectors',
      );
      await this.reembeds.fail(tenantId, generation, failureOf(error)).catch(() => undefined);
      await this.provisioner.dropVectors(tenantId, generation).catch(() => undefined);
      await this.record(operator, tenantId, 'error', {
        to_model: model.name,
        documents: done,
        ...routed(),
      }).catch(() => undefined);
    }
  }

  /** Writes a stored document's chunks, embedded with `model`, to `generation`. */
  private async embedInto(
    doc: DocumentToReembed,
    model: LogicalModel,
    generation: number,
  ): Promise<void> {
    const title = (await this.keys.open(doc.sealedTitle)).toString('utf8');
    const text = (await this.keys.open(doc.sealedText)).toString('utf8');
    const metadata =
      doc.sealedMetadata === undefined
        ? (doc.legacyMetadata as Record<string, MetadataValue>)
        : (JSON.parse((await this.keys.open(doc.sealedMetadata)).toString('utf8')) as Record<
            string,
            MetadataValue
          >);
    const prepared = await this.preparer.prepare(
      doc.id,
      { title, text, metadata },
      { mode: 'off' },
      { model, version: doc.version },
    );
    await this.index.writeVectors(prepared.indexed, generation);
  }

  /**
   * Makes `generation` hold the chunks of exactly the visible versions: what was written or
   * deleted while the run went on is embedded or removed now (under the generation lock).
   */
  private async reconcile(
    visible: ReadonlyMap<string, { version: string; chunks: number }>,
    read: (id: string) => Promise<DocumentToReembed | undefined>,
    model: LogicalModel,
    generation: number,
  ): Promise<void> {
    const counts = new Map<string, number>();
    const stale: string[] = [];
    for await (const page of this.index.points(generation)) {
      for (const point of page) {
        const id = String(point.payload.document_id);
        if (visible.get(id)?.version === point.payload.version) {
          counts.set(id, (counts.get(id) ?? 0) + 1);
        } else {
          stale.push(point.id);
        }
      }
    }
    for (let start = 0; start < stale.length; start += 1_000) {
      await this.index.removePoints(stale.slice(start, start + 1_000), generation);
    }
    for (const [id, { chunks }] of visible) {
      if ((counts.get(id) ?? 0) === chunks) continue;
      const doc = await read(id);
      if (doc !== undefined) await this.embedInto(doc, model, generation);
    }
  }

  /** Drops the replaced generation once no replica can be reading it any more. */
  private retireLater(tenantId: string, generation: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.provisioner.dropVectors(tenantId, generation).catch((error: unknown) => {
        this.#log.warn(
          { err: error, tenant: tenantId, generation },
          'the replaced vector generation could not be dropped; the next re-embedding or the deletion of the tenant drops it',
        );
      });
    }, RETIRE_AFTER_MS);
    timer.unref();
    this.#timers.add(timer);
  }

  /** The run's end, on the operator's MSP chain (the request that started it is there too). */
  private async record(
    operator: OperatorContext,
    tenantId: string,
    outcome: 'ok' | 'error',
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.trail.append(
      { kind: 'msp', mspId: operator.mspId },
      {
        id: randomUUID(),
        actor: operator.subject,
        roles: [...operator.roles],
        action: outcome === 'ok' ? 'tenant.reembed.completed' : 'tenant.reembed.failed',
        resource: `/v1/tenants/${tenantId}/reembed`,
        outcome,
        status: outcome === 'ok' ? 200 : 503,
        request_id: operator.requestId,
        details,
        tenant_id: tenantId,
      },
    );
  }
}

/** What the operator is told of a failure: the kind, never the internals. */
function failureOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'no_compliant_upstream') {
    return 'No upstream of the embeddings model that meets the policy answered';
  }
  if (code === 'store_unavailable') return 'The embeddings service or a data store did not answer';
  return 'The re-embedding failed';
}
