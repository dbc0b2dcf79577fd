import type { Provider } from '@nestjs/common';
import { ChatModel } from '@isogate/models';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';

/** Injection token of the chat model, or `null` when no LLM is configured (extractive answers). */
export const CHAT_MODEL = Symbol('CHAT_MODEL');

export const chatModelProvider: Provider = {
  provide: CHAT_MODEL,
  inject: [APP_CONFIG],
  useFactory: ({ llm }: AppConfig): ChatModel | null =>
    llm.baseUrl === undefined
      ? null
      : new ChatModel({
          baseURL: llm.baseUrl,
          timeoutMs: llm.timeoutMs,
          maxRetries: llm.maxRetries,
          ...(llm.apiKey !== undefined ? { apiKey: llm.apiKey } : {}),
        }),
};
