import { spawnSync } from 'node:child_process';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import type { AppConfig } from '../../apps/gateway/src/config/config.js';
import { testConfig, testEnv } from '../support/env.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import {
  startOpenAiServer,
  type ChatRequestBody,
  type OpenAiServer,
} from '../support/openai-server.js';
import { SLOTS, TENANT_ROLES, type WorldSpec } from './world.js';

const LLM_KEY = 'conformance-llm-key';

/** The local stack behind an in-process gateway, a recording test LLM, and minted tokens. */
export interface LocalHarness {
  readonly url: string;
  readonly config: AppConfig;
  readonly spec: WorldSpec;
  readonly llm: OpenAiServer;
  readonly gateway: RunningGateway;
  close(): Promise<void>;
}

/**
 * The test LLM answers with everything it was given. A deliberately leaky model: whatever the
 * gateway put in a tenant's context window comes back in that tenant's answer, so the answer
 * shows whose documents the context held.
 */
function echoContext(request: ChatRequestBody): string {
  const parts = request.messages.map((m) =>
    typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''),
  );
  return `Context echo: ${parts.join('\n---\n')}`;
}

function answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      done(true);
    });
    socket.on('error', () => done(false));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      done(false);
    });
  });
}

/** Starts the local stack (`scripts/stack.sh up`) unless it is set up and every store answers. */
async function ensureStack(): Promise<void> {
  if (existsSync(resolve(process.cwd(), '.stack/env'))) {
    const env = testEnv();
    const urls = [env.DATABASE_URL, env.REDIS_URL, env.FALKORDB_URL, env.QDRANT_URL];
    const up = await Promise.all(urls.map((u) => (u ? answers(u) : Promise.resolve(false))));
    if (up.every(Boolean)) return;
  }
  process.stderr.write('conformance: starting the local stack (scripts/stack.sh up)\n');
  // Its progress goes to stderr: stdout carries only the table.
  const run = spawnSync('bash', ['scripts/stack.sh', 'up'], { stdio: ['ignore', 2, 2] });
  if (run.status !== 0) throw new Error('the local stack did not start (scripts/stack.sh up)');
}

/** Signs tokens with the local stack's development key, as `npm run token` does. */
function signer(config: AppConfig): (claims: Record<string, unknown>) => Promise<string> {
  const file = testEnv().JWT_DEV_PRIVATE_KEY_FILE;
  if (file === undefined)
    throw new Error('JWT_DEV_PRIVATE_KEY_FILE is not set: run `npm run stack:up`');
  const key: KeyObject = createPrivateKey(readFileSync(file, 'utf8'));
  return (claims) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'isogate-dev', typ: 'JWT' })
      .setIssuer(config.auth.issuer)
      .setAudience(config.auth.audience)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(key);
}

/** Tokens for the run's tenants and operators, signed with the development key. */
export async function mintSpec(config: AppConfig, runId: string): Promise<WorldSpec> {
  const sign = signer(config);
  const operator = (label: string) =>
    sign({
      sub: `conformance-operator-${label}`,
      roles: ['operator'],
      msp_id: `cnf-${runId}-msp-${label}`,
    });
  const tenants = {} as Record<string, { id: string } & Record<string, string>>;
  for (const { slot } of SLOTS) {
    const id = `cnf-${runId}-${slot}`;
    const tokens: Record<string, string> = {};
    for (const role of TENANT_ROLES) {
      tokens[role] = await sign({
        sub: `conformance-${slot}-${role}`,
        roles: [role],
        tenant_id: id,
      });
    }
    tenants[slot] = { id, ...tokens };
  }
  return {
    tenants: tenants as unknown as WorldSpec['tenants'],
    operators: { A: await operator('a'), B: await operator('b') },
  };
}

/** Starts everything a local run needs. */
export async function startLocal(runId: string): Promise<LocalHarness> {
  await ensureStack();
  const llm = await startOpenAiServer({ dimensions: 16, answer: echoContext, apiKey: LLM_KEY });
  try {
    const config = testConfig({
      LOG_LEVEL: 'info',
      LLM_BASE_URL: llm.url,
      LLM_API_KEY: LLM_KEY,
      LLM_MODEL: 'test-chat',
      EMBEDDINGS_BASE_URL: llm.url,
      EMBEDDINGS_API_KEY: LLM_KEY,
      EMBEDDINGS_MODEL: 'test-embed',
      EMBEDDINGS_DIMENSIONS: '16',
    });
    const gateway = await startGateway(config);
    return {
      url: gateway.url,
      config,
      spec: await mintSpec(config, runId),
      llm,
      gateway,
      async close() {
        await gateway.close();
        await llm.close();
      },
    };
  } catch (error) {
    await llm.close();
    throw error;
  }
}
