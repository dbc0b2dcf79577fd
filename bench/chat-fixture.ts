// What bench/chat and bench/request-cost share: a test LLM in its own process, and a tenant with
// twenty short cardiology documents created through the gateway's own API.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadArm } from './chat-load.js';
import { benchSigner } from './support.js';

/** The question every chat request asks. */
export const CHAT_BODY = {
  model: 'bench-chat',
  messages: [{ role: 'user', content: 'When is transcatheter valve replacement preferred?' }],
  max_tokens: 256,
} as const;

/** The first line a child process prints. */
export async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) return line;
  throw new Error('the child process printed nothing');
}

/** Runs one arm of load (bench/chat-load) in its own process and answers what it printed. */
export async function runLoad(arm: LoadArm): Promise<Record<string, number>> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./chat-load.js', import.meta.url)), JSON.stringify(arm)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(await firstLine(child)) as Record<string, number>;
}

/** Starts the test LLM (bench/chat-llm) in its own process; answers its URL and process. */
export async function startBenchLlm(): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./chat-llm.js', import.meta.url))],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const { url } = JSON.parse(await firstLine(child)) as { url: string };
  return { url, process: child };
}

/** The gateway settings that point it at the test LLM. */
export const llmSettings = (url: string): Record<string, string> => ({
  LLM_BASE_URL: url,
  LLM_MODEL: 'bench-chat',
  LLM_MAX_RETRIES: '0',
});

/** A tenant made through `baseUrl` with its documents; `remove()` deletes it again. */
export interface ChatTenant {
  readonly id: string;
  readonly userToken: string;
  remove(): Promise<void>;
}

/** Creates a fresh tenant of `prefix` through the gateway at `baseUrl`, with twenty documents. */
export async function createChatTenant(baseUrl: string, prefix: string): Promise<ChatTenant> {
  const sign = benchSigner(prefix);
  const id = `${prefix}-${Date.now().toString(36)}`;
  const operator = await sign({ msp_id: 'bench-msp', roles: ['operator'] });
  const post = async (path: string, token: string, body: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  };
  await post('/v1/tenants', operator, { id, name: id });
  const admin = await sign({ tenant_id: id, roles: ['admin'] });
  for (let i = 0; i < 20; i++) {
    await post('/v1/documents', admin, {
      id: `doc-${i}`,
      title: `Cardiology protocol ${i}`,
      text: `Protocol ${i}. Transcatheter aortic valve replacement is preferred for elderly patients with severe aortic stenosis and high surgical risk. `.repeat(
        6,
      ),
    });
  }
  return {
    id,
    userToken: await sign({ tenant_id: id, roles: ['user'] }),
    remove: async () => {
      await fetch(`${baseUrl}/v1/tenants/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${operator}` },
      });
    },
  };
}
