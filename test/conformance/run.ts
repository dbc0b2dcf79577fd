import { randomBytes } from 'node:crypto';
import { auditCases } from './cases/audit.js';
import { chatCases, chatRouteExists } from './cases/chat.js';
import { documentCases } from './cases/documents.js';
import { retrievalCases } from './cases/retrieval.js';
import { roleCases } from './cases/roles.js';
import { storeCases } from './cases/stores.js';
import { sweepCases } from './cases/sweeps.js';
import { tenantCases } from './cases/tenants.js';
import type { RunContext } from './context.js';
import { GatewayClient } from './http.js';
import { startLocal, type LocalHarness } from './local.js';
import { formatTable, summaryLine } from './report.js';
import { createTenants, deleteTenants, seedDocuments } from './setup.js';
import { StoreProbe } from './store-probe.js';
import { Suite, type CaseResult } from './suite.js';
import { World, type WorldSpec } from './world.js';

/** How to run: against an in-process gateway on the local stack, or a deployment. */
export type ConformanceTarget =
  | { readonly mode: 'local' }
  | { readonly mode: 'remote'; readonly url: string; readonly spec: WorldSpec };

export interface ConformanceOptions {
  readonly target: ConformanceTarget;
  /** Keep the run's tenants instead of deleting them at the end. */
  readonly keep?: boolean;
  /** Called after each case. */
  readonly onResult?: (result: CaseResult) => void;
  /** Called when a group of cases starts. */
  readonly progress?: (message: string) => void;
}

export interface ConformanceReport {
  readonly results: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
  /** The table and the final `N passed, M failed` line. */
  readonly text: string;
}

const GROUPS: readonly [string, (ctx: RunContext) => Promise<void>][] = [
  ['documents', documentCases],
  ['retrieval', retrievalCases],
  ['chat', chatCases],
  ['roles', roleCases],
  ['tenants API', tenantCases],
  ['audit', auditCases],
];

async function runCases(ctx: RunContext, options: ConformanceOptions): Promise<void> {
  const progress = options.progress ?? (() => undefined);
  progress('setting up 3 tenants in 2 MSPs');
  const ready = (await createTenants(ctx)) && (await seedDocuments(ctx));
  if (ready) {
    for (const [name, group] of GROUPS) {
      progress(name);
      await group(ctx);
    }
    progress('stores');
    const probe = ctx.local ? new StoreProbe(ctx.local.config) : undefined;
    try {
      await storeCases(ctx, probe);
    } finally {
      await probe?.close();
    }
  }
  if (!options.keep) {
    progress('cleanup');
    await deleteTenants(ctx);
  }
  progress('sweeps');
  await sweepCases(ctx);
}

/**
 * Runs the isolation conformance suite: creates three tenants in two MSPs, seeds them with
 * canaries, tries every route across every boundary, and scans everything it can reach.
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const runId = randomBytes(3).toString('hex');
  let local: LocalHarness | undefined;
  if (options.target.mode === 'local') {
    options.progress?.('starting the gateway and the test LLM on the local stack');
    local = await startLocal(runId);
  }
  try {
    const spec =
      options.target.mode === 'remote' ? options.target.spec : (local as LocalHarness).spec;
    const url = options.target.mode === 'remote' ? options.target.url : (local as LocalHarness).url;
    const world = new World(spec);
    const client = new GatewayClient(
      url.replace(/\/+$/, ''),
      world,
      runId,
      local ? () => local.llm.requests.length : undefined,
    );
    const suite = new Suite(client, options.onResult);
    const hasChat = await chatRouteExists(client, world.anonymous);
    await runCases({ suite, client, world, local, runId, hasChat }, options);
    return {
      results: suite.results,
      passed: suite.passed,
      failed: suite.failed,
      text: `${formatTable(suite.results)}\n\n${summaryLine(suite.results)}`,
    };
  } finally {
    await local?.close();
  }
}
