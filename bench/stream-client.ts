// The client of bench/stream, in its own process (the gateway under test runs in the parent's,
// and a client on its event loop would delay the very deltas it times). Asked over the IPC
// channel, it opens streamed chat completions and records when each content delta arrives, or
// times sequential plain requests.
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';

/** A request the client sends: a POST with a JSON body. */
export interface Target {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** What the parent asks for. */
export type ClientTask =
  | {
      /** `concurrency` streams opened at once, `rounds` times in a row. */
      readonly kind: 'streams';
      readonly target: Target;
      readonly concurrency: number;
      readonly rounds: number;
    }
  | {
      /** `count` streams opened at once; reports `open` once each has had content. */
      readonly kind: 'open';
      readonly target: Target;
      readonly count: number;
    }
  | {
      /** Plain requests, `concurrency` at once, `rounds` times in a row. */
      readonly kind: 'requests';
      readonly target: Target;
      readonly concurrency: number;
      readonly rounds: number;
    };

/** What a run of streams answers: times in milliseconds. */
export interface StreamsResult {
  /** From each request's start to its first content delta. */
  readonly ttft: number[];
  /** From each request's start to its second content delta. */
  readonly second: number[];
  /** Between consecutive content deltas of a stream. */
  readonly gaps: number[];
  /** Non-200 answers, error events, failed connections and streams without `[DONE]`. */
  readonly errors: number;
  readonly streams: number;
}

// Enough connections for every stream at once, each kept alive for the next round.
const agent = new Agent({ connections: 2_048, keepAliveTimeout: 60_000 });

/** One stream: the arrival time of each content delta, and whether it ended well. */
async function stream(target: Target, onContent: () => void) {
  const start = performance.now();
  const arrivals: number[] = [];
  let done = false;
  let failed = false;
  try {
    const response = await request(target.url, {
      dispatcher: agent,
      method: 'POST',
      headers: { ...target.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ ...(target.body as object), stream: true }),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return { start, arrivals, ok: false };
    }
    let pending = '';
    for await (const chunk of response.body) {
      // Timed as it arrives, before any parsing.
      const at = performance.now();
      pending += (chunk as Buffer).toString('utf8');
      const events = pending.split('\n\n');
      pending = events.pop() ?? '';
      for (const event of events) {
        if (!event.startsWith('data: ')) continue;
        const data = event.slice(6);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const parsed = JSON.parse(data) as {
          error?: unknown;
          choices?: { delta?: { content?: string } }[];
        };
        if (parsed.error !== undefined) failed = true;
        if ((parsed.choices?.[0]?.delta?.content ?? '') !== '') {
          if (arrivals.length === 0) onContent();
          arrivals.push(at);
        }
      }
    }
  } catch {
    failed = true;
  }
  return { start, arrivals, ok: done && !failed };
}

function collect(runs: Awaited<ReturnType<typeof stream>>[]): StreamsResult {
  const ttft: number[] = [];
  const second: number[] = [];
  const gaps: number[] = [];
  let errors = 0;
  for (const run of runs) {
    if (!run.ok) errors++;
    const [first] = run.arrivals;
    if (first !== undefined) ttft.push(first - run.start);
    if (run.arrivals[1] !== undefined) second.push(run.arrivals[1] - run.start);
    for (let i = 1; i < run.arrivals.length; i++) {
      gaps.push((run.arrivals[i] as number) - (run.arrivals[i - 1] as number));
    }
  }
  return { ttft, second, gaps, errors, streams: runs.length };
}

async function streams(target: Target, concurrency: number, rounds: number) {
  const runs: Awaited<ReturnType<typeof stream>>[] = [];
  for (let round = 0; round < rounds; round++) {
    const opened = Array.from({ length: concurrency }, () => stream(target, () => {}));
    runs.push(...(await Promise.all(opened)));
  }
  return collect(runs);
}

async function open(target: Target, count: number) {
  // Settled: had content, or ended without any (an error, counted when the stream ends).
  let settled = 0;
  const settle = () => {
    if (++settled === count) process.send?.({ open: true });
  };
  const one = async () => {
    let content = false;
    const run = await stream(target, () => {
      content = true;
      settle();
    });
    if (!content) settle();
    return run;
  };
  return collect(await Promise.all(Array.from({ length: count }, one)));
}

async function requests(target: Target, concurrency: number, rounds: number) {
  const latencies: number[] = [];
  let errors = 0;
  const one = async () => {
    const start = performance.now();
    try {
      const response = await request(target.url, {
        dispatcher: agent,
        method: 'POST',
        headers: { ...target.headers, 'content-type': 'application/json' },
        body: JSON.stringify(target.body),
      });
      await response.body.dump();
      if (response.statusCode !== 200) errors++;
    } catch {
      errors++;
    }
    latencies.push(performance.now() - start);
  };
  for (let round = 0; round < rounds; round++) {
    await Promise.all(Array.from({ length: concurrency }, one));
  }
  return { latencies, errors };
}

process.on('message', (task: ClientTask) => {
  const work =
    task.kind === 'streams'
      ? streams(task.target, task.concurrency, task.rounds)
      : task.kind === 'open'
        ? open(task.target, task.count)
        : requests(task.target, task.concurrency, task.rounds);
  work.then(
    (result) => process.send?.({ result }),
    (error: unknown) => process.send?.({ failure: String(error) }),
  );
});
