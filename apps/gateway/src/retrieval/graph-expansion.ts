import { Inject, Injectable } from '@nestjs/common';
import { TenantGraph } from '@isogate/isolation';

/** Chunks whose entities seed the expansion. */
const SEEDS = 5;
/** Entities mentioned by more chunks than this connect too much to mean anything. */
const MAX_ENTITY_DEGREE = 50;
/** Further chunks the expansion may bring, at most. */
const MAX_EXPANDED = 20;

const EXPAND = `
MATCH (s:Chunk)-[:MENTIONS]->(e:Entity)
WHERE s.id IN $seeds
WITH DISTINCT e
MATCH (e)<-[:MENTIONS]-(c:Chunk)
WITH e, collect(c.id) AS chunks
WHERE size(chunks) <= $maxDegree
UNWIND chunks AS id
WITH id, sum(1.0 / size(chunks)) AS weight
WHERE NOT id IN $seeds
RETURN id, weight
ORDER BY weight DESC, id
LIMIT $limit`;

/** A chunk reached through shared entities, with the weight of what it shares. */
export interface ExpandedChunk {
  readonly id: string;
  readonly weight: number;
}

/**
 * Expansion through the current tenant's knowledge graph: from the best chunks, through the
 * entities they mention, to other chunks mentioning the same entities. Entities shared by
 * few chunks weigh more (a rare name says more than a common term); hubs are skipped.
 */
@Injectable()
export class GraphExpansion {
  constructor(@Inject(TenantGraph) private readonly graph: TenantGraph) {}

  async expand(rankedChunkIds: readonly string[]): Promise<ExpandedChunk[]> {
    const seeds = rankedChunkIds.slice(0, SEEDS);
    if (seeds.length === 0) return [];
    const rows = await this.graph.roQuery(EXPAND, {
      seeds,
      maxDegree: MAX_ENTITY_DEGREE,
      limit: MAX_EXPANDED,
    });
    return rows.map((row) => ({ id: String(row.id), weight: Number(row.weight) }));
  }
}
