import type { FalkorDB } from 'falkordb';

/** FalkorDB's answer for a graph key that does not exist (nothing was ever written to it). */
const MISSING_GRAPH = /empty key/i;

/** Nodes in the graph at `graphKey`; 0 when the graph does not exist. */
export async function countGraphNodes(db: FalkorDB, graphKey: string): Promise<number> {
  try {
    const result = await db
      .selectGraph(graphKey)
      .roQuery<{ n: number }>('MATCH (n) RETURN count(n) AS n');
    return Number(result.data?.[0]?.n ?? 0);
  } catch (error) {
    if (error instanceof Error && MISSING_GRAPH.test(error.message)) return 0;
    throw error;
  }
}

/** Deletes the graph at `graphKey` with GRAPH.DELETE; a graph that does not exist is fine. */
export async function deleteGraph(db: FalkorDB, graphKey: string): Promise<void> {
  try {
    await db.selectGraph(graphKey).delete();
  } catch (error) {
    if (!(error instanceof Error) || !MISSING_GRAPH.test(error.message)) throw error;
  }
}
