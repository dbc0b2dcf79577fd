/** The four stores the gateway depends on, by the names operators see in `/readyz`. */
export const STORE_NAMES = ['postgres', 'redis', 'falkordb', 'qdrant'] as const;
export type StoreName = (typeof STORE_NAMES)[number];

/** A store that can say whether it answers. */
export interface StoreProbe {
  readonly store: StoreName;
  /** Resolves when the store answers a trivial request; rejects otherwise. */
  ping(): Promise<void>;
}

/** Rejects after `ms` so a hung store cannot hang the caller. */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
