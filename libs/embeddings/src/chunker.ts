import { SectionSplitter } from './section-splitter.js';
import { PAGE_BREAK, splitSections } from './sections.js';

/** How big chunks are, in o200k_base tokens. */
export interface ChunkOptions {
  /** Upper bound on a chunk's `text`, 16..8192. */
  readonly maxTokens: number;
  /**
   * Tokens shared by consecutive chunks of one section, 0 <= overlap < maxTokens / 2. When
   * left out: 40, or a fifth of `maxTokens` when that is less.
   */
  readonly overlapTokens: number;
}

/** One piece of a document, the unit that is indexed and retrieved. */
export interface Chunk {
  /** Position in the document, from 0. */
  readonly index: number;
  /** The heading path above the chunk (`Methods > Sampling`), or undefined before any heading. */
  readonly heading: string | undefined;
  /** The page the chunk is on, from 1, when the text has page breaks (form feeds). */
  readonly page?: number;
  readonly text: string;
  /** The token count of `text`. */
  readonly tokens: number;
}

/**
 * The defaults: an abstract or a few paragraphs per chunk. Retrieval ranks documents by their
 * best chunk, and a chunk that holds a whole thought carries all of its terms. On the BEIR
 * collections of bench/retrieval-quality (gateway BM25, avg_len 70, no lexical variants,
 * nDCG@10), 512 tokens beat 200 on SciFact (0.690 against 0.685), CISI (0.327 / 0.320) and
 * Cranfield (0.384 / 0.372) and tied on CACM (0.445 / 0.449); 300 tokens fell in between and
 * whole documents matched 512. Five passages still fit a small context window.
 */
export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { maxTokens: 512, overlapTokens: 40 };

function resolveOptions(options: Partial<ChunkOptions>): ChunkOptions {
  const maxTokens = options.maxTokens ?? DEFAULT_CHUNK_OPTIONS.maxTokens;
  // Only a given overlap can be out of range: the default shrinks to a fifth of a small budget.
  const overlapTokens =
    options.overlapTokens ??
    Math.min(DEFAULT_CHUNK_OPTIONS.overlapTokens, Math.floor(maxTokens / 5));
  if (!Number.isInteger(maxTokens) || maxTokens < 16 || maxTokens > 8192) {
    throw new RangeError(`maxTokens must be an integer from 16 to 8192, got ${maxTokens}`);
  }
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens / 2) {
    throw new RangeError(
      `overlapTokens must be an integer from 0 to below maxTokens / 2, got ${overlapTokens}`,
    );
  }
  return { maxTokens, overlapTokens };
}

/**
 * Cuts a document into token-bounded chunks. Markdown ATX headings start sections and no chunk
 * spans two of them; nor does a chunk span a page break (a form feed, as in text extracted from
 * a PDF), and in text that has them each chunk carries its page. Within a section, cuts prefer
 * paragraph, then sentence, then word boundaries, and only split a word that alone exceeds the
 * budget. Deterministic.
 * @throws RangeError when the options are out of range.
 */
export function chunkDocument(
  doc: { readonly title: string; readonly text: string },
  options: Partial<ChunkOptions> = {},
): Chunk[] {
  const { maxTokens, overlapTokens } = resolveOptions(options);
  const paged = doc.text.includes(PAGE_BREAK);
  const chunks: Chunk[] = [];
  for (const section of splitSections(doc.text)) {
    for (const [offset, part] of section.body.split(PAGE_BREAK).entries()) {
      const page = paged ? { page: 1 + section.breaks + offset } : {};
      for (const piece of new SectionSplitter(part, maxTokens, overlapTokens).split()) {
        chunks.push({ index: chunks.length, heading: section.heading, ...page, ...piece });
      }
    }
  }
  return chunks;
}

/**
 * The text BM25, the dense embedder and the entity graph see for a chunk: the document title,
 * the heading path (when there is one that differs from the title) and the chunk text, one per
 * line. Carrying the title and heading lets a chunk match questions that name its context.
 */
export function indexText(title: string, chunk: Chunk): string {
  const parts = [title.trim()];
  const heading = chunk.heading?.trim();
  if (heading && heading !== parts[0]) parts.push(heading);
  parts.push(chunk.text);
  return parts.filter((part) => part !== '').join('\n');
}
