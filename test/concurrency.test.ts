import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freshId, testPool } from './support/db.js';
import { testConfig } from './support/env.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { TestIdentityProvider } from './support/identity.js';
import { startOpenAiServer, type OpenAiServer } from './support/openai-server.js';
import {
  createTenantFixture,
  GatewayClient,
  sendKind,
  type TenantFixture,
  type TrafficKind,
} from './support/traffic.js';
import { auditProblems, tally } from './support/traffic-run.js';

/** Requests per tenant, all in flight at once. */
const PER_TENANT = 200;

/**
 * The tenant context must follow each request through every await, even when requests of two
 * tenants share one PostgreSQL connection (pool of 1) and one store connection slot each
 * (TENANT_CONNECTIONS_MAX=1: every switch of tenant closes one tenant's Redis and FalkorDB
 * connection and opens the other's). A context that leaked across requests, a `set_config`
 * that outlived its transaction or a connection reused as the wrong user would show here as
 * one tenant's canary in the other's answers or events.
 */
describe('tenant context under concurrency', () => {
  let idp: TestIdentityProvider;
  let llm: OpenAiServer;
  let gateway: RunningGateway;
  let client: GatewayClient;
  let operator: string;
  let tenants: TenantFixture[];
  let kinds: TrafficKind[];
  const superuser = testPool('superuser');

  beforeAll(async () => {
    idp = await TestIdentityProvider.start();
    llm = await startOpenAiServer();
    gateway = await startGateway(
      testConfig({
        ...idp.env,
        LLM_BASE_URL: llm.url,
        LLM_MODEL: 'test-chat',
        DATABASE_POOL_MAX: '1',
        TENANT_CONNECTIONS_MAX: '1',
      }),
    );
    client = new GatewayClient(gateway.url, PER_TENANT * 2);
    operator = await idp.token({ msp_id: freshId('msp'), roles: ['operator'] });
    const sign = (claims: Record<string, unknown>) => idp.token(claims);
    tenants = [
      await createTenantFixture(client, operator, sign, { prefix: 'cc' }),
      await createTenantFixture(client, operator, sign, { prefix: 'cc' }),
    ];
    kinds = ['retrieve', 'list', 'get', 'ingest', 'audit', 'chat'];
  });
  afterAll(async () => {
    for (const t of tenants ?? []) await client.send(operator, 'DELETE', `/v1/tenants/${t.id}`);
    await client.close();
    await gateway.close();
    await llm.close();
    await idp.close();
    await superuser.end();
  });

  it('answers each of 2 x 200 concurrent mixed requests with its caller’s data, audited in its chain', async () => {
    const jobs = tenants.flatMap((tenant) =>
      Array.from({ length: PER_TENANT }, (_, i) =>
        sendKind(client, kinds[i % kinds.length] as TrafficKind, tenant, tenants, i),
      ),
    );
    const outcomes = await Promise.all(jobs);
    const counts = tally(outcomes);
    process.stdout.write(`concurrency: ${JSON.stringify(counts)}\n`);

    expect(outcomes.filter((o) => o.leak)).toEqual([]);
    // Only 2xx, or a 503 that names no internals (the one connection can be busy for long).
    const unexpected = outcomes.filter(
      (o) => !(o.status >= 200 && o.status < 300) && !(o.status === 503 && !o.internals),
    );
    expect(unexpected).toEqual([]);
    const succeeded = outcomes.filter((o) => o.status >= 200 && o.status < 300);
    expect(succeeded.filter((o) => !o.own)).toEqual([]);
    for (const kind of kinds) expect(succeeded.some((o) => o.kind === kind)).toBe(true);
    expect(await auditProblems(superuser, outcomes)).toEqual([]);

    // Every request left exactly one event, in its own tenant's chain, as its own caller.
    const events = await superuser.query<{ tenant_id: string; request_id: string; actor: string }>(
      'SELECT tenant_id, request_id, actor FROM audit_events WHERE request_id = ANY($1)',
      [outcomes.map((o) => o.requestId)],
    );
    const byRequest = new Map(outcomes.map((o) => [o.requestId, o]));
    const seen = new Map<string, number>();
    for (const event of events.rows) {
      const outcome = byRequest.get(event.request_id);
      const tenant = tenants.find((t) => t.id === outcome?.tenantId);
      expect([event.tenant_id, event.actor]).toEqual([tenant?.id, tenant?.subject]);
      seen.set(event.request_id, (seen.get(event.request_id) ?? 0) + 1);
    }
    const audited = outcomes.filter((o) => o.auditId !== null);
    expect(audited.filter((o) => seen.get(o.requestId) !== 1)).toEqual([]);

    // Each chain still verifies, and each auditor sees its own tenant's events only.
    for (const t of tenants) {
      const verify = await client.send(t.tokens.auditor, 'GET', '/v1/audit/verify');
      expect(JSON.parse(verify.text)).toMatchObject({ valid: true });
    }
  });
});
