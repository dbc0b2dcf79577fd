import { sha256Hex } from '@isogate/audit';
import type { ChatModelRequest, ChatTurn, ContentPart, ToolDefinition } from '@isogate/models';
import { IsogateError } from '@isogate/isolation';
import type { ChatRequest, ChatRequestMessage } from './chat.schemas.js';

/** What a request asks of the model beyond sampling: tools, answer format, logprobs. */
export type ModelOptions = Pick<
  ChatModelRequest,
  'tools' | 'toolChoice' | 'parallelToolCalls' | 'responseFormat' | 'logprobs' | 'topLogprobs'
>;

/**
 * Refuses what is well-formed OpenAI but would not be honoured, before anything is read or
 * spent: several choices, image parts (unless the tenant's operator turned them on, and a
 * model can read them), and what only a model can do when none is configured.
 * @throws IsogateError `unsupported_parameter` or `images_disabled` (422), naming `param`.
 */
export function assertHonoured(body: ChatRequest, hasModel: boolean, images: boolean): void {
  if (body.n != null && body.n > 1) {
    // One answer per request: it is the one the audit event and the interaction record hold.
    throw unsupported('n', 'n > 1 is not supported: the gateway answers with one choice');
  }
  body.messages.forEach((message, i) => {
    if (message.role !== 'user' || typeof message.content === 'string') return;
    const j = message.content.findIndex((part) => part.type === 'image_url');
    if (j < 0) return;
    const param = `messages.${i}.content.${j}`;
    if (!images) {
      throw new IsogateError(
        'images_disabled',
        'Image content parts are not enabled for this tenant; send text parts only',
        { param },
      );
    }
    if (!hasModel) {
      throw unsupported(param, 'No language model is configured: no image can be read');
    }
  });
  if (hasModel) return;
  const forced = body.tool_choice === 'required' || typeof body.tool_choice === 'object';
  if (forced && body.tool_choice !== null) {
    throw unsupported('tool_choice', 'No language model is configured: no tool can be called');
  }
  if (body.response_format != null && body.response_format.type !== 'text') {
    throw unsupported('response_format', 'No language model is configured: no JSON can be made');
  }
  if (body.logprobs === true) {
    throw unsupported('logprobs', 'No language model is configured: there are no logprobs');
  }
}

function unsupported(param: string, message: string): IsogateError {
  return new IsogateError('unsupported_parameter', message, { param });
}

/**
 * The request's tools, tool choice, answer format and logprobs for the model. Descriptions are
 * text the model reads, so the tenant's PII rules apply to them as to the messages; parameter
 * schemas are structure and go as sent.
 */
export function modelOptionsOf(body: ChatRequest, clean: (text: string) => string): ModelOptions {
  const options: { -readonly [K in keyof ModelOptions]: ModelOptions[K] } = {};
  if (body.tools != null) options.tools = body.tools.map((tool) => cleanTool(tool, clean));
  if (body.tool_choice != null) options.toolChoice = body.tool_choice;
  if (body.parallel_tool_calls != null) options.parallelToolCalls = body.parallel_tool_calls;
  if (body.response_format != null) {
    const format = body.response_format;
    options.responseFormat =
      format.type === 'json_schema' && format.json_schema.description !== undefined
        ? {
            ...format,
            json_schema: {
              ...format.json_schema,
              description: clean(format.json_schema.description),
            },
          }
        : format;
  }
  if (body.logprobs != null) options.logprobs = body.logprobs;
  if (body.top_logprobs != null) options.topLogprobs = body.top_logprobs;
  return options;
}

function cleanTool(tool: ToolDefinition, clean: (text: string) => string): ToolDefinition {
  const { description } = tool.function;
  if (description === undefined) return tool;
  return { ...tool, function: { ...tool.function, description: clean(description) } };
}

/**
 * A caller's message as the model gets it: `developer` as `system`, text parts joined, and the
 * tenant's PII rules applied to every text the model reads, tool-call arguments and tool
 * results included.
 */
export function turnOf(message: ChatRequestMessage, clean: (text: string) => string): ChatTurn {
  switch (message.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: clean(textOf(message.content)) };
    case 'user': {
      const content = clean(textOf(message.content));
      if (typeof message.content === 'string') return { role: 'user', content };
      if (!message.content.some((part) => part.type === 'image_url')) {
        return { role: 'user', content };
      }
      // Images (admitted by assertHonoured) go in their place among the cleaned text parts.
      const parts = message.content.map((part): ContentPart =>
        part.type === 'text' ? { type: 'text', text: clean(part.text) } : part,
      );
      return { role: 'user', content, parts };
    }
    case 'tool':
      return {
        role: 'tool',
        content: clean(textOf(message.content)),
        toolCallId: message.tool_call_id,
      };
    case 'assistant': {
      // An answer echoed back from the SDK may carry its refusal in place of content.
      const text = message.content ?? message.refusal ?? '';
      const content = clean(textOf(text));
      if (message.tool_calls === undefined) return { role: 'assistant', content };
      const toolCalls = message.tool_calls.map((call) => ({
        id: call.id,
        name: call.function.name,
        arguments: clean(call.function.arguments),
      }));
      return { role: 'assistant', content, toolCalls };
    }
  }
}

/**
 * Messages as they are kept on record (the interaction's prompt, the cached answer's): an image
 * is its SHA-256 and detail, never its bytes or URL.
 */
export function recordedMessages(messages: readonly ChatTurn[]): readonly unknown[] {
  return messages.map((turn) =>
    turn.parts === undefined
      ? turn
      : {
          ...turn,
          parts: turn.parts.map((part) =>
            part.type === 'text'
              ? part
              : {
                  type: 'image_url',
                  image_url: {
                    sha256: sha256Hex(part.image_url.url),
                    ...(part.image_url.detail !== undefined
                      ? { detail: part.image_url.detail }
                      : {}),
                  },
                },
          ),
        },
  );
}

/** The text of a content: a string, or its text parts joined (image parts were refused). */
function textOf(content: string | readonly { type: string; text?: string }[]): string {
  if (typeof content === 'string') return content;
  return content.flatMap((part) => (part.type === 'text' ? [part.text ?? ''] : [])).join('\n');
}
