import type * as Containers from './containers.js';

/** Stops the containers of a `TEST_STORES=containers` run; nothing to do on the local stack. */
export default async function globalTeardown(): Promise<void> {
  if (process.env.TEST_STORES !== 'containers') return;
  // Loaded as in global-setup.ts: Node strips the types of this file itself.
  const containers = (await import(
    new URL('./containers.ts', import.meta.url).href
  )) as typeof Containers;
  await containers.stopContainerStores();
}
