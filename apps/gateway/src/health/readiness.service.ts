import { Inject, Injectable } from '@nestjs/common';
import type { StoreName, StoreProbe } from '@isogate/isolation';
import { STORE_PROBES } from '../stores/stores.module.js';

/** What `/readyz` reports: each store by name, up or down. */
export interface Readiness {
  readonly ready: boolean;
  readonly stores: Record<StoreName, 'up' | 'down'>;
}

/** Asks every store, in parallel, whether it answers. */
@Injectable()
export class ReadinessService {
  constructor(@Inject(STORE_PROBES) private readonly probes: readonly StoreProbe[]) {}

  async check(): Promise<Readiness> {
    const results = await Promise.allSettled(this.probes.map((probe) => probe.ping()));
    const stores = {} as Record<StoreName, 'up' | 'down'>;
    this.probes.forEach((probe, i) => {
      stores[probe.store] = results[i]?.status === 'fulfilled' ? 'up' : 'down';
    });
    return { ready: Object.values(stores).every((s) => s === 'up'), stores };
  }
}
