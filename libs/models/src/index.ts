/**
 * models: the clients of the upstream models, chat and embeddings, over the OpenAI protocol
 * (OpenAI, Azure OpenAI, vLLM, Ollama, TEI). Exported through this file only.
 */
export { ChatModel, wireToolCall } from './chat-model.js';
export type {
  ChatModelAnswer,
  ChatModelDelta,
  ChatModelOptions,
  ChatModelRequest,
  ChatTurn,
  ContentPart,
  ResponseFormat,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
  ToolDefinition,
} from './chat-model.js';
export { DenseEmbedder } from './dense-embedder.js';
export type { DenseEmbedderOptions } from './dense-embedder.js';
