import { QdrantAdmin, tenantNames } from '@isogate/isolation';
import { freshId, testPool } from './db.js';
import { testConfig } from './env.js';
import type { FuzzRequest, FuzzTargets } from './fuzz-requests.js';
import { FuzzClient, fuzzCredentials, type FuzzResult } from './fuzz-runner.js';
import {
  snapshotTenant,
  unexplainedProblems,
  untouchedProblems,
  type TenantSnapshot,
} from './fuzz-invariants.js';
import { startGateway, type RunningGateway } from './gateway.js';
import { TestIdentityProvider } from './identity.js';
import { startOpenAiServer, type OpenAiServer } from './openai-server.js';
import { createTenantFixture, GatewayClient, type TenantFixture } from './traffic.js';

/**
 * A gateway ready to be fuzzed (used by test/fuzz.test.ts and bench/fuzz.ts): a fuzzed tenant
 * and a control tenant, both seeded under one MSP; the fuzzer holds the fuzzed tenant's tokens
 * and an operator of another MSP, never a token of the control tenant.
 */
export class FuzzSession {
  private constructor(
    private readonly parts: {
      idp: TestIdentityProvider;
      stranger: TestIdentityProvider;
      llm: OpenAiServer;
      gateway: RunningGateway;
      client: GatewayClient;
      fuzz: FuzzClient;
      qdrant: QdrantAdmin;
      setupOperator: string;
      fuzzOperator: string;
      fuzzed: TenantFixture;
      control: TenantFixture;
      before: { fuzzed: TenantSnapshot; control: TenantSnapshot };
    },
    readonly targets: FuzzTargets,
    private readonly superuser = testPool('superuser'),
  ) {}

  static async open(): Promise<FuzzSession> {
    const idp = await TestIdentityProvider.start();
    const stranger = await TestIdentityProvider.start();
    const llm = await startOpenAiServer();
    const config = testConfig({ ...idp.env, LLM_BASE_URL: llm.url, LLM_MODEL: 'test-chat' });
    const gateway = await startGateway(config);
    const client = new GatewayClient(gateway.url);
    const qdrant = new QdrantAdmin({ url: config.vectors.url, apiKey: config.vectors.apiKey });
    const sign = (claims: Record<string, unknown>) => idp.token(claims);
    const setupOperator = await sign({ msp_id: freshId('msp'), roles: ['operator'] });
    const fuzzed = await createTenantFixture(client, setupOperator, sign, {
      prefix: 'fz',
      docs: 3,
    });
    const control = await createTenantFixture(client, setupOperator, sign, {
      prefix: 'fzc',
      docs: 3,
    });
    const operatorMsp = freshId('fzmsp');
    const fuzzOperator = await sign({ msp_id: operatorMsp, roles: ['operator'] });
    const chat = await client.send(fuzzed.tokens.user, 'POST', '/v1/chat/completions', {});
    const targets: FuzzTargets = {
      fuzzedTenant: fuzzed.id,
      controlTenant: control.id,
      documentIds: fuzzed.docIds,
      controlDocumentIds: [...control.docIds, 'w-1'],
      chat: chat.status !== 404,
    };
    const credentials = await fuzzCredentials({
      sign,
      strangerSign: (claims) => stranger.token(claims),
      fuzzedTenant: fuzzed.id,
      controlTenant: control.id,
      operatorMsp,
    });
    const fuzz = new FuzzClient(gateway.url, credentials);
    const session = new FuzzSession(
      {
        idp,
        stranger,
        llm,
        gateway,
        client,
        fuzz,
        qdrant,
        setupOperator,
        fuzzOperator,
        fuzzed,
        control,
        before: undefined as never,
      },
      targets,
    );
    session.parts.before = {
      fuzzed: await session.snapshot(fuzzed),
      control: await session.snapshot(control),
    };
    return session;
  }

  /** Sends `requests`, `concurrency` at a time, and returns every result in request order. */
  async run(requests: readonly FuzzRequest[], concurrency = 1, onResult?: (r: FuzzResult) => void) {
    const results: FuzzResult[] = new Array<FuzzResult>(requests.length);
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        results[i] = await this.parts.fuzz.send(requests[i] as FuzzRequest);
        onResult?.(results[i]);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return results;
  }

  /**
   * What the run changed that it may not have: the gateway is down, the control tenant (its
   * documents, vectors, audit chain or record) changed at all, the fuzzed tenant changed
   * beyond what accepted requests explain, or a chain no longer verifies.
   */
  async invariantProblems(results: readonly FuzzResult[]): Promise<string[]> {
    const { client, fuzzed, control, before } = this.parts;
    const problems: string[] = [];
    const health = await client.send(undefined, 'GET', '/healthz');
    if (health.status !== 200) problems.push(`gateway not healthy: ${health.status}`);
    const after = { fuzzed: await this.snapshot(fuzzed), control: await this.snapshot(control) };
    problems.push(
      ...untouchedProblems(before.control, after.control).map((p) => `control tenant: ${p}`),
    );
    problems.push(
      ...unexplainedProblems(before.fuzzed, after.fuzzed, results).map(
        (p) => `fuzzed tenant: ${p}`,
      ),
    );
    for (const t of [fuzzed, control]) {
      const verify = await client.send(t.tokens.auditor, 'GET', '/v1/audit/verify');
      if (!verify.text.includes('"valid":true'))
        problems.push(`${t.id}: chain does not verify: ${verify.text.slice(0, 200)}`);
    }
    const own = await client.send(control.tokens.user, 'GET', `/v1/documents/${control.docIds[0]}`);
    if (!own.text.includes(control.canary))
      problems.push('control tenant cannot read its own document');
    return problems;
  }

  async close(): Promise<void> {
    const { idp, stranger, llm, gateway, client, fuzz, setupOperator, fuzzOperator } = this.parts;
    // Tenants that valid generated requests created belong to the fuzzing operator's MSP.
    const made = await client.send(fuzzOperator, 'GET', '/v1/tenants');
    for (const { id } of (JSON.parse(made.text) as { data?: { id: string }[] }).data ?? []) {
      await client.send(fuzzOperator, 'DELETE', `/v1/tenants/${id}`);
    }
    for (const t of [this.parts.fuzzed, this.parts.control]) {
      await client.send(setupOperator, 'DELETE', `/v1/tenants/${t.id}`);
    }
    await fuzz.close();
    await client.close();
    await gateway.close();
    await llm.close();
    await stranger.close();
    await idp.close();
    await this.superuser.end();
  }

  private async snapshot(tenant: TenantFixture): Promise<TenantSnapshot> {
    return snapshotTenant(this.superuser, tenant.id, async (id) => {
      const counted = await this.parts.qdrant.client.count(tenantNames(id).collection, {
        exact: true,
      });
      return counted.count;
    });
  }
}
