import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { UsageLedger } from '@isogate/isolation';

/** How often counted usage is written to PostgreSQL. */
export const USAGE_FLUSH_EVERY_MS = 1_000;

/**
 * Writes the usage counted in memory to PostgreSQL every second, and once more at shutdown.
 * The last flush runs in `onApplicationShutdown`: Nest calls it after the HTTP server has
 * closed (no request can count anything after it) and before the global StoresModule closes
 * the pools (global modules' shutdown hooks run last).
 */
@Injectable()
export class UsageFlusher implements OnApplicationBootstrap, OnApplicationShutdown {
  #timer: NodeJS.Timeout | undefined;

  constructor(@Inject(UsageLedger) private readonly ledger: UsageLedger) {}

  onApplicationBootstrap(): void {
    // A failed write keeps its counts for the next flush; nothing to do here.
    this.#timer = setInterval(
      () => void this.ledger.flush().catch(() => undefined),
      USAGE_FLUSH_EVERY_MS,
    );
    this.#timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.#timer);
    await this.ledger.flush().catch(() => undefined);
  }
}
