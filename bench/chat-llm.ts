// The test LLM for bench/chat, in its own process so that it does not share the gateway's
// event loop: it answers at once (0 ms) with a fixed, cited answer.
import { startOpenAiServer } from '../test/support/openai-server.js';

const server = await startOpenAiServer({
  answer: () => 'Transcatheter valve replacement is preferred for elderly patients [1].',
  models: ['bench-chat'],
  keepRequests: false,
});
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
