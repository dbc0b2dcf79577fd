import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { chatRequestSchema, type ChatRequestMessage } from './chat.schemas.js';
import { assertHonoured, modelOptionsOf, recordedMessages, turnOf } from './chat-request.js';

const clean = (text: string) => text.replaceAll('secret', '[X]');
const request = (body: Record<string, unknown>) =>
  chatRequestSchema.parse({ model: 'm', messages: [{ role: 'user', content: 'q' }], ...body });

describe('chat request mapping', () => {
  it('cleans tool-call arguments, tool results and tool descriptions, not schemas', () => {
    const body = request({
      messages: [
        { role: 'user', content: 'q secret' },
        {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":"secret"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'secret result' }] },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'f', description: 'secret tool', parameters: { title: 'secret' } },
        },
      ],
    });
    expect(body.messages.map((m) => turnOf(m, clean))).toEqual([
      { role: 'user', content: 'q [X]' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'c1', name: 'f', arguments: '{"a":"[X]"}' }],
      },
      { role: 'tool', content: '[X] result', toolCallId: 'c1' },
    ]);
    const refused = request({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: null, refusal: 'I cannot help with secret' },
        { role: 'user', content: 'q2' },
      ],
    }).messages[1];
    expect(refused && turnOf(refused, clean)).toEqual({
      role: 'assistant',
      content: 'I cannot help with [X]',
    });
    expect(modelOptionsOf(body, clean).tools).toEqual([
      {
        type: 'function',
        function: { name: 'f', description: '[X] tool', parameters: { title: 'secret' } },
      },
    ]);
  });

  it('refuses n > 1, images, and model-only options without a model, naming the parameter', () => {
    const refusals: [Record<string, unknown>, boolean, string, string][] = [
      [{ n: 3 }, true, 'unsupported_parameter', 'n'],
      [
        {
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] },
          ],
        },
        true,
        'images_disabled',
        'messages.0.content.0',
      ],
      [{ logprobs: true }, false, 'unsupported_parameter', 'logprobs'],
      [
        { response_format: { type: 'json_object' } },
        false,
        'unsupported_parameter',
        'response_format',
      ],
    ];
    for (const [body, hasModel, code, param] of refusals) {
      expect(() => assertHonoured(request(body), hasModel, false)).toThrow(
        expect.objectContaining({ code, details: { param } }),
      );
    }
    // Control: a model streams tools and logprobs.
    expect(() =>
      assertHonoured(
        request({
          logprobs: true,
          stream: true,
          tools: [{ type: 'function', function: { name: 'f' } }],
          tool_choice: 'required',
        }),
        true,
        false,
      ),
    ).not.toThrow();
    expect(() =>
      assertHonoured(request({ n: 1, response_format: { type: 'json_object' } }), true, false),
    ).not.toThrow();
  });

  it('lets image parts through only when the tenant allows them and a model can read them', () => {
    const withImage = request({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is secret here?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
          ],
        },
      ],
    });
    const param = { param: 'messages.0.content.1' };
    expect(() => assertHonoured(withImage, true, false)).toThrow(
      expect.objectContaining({ code: 'images_disabled', details: param }),
    );
    expect(() => assertHonoured(withImage, false, true)).toThrow(
      expect.objectContaining({ code: 'unsupported_parameter', details: param }),
    );
    expect(() => assertHonoured(withImage, true, true)).not.toThrow();

    const turn = turnOf(withImage.messages[0] as ChatRequestMessage, clean);
    expect(turn).toEqual({
      role: 'user',
      content: 'what is [X] here?',
      parts: [
        { type: 'text', text: 'what is [X] here?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
      ],
    });
    // On record, the image is its hash: never its bytes.
    const recorded = JSON.stringify(recordedMessages([turn]));
    expect(recorded).not.toContain('AAAA');
    expect(recorded).toContain(
      createHash('sha256').update('data:image/png;base64,AAAA').digest('hex'),
    );
  });
});
