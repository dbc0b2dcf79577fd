/**
 * embeddings: turning documents into what the retrieval stores index. Token counting
 * (o200k_base), heading-aware chunking, entity extraction for the graph. Exported through this file only.
 */
export { chunkDocument, DEFAULT_CHUNK_OPTIONS, indexText } from './chunker.js';
export { PAGE_BREAK } from './sections.js';
export type { Chunk, ChunkOptions } from './chunker.js';
export { entityKey, extractEntities, MAX_ENTITIES } from './entities.js';
export type { Entity, EntityKind } from './entities.js';
export { LEXICAL_VERSION, lexicalText } from './lexical.js';
export { countTokens, decodeTokens, encodeTokens } from './tokens.js';
