import type { FalkorDBOptions, Graph } from 'falkordb';
import { FalkorDB } from './falkor-errors.js';

/** A tenant's graph connection: the client and the one graph that tenant may reach. */
export interface TenantGraphConnection {
  readonly db: FalkorDB;
  /**
   * The tenant's own graph. Kept per tenant connection (never on a shared object) because the
   * client caches the graph's label and property names here; a fresh object per call would
   * fetch them again on every query that returns nodes.
   */
  readonly graph: Graph;
}

/**
 * Options the falkordb client forwards to node-redis's `createClient` unchanged (checked in its
 * source), though its option type does not name them.
 */
interface NodeRedisExtras {
  /** Fail a command at once while disconnected, rather than queue it without bound. */
  readonly disableOfflineQueue: boolean;
  readonly socket: FalkorDBOptions['socket'] & { readonly reconnectStrategy: false };
}

/**
 * Connects as a tenant's ACL user. No automatic reconnection: a dropped connection ends the
 * client, the connection cache opens a fresh one (with a fresh name cache, which matters when
 * the tenant's graph was deleted and re-created), and a lost user shows as a refused login.
 * CLIENT SETINFO is not sent, so the user does not need it; INFO is (the client checks the
 * server mode when it connects).
 */
export async function openTenantGraph(
  url: string,
  username: string,
  password: string,
  graphKey: string,
): Promise<TenantGraphConnection> {
  const { hostname, port } = new URL(url);
  const options: FalkorDBOptions & NodeRedisExtras = {
    username,
    password,
    disableClientInfo: true,
    disableOfflineQueue: true,
    socket: {
      host: hostname,
      port: Number(port || 6379),
      connectTimeout: 2_000,
      reconnectStrategy: false,
    },
  };
  const db = await FalkorDB.connect(options);
  // The client re-emits socket errors; without a listener one would crash the process. The
  // failed command itself rejects and is handled by the caller.
  db.on('error', () => undefined);
  return { db, graph: db.selectGraph(graphKey) };
}

/** Closes a tenant's graph connection; one that already ended is fine. */
export async function closeTenantGraph(connection: TenantGraphConnection): Promise<void> {
  await connection.db.close().catch(() => undefined);
}
