// bench/stream: streamed chat completions through the gateway side by side with the same
// request sent straight to a test LLM that streams 200 words 10 ms apart (bench/stream-llm), in
// one run: time to the first content delta (at 1 and at 32 concurrent streams) against the
// retrieve latency measured in the same run, the gap between consecutive deltas, and 1,000
// streams open at once on one gateway (errors, resident memory per open stream). Arms are
// interleaved after a warm-up, over several runs. The LLM and the client run in their own
// processes (bench/stream-client); the gateway runs in this one, so its RSS is this process's.
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { CHAT_BODY, createChatTenant, llmSettings } from './chat-fixture.js';
import type { ClientTask, StreamsResult, Target } from './stream-client.js';
import type { LlmCommand } from './stream-llm.js';
import { quantile } from './support.js';
import { benchConfig } from './support.js';

const RUNS = Number(process.env.BENCH_STREAM_RUNS ?? 3);
/** Streams one after another per arm and run, at concurrency 1. */
const SEQUENTIAL = Number(process.env.BENCH_STREAM_SEQUENTIAL ?? 8);
/** Rounds of 32 streams opened at once per arm and run. */
const ROUNDS = Number(process.env.BENCH_STREAM_ROUNDS ?? 3);
const RETRIEVES = Number(process.env.BENCH_STREAM_RETRIEVES ?? 200);
const OPEN = Number(process.env.BENCH_STREAM_OPEN ?? 1_000);

/** A child of this bench, spoken to over its IPC channel. */
function child(script: string): { process: ChildProcess; next: () => Promise<unknown> } {
  const proc = fork(fileURLToPath(new URL(script, import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const queue: unknown[] = [];
  const waiting: ((message: unknown) => void)[] = [];
  proc.on('message', (message) => {
    const resolve = waiting.shift();
    if (resolve) resolve(message);
    else queue.push(message);
  });
  const next = () =>
    queue.length > 0
      ? Promise.resolve(queue.shift())
      : new Promise<unknown>((resolve) => waiting.push(resolve));
  return { process: proc, next };
}

const llm = child('./stream-llm.js');
const { url: llmUrl } = (await llm.next()) as { url: string };
const client = child('./stream-client.js');
const ask = async <T>(task: ClientTask): Promise<T> => {
  client.process.send(task);
  const answer = (await client.next()) as { result?: T; failure?: string };
  if (answer.failure !== undefined) throw new Error(answer.failure);
  return answer.result as T;
};
const tell = async (command: LlmCommand) => {
  llm.process.send(command);
  await llm.next();
};

// The cache off: every request retrieves, goes on record and calls the model.
const gateway = await createGateway(
  benchConfig({ ...llmSettings(llmUrl), CHAT_CACHE_TTL_SECONDS: '0' }),
);
await gateway.listen({ host: '127.0.0.1', port: 0 });
const address = gateway.getHttpServer().address();
const gatewayUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
const tenant = await createChatTenant(gatewayUrl, 'bench-stream');
const headers = { authorization: `Bearer ${tenant.userToken}` };
const arms = {
  direct: { url: `${llmUrl}/chat/completions`, headers: {}, body: CHAT_BODY },
  gateway: { url: `${gatewayUrl}/v1/chat/completions`, headers, body: CHAT_BODY },
} satisfies Record<string, Target>;
type Arm = keyof typeof arms;
const retrieve: Target = {
  url: `${gatewayUrl}/v1/retrieve`,
  headers,
  body: { query: CHAT_BODY.messages[0].content, top_k: 5 },
};

const streams = (arm: Arm, concurrency: number, rounds: number) =>
  ask<StreamsResult>({ kind: 'streams', target: arms[arm], concurrency, rounds });
const retrieved = (concurrency: number, rounds: number) =>
  ask<{ latencies: number[]; errors: number }>({
    kind: 'requests',
    target: retrieve,
    concurrency,
    rounds,
  });

console.error('warm-up');
for (const arm of ['direct', 'gateway'] as const) {
  await streams(arm, 1, 2);
  await streams(arm, 32, 1);
}
await retrieved(1, 50);
await retrieved(32, 1);

/** One run's figures at one concurrency, in milliseconds. */
interface Row {
  readonly run: number;
  readonly concurrency: number;
  readonly arm: Arm;
  readonly streams: number;
  readonly errors: number;
  readonly ttftP50: number;
  readonly ttftP99: number;
  readonly secondP50: number;
  readonly gapP50: number;
  readonly gapP99: number;
  /** CPU time of this process (the gateway's) per stream, and per content delta. */
  readonly cpuMsPerStream: number;
  readonly cpuMsPerDelta: number;
}
const rows: Row[] = [];
/** Retrieve latency per run: sequential, and 32 requests at once (as the streams at 32). */
const retrieves: {
  run: number;
  p50: number;
  p99: number;
  at32P50: number;
  at32P99: number;
  errors: number;
}[] = [];
for (let run = 1; run <= RUNS; run++) {
  // Which arm goes first alternates, so neither always meets a warmer gateway.
  const order: Arm[] = run % 2 === 1 ? ['direct', 'gateway'] : ['gateway', 'direct'];
  for (const concurrency of [1, 32]) {
    for (const arm of order) {
      const cpu = process.cpuUsage();
      const result = await streams(arm, concurrency, concurrency === 1 ? SEQUENTIAL : ROUNDS);
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1_000;
      const row: Row = {
        run,
        concurrency,
        arm,
        streams: result.streams,
        errors: result.errors,
        ttftP50: quantile(result.ttft, 0.5),
        ttftP99: quantile(result.ttft, 0.99),
        secondP50: quantile(result.second, 0.5),
        gapP50: quantile(result.gaps, 0.5),
        gapP99: quantile(result.gaps, 0.99),
        // The direct arm's figure is what this process does meanwhile without the gateway.
        cpuMsPerStream: cpuMs / result.streams,
        cpuMsPerDelta: cpuMs / (result.gaps.length + result.ttft.length),
      };
      rows.push(row);
      console.error(JSON.stringify(row));
    }
  }
  const { latencies, errors } = await retrieved(1, Math.ceil(RETRIEVES / RUNS));
  const at32 = await retrieved(32, ROUNDS);
  retrieves.push({
    run,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    at32P50: quantile(at32.latencies, 0.5),
    at32P99: quantile(at32.latencies, 0.99),
    errors: errors + at32.errors,
  });
  console.error(JSON.stringify(retrieves.at(-1)));
}

// 1,000 streams held open after their first content delta, then let go to their end.
const gc = (globalThis as { gc?: () => void }).gc;
await tell({ hold: true });
gc?.();
const before = process.memoryUsage();
const opening = performance.now();
client.process.send({ kind: 'open', target: arms.gateway, count: OPEN } satisfies ClientTask);
await client.next(); // every stream has had content (or failed)
const openMs = performance.now() - opening;
gc?.();
const during = process.memoryUsage();
await tell({ hold: false });
const opened = (await client.next()) as { result: StreamsResult };
const open = {
  streams: OPEN,
  errors: opened.result.errors,
  withContent: opened.result.ttft.length,
  secondsToOpenAll: openMs / 1_000,
  ttftP50: quantile(opened.result.ttft, 0.5),
  ttftP99: quantile(opened.result.ttft, 0.99),
  rssBeforeMiB: before.rss / 2 ** 20,
  rssOpenMiB: during.rss / 2 ** 20,
  rssKiBPerStream: (during.rss - before.rss) / 1_024 / OPEN,
  heapKiBPerStream: (during.heapUsed - before.heapUsed) / 1_024 / OPEN,
  gcBeforeReading: gc !== undefined,
};
console.error(JSON.stringify(open));

const median = (values: number[]) => quantile(values, 0.5);
const of = (concurrency: number, arm: Arm) =>
  rows.filter((r) => r.concurrency === concurrency && r.arm === arm);
const perRun = (concurrency: number, key: keyof Row) =>
  Array.from({ length: RUNS }, (_, i) => {
    const at = (arm: Arm) => of(concurrency, arm).find((r) => r.run === i + 1)?.[key] as number;
    return at('gateway') - at('direct');
  });
const retrieveP50 = median(retrieves.map((r) => r.p50));
const summary = {
  runs: RUNS,
  upstream: { words: 200, gapMs: 10 },
  retrieve: {
    p50: retrieveP50,
    p99: median(retrieves.map((r) => r.p99)),
    perRunP50: retrieves.map((r) => r.p50),
    at32P50: median(retrieves.map((r) => r.at32P50)),
    at32P99: median(retrieves.map((r) => r.at32P99)),
    errors: retrieves.reduce((s, r) => s + r.errors, 0),
  },
  concurrency: Object.fromEntries(
    [1, 32].map((c) => {
      const addedTtft = median(perRun(c, 'ttftP50'));
      const addedGap = median(perRun(c, 'gapP50'));
      return [
        c,
        {
          direct: medians(of(c, 'direct')),
          gateway: medians(of(c, 'gateway')),
          addedTtftP50: addedTtft,
          addedTtftPerRun: perRun(c, 'ttftP50'),
          addedGapP50: addedGap,
          addedGapP99: median(perRun(c, 'gapP99')),
          ttftGoalMet: addedTtft <= retrieveP50 + 3,
          // Not the goal: the same bound with retrieve timed at the streams' concurrency.
          ttftWithinRetrieveAtSameConcurrency:
            addedTtft <= (c === 1 ? retrieveP50 : median(retrieves.map((r) => r.at32P50))) + 3,
          gapGoalMet: addedGap <= 0.2,
        },
      ];
    }),
  ),
  open,
};
function medians(arm: Row[]) {
  const m = (key: keyof Row) => median(arm.map((r) => r[key] as number));
  return {
    streams: arm.reduce((s, r) => s + r.streams, 0),
    errors: arm.reduce((s, r) => s + r.errors, 0),
    ttftP50: m('ttftP50'),
    ttftP99: m('ttftP99'),
    secondP50: m('secondP50'),
    gapP50: m('gapP50'),
    gapP99: m('gapP99'),
    cpuMsPerStream: m('cpuMsPerStream'),
    cpuMsPerDelta: m('cpuMsPerDelta'),
  };
}
console.log(JSON.stringify(summary));

const f = (n: number, digits = 2) => (Number.isNaN(n) ? '-' : n.toFixed(digits));
console.log(
  `\nstreamed chat, 200 words 10 ms apart, ${RUNS} interleaved runs (medians across runs; ms)\n`,
);
console.log(
  '| concurrency | arm | streams | errors | TTFT p50 | TTFT p99 | 2nd delta p50 | gap p50 | gap p99 | bench process CPU ms/stream |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const c of [1, 32] as const) {
  for (const arm of ['direct', 'gateway'] as const) {
    const m = summary.concurrency[c]![arm];
    console.log(
      `| ${c} | ${arm} | ${m.streams} | ${m.errors} | ${f(m.ttftP50)} | ${f(m.ttftP99)} | ${f(m.secondP50)} | ${f(m.gapP50, 3)} | ${f(m.gapP99, 3)} | ${f(m.cpuMsPerStream, 1)} |`,
    );
  }
}
console.log(
  `\nretrieve p50 ${f(retrieveP50)} ms, p99 ${f(summary.retrieve.p99)} ms (sequential, ${RETRIEVES} calls in all); ` +
    `32 at once: p50 ${f(summary.retrieve.at32P50)} ms, p99 ${f(summary.retrieve.at32P99)} ms`,
);
for (const c of [1, 32] as const) {
  const s = summary.concurrency[c]!;
  console.log(
    `c=${c}: added TTFT p50 ${f(s.addedTtftP50)} ms (goal <= retrieve p50 + 3 = ${f(retrieveP50 + 3)}: ${s.ttftGoalMet ? 'met' : 'missed'}; ` +
      `within retrieve p50 at the same concurrency + 3: ${s.ttftWithinRetrieveAtSameConcurrency ? 'yes' : 'no'}), ` +
      `added gap p50 ${f(s.addedGapP50, 3)} ms (goal <= 0.2: ${s.gapGoalMet ? 'met' : 'missed'}), p99 ${f(s.addedGapP99, 3)} ms, ` +
      `gateway CPU ${f(s.gateway.cpuMsPerDelta, 3)} ms per delta`,
  );
}
console.log(
  `${OPEN} streams open at once: ${open.errors} errors, ${open.withContent} with content, all open after ${f(open.secondsToOpenAll)} s, ` +
    `RSS ${f(open.rssBeforeMiB, 0)} -> ${f(open.rssOpenMiB, 0)} MiB = ${f(open.rssKiBPerStream, 1)} KiB per open stream (heap ${f(open.heapKiBPerStream, 1)} KiB)`,
);

await tenant.remove();
await gateway.close();
client.process.kill('SIGTERM');
llm.process.kill('SIGTERM');
