/** embeddings: filled by later work; exported through this file only. */
export const LIB_NAME = 'embeddings';
