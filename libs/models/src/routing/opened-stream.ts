import type { ChatModelDelta } from '../chat-model.js';

/** A stream whose first delta with content has arrived; `deltas` yields from the first on. */
export interface OpenedStream {
  readonly deltas: AsyncGenerator<ChatModelDelta>;
}

/**
 * Reads `stream` up to its first delta that carries something, holding back the empty ones
 * before it (the role event): until then nothing can have been forwarded, so a failure is
 * thrown here, where the router may still fall back.
 */
export async function openStream(stream: AsyncGenerator<ChatModelDelta>): Promise<OpenedStream> {
  const held: ChatModelDelta[] = [];
  for (;;) {
    const next = await stream.next();
    if (next.done === true) return { deltas: replay(held, stream) };
    held.push(next.value);
    if (carries(next.value)) return { deltas: replay(held, stream) };
  }
}

async function* replay(
  held: readonly ChatModelDelta[],
  rest: AsyncGenerator<ChatModelDelta>,
): AsyncGenerator<ChatModelDelta> {
  try {
    yield* held;
    for (;;) {
      const next = await rest.next();
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    // Stopping early closes the upstream request (ChatModel.stream's own finally).
    await rest.return(undefined);
  }
}

function carries(delta: ChatModelDelta): boolean {
  return (
    delta.text !== '' ||
    delta.toolCalls.length > 0 ||
    delta.finishReason !== null ||
    delta.usage !== null ||
    delta.logprobs !== null
  );
}
