// The test LLM for bench/stream, in its own process so that it does not share the gateway's
// event loop: it streams a 200-word answer, one word per delta, 10 ms apart. The parent can
// make it hold the next streams after their first two words (so that many stay open at once)
// and release them again, over the IPC channel.
import { startOpenAiServer } from '../test/support/openai-server.js';

/** Milliseconds between streamed deltas. */
export const GAP_MS = 10;
/** Words (so content deltas) of the answer. */
export const WORDS = 200;

/** What the parent sends: hold the next streams after their first words, or let them go on. */
export type LlmCommand = { readonly hold: boolean };

// Plain prose with `[n]` citations: what the link sanitizer passes on without a parse.
const text = Array.from({ length: WORDS }, (_, i) =>
  i % 20 === 19 ? `[${(i % 5) + 1}]` : `word${i}`,
).join(' ');

const server = await startOpenAiServer({
  answer: () => text,
  models: ['bench-chat'],
  keepRequests: false,
});
server.streamWith({ gapMs: GAP_MS });
process.on('message', (command: LlmCommand) => {
  // The role event and two words: the gateway, which holds back the last word, sends the first.
  // A new setting releases the streams held by the last one.
  server.streamWith(command.hold ? { gapMs: GAP_MS, holdAfter: 3 } : { gapMs: GAP_MS });
  process.send?.({ done: true });
});
process.send?.({ url: server.url });
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
