import { Tiktoken } from 'js-tiktoken/lite';
import o200kBase from 'js-tiktoken/ranks/o200k_base';

/** One pre-token (or slice of a long one) of the o200k_base split, and what it costs. */
export interface TokenPiece {
  readonly start: number;
  readonly end: number;
  readonly tokens: number;
}

// Building the encoder parses ~200k ranks (hundreds of ms), so it waits for the first caller.
let encoder: Tiktoken | undefined;
// The ranks ship inside js-tiktoken, so nothing is downloaded at run time.
const PIECE_PATTERN = new RegExp(o200kBase.pat_str, 'gu');
// BPE in JavaScript is slow and natural text repeats the same pieces, so a piece's token count
// is remembered. Bounded by clearing: simple, and the hot vocabulary refills within a document.
const PIECE_CACHE_LIMIT = 100_000;
const pieceCache = new Map<string, number>();
// js-tiktoken's BPE is quadratic in the length of a pre-token, and one pre-token can be a whole
// base64 blob or a line of CJK text (a 512-character one takes ~300 ms). Longer pre-tokens are
// counted in slices of this many UTF-16 units: the cost stays linear, and the count exceeds a
// full encoding by about one token per slice, the safe side for a budget.
const SLICE_UNITS = 48;

function tokenizer(): Tiktoken {
  encoder ??= new Tiktoken(o200kBase);
  return encoder;
}

/**
 * Encodes `text` with o200k_base (a full encoding: slow on long unbroken runs, where
 * `countTokens` is not). Special-token strings such as `<|endoftext|>` in the text are
 * encoded as plain text: a document must never be able to inject a control token (and
 * js-tiktoken would otherwise throw on them).
 */
export function encodeTokens(text: string): number[] {
  return tokenizer().encode(text, [], []);
}

/** Decodes o200k_base token ids back to text. */
export function decodeTokens(tokens: readonly number[]): string {
  return tokenizer().decode([...tokens]);
}

function pieceTokens(piece: string): number {
  let count = pieceCache.get(piece);
  if (count === undefined) {
    count = encodeTokens(piece).length;
    if (pieceCache.size >= PIECE_CACHE_LIMIT) pieceCache.clear();
    pieceCache.set(piece, count);
  }
  return count;
}

// Calls `visit` for each pre-token, or each slice of a long one; a loop, not a generator,
// because this is the chunker's hot path.
function eachPiece(
  text: string,
  visit: (start: number, end: number, tokens: number) => void,
): void {
  for (const match of text.matchAll(PIECE_PATTERN)) {
    const piece = match[0];
    const offset = match.index;
    if (piece.length <= SLICE_UNITS) {
      visit(offset, offset + piece.length, pieceTokens(piece));
      continue;
    }
    for (let start = 0; start < piece.length;) {
      let end = Math.min(start + SLICE_UNITS, piece.length);
      const last = piece.charCodeAt(end - 1);
      if (end < piece.length && last >= 0xd800 && last <= 0xdbff) end--; // keep surrogate pairs
      visit(offset + start, offset + end, pieceTokens(piece.slice(start, end)));
      start = end;
    }
  }
}

/**
 * Splits `text` into the pre-tokens o200k_base encodes independently (long ones in slices),
 * with each one's token count. The counts add up to `countTokens(text)`.
 */
export function tokenPieces(text: string): TokenPiece[] {
  const pieces: TokenPiece[] = [];
  eachPiece(text, (start, end, tokens) => pieces.push({ start, end, tokens }));
  return pieces;
}

/**
 * The number of o200k_base tokens in `text` (the encoding of current OpenAI models). Equal to
 * a full encoding for prose; for unbroken runs longer than 48 characters it may count a token
 * more per 48 characters, so that no text can make counting slow.
 */
export function countTokens(text: string): number {
  let total = 0;
  eachPiece(text, (_start, _end, tokens) => (total += tokens));
  return total;
}
