import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { AuditCheckpointer, type AuditLogger } from '@isogate/audit';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';

/** The audit module's logger (the gateway's pino logger, set once Fastify exists). */
export const AUDIT_LOGGER = Symbol('AUDIT_LOGGER');

/**
 * Runs the checkpointer in the background: a run every few seconds to a minute (a quarter of
 * the checkpoint interval), never two at once. Each run is one statement when no chain is due.
 * Stopping waits for a run in progress, so no checkpoint is cut off between the archive and
 * its database row (and a cut-off one would be completed by the next run anyway).
 */
@Injectable()
export class AuditCheckpointsService implements OnApplicationBootstrap, OnModuleDestroy {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    @Inject(AuditCheckpointer) private readonly checkpointer: AuditCheckpointer,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(AUDIT_LOGGER) private readonly log: AuditLogger,
  ) {}

  onApplicationBootstrap(): void {
    const { checkpointIntervalSeconds: interval, checkpointEveryEvents: every } = this.config.audit;
    if (interval === 0 && every === 0) return;
    const seconds = Math.min(60, Math.max(5, interval > 0 ? interval / 4 : 30));
    this.#timer = setInterval(() => this.tick(), seconds * 1000);
    this.#timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  private tick(): void {
    if (this.#running !== undefined) return;
    this.#running = this.checkpointer
      .runOnce()
      .then((written) => {
        if (written.length > 0)
          this.log.info({ checkpoints: written.length }, 'audit checkpoints signed and archived');
      })
      .catch((error: unknown) => {
        this.log.error(
          { err: error instanceof Error ? error.message : String(error) },
          'audit checkpoint run failed; the next run retries',
        );
      })
      .finally(() => {
        this.#running = undefined;
      });
  }
}
