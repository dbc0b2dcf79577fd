import { countTokens, tokenPieces } from './tokens.js';

/** A piece of chunk text with its exact token count. */
export interface SplitPiece {
  readonly text: string;
  readonly tokens: number;
}

// How good a place between two pre-tokens is for a cut.
const NONE = 0;
const WORD = 1;
const SENTENCE = 2;
const PARAGRAPH = 3;
// A paragraph or sentence cut is taken only when the chunk is at least this full; otherwise a
// cut at a word boundary later in the window keeps chunks from being tiny.
const MIN_FILL = 0.5;
const SENTENCE_END = /[.!?…]["'”’)\]]*$/u;

function isSpace(code: number): boolean {
  return (
    code === 32 ||
    (code >= 9 && code <= 13) ||
    (code > 127 && /\s/u.test(String.fromCharCode(code)))
  );
}

function boundaryStrength(text: string, at: number): number {
  let from = at;
  while (from > 0 && isSpace(text.charCodeAt(from - 1))) from--;
  let to = at;
  while (to < text.length && isSpace(text.charCodeAt(to))) to++;
  if (from === to) return NONE;
  let newlines = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) newlines++;
  if (newlines >= 2) return PARAGRAPH;
  // A single line break (list item, table row) ends a unit much like a sentence does.
  if (newlines === 1) return SENTENCE;
  return SENTENCE_END.test(text.slice(Math.max(0, from - 4), from)) ? SENTENCE : WORD;
}

/**
 * Splits one section's body into texts of at most `maxTokens` tokens, consecutive ones sharing
 * about `overlapTokens` tokens. The body is split into pre-tokens once; cuts are chosen on
 * their summed counts, and only each chosen chunk is counted again (trimming its edges can
 * change the count by a token, and the budget must hold for the text as stored).
 */
export class SectionSplitter {
  // starts[i] is where pre-token i begins; starts[n] is the end of the body.
  private readonly starts: number[] = [];
  // cum[i] is the token count of pre-tokens 0..i-1.
  private readonly cum: number[] = [0];
  private readonly strength: number[] = [];

  constructor(
    private readonly body: string,
    private readonly maxTokens: number,
    private readonly overlapTokens: number,
  ) {
    for (const piece of tokenPieces(body)) {
      if (!/\S/u.test(body.slice(piece.start, piece.end)) && this.starts.length === 0) continue;
      if (piece.tokens > maxTokens / 2) this.addFragments(piece.start, piece.end);
      else this.add(piece.start, piece.tokens);
    }
    this.trimTrailingSpace();
    for (let i = 0; i < this.starts.length; i++) {
      this.strength.push(boundaryStrength(body, this.starts[i] ?? 0));
    }
  }

  /** The chunk texts of the section, in order. */
  split(): SplitPiece[] {
    const n = this.starts.length - 1;
    const out: SplitPiece[] = [];
    let start = 0;
    let floor = 0;
    while (start < n) {
      const limit = this.windowEnd(start, n);
      const cut = limit === n ? n : this.chooseCut(start, floor, limit);
      if (cut === undefined && start < floor) {
        start = floor; // dropping the overlap is better than cutting a word that would fit
        continue;
      }
      const fitted = this.fit(start, floor, cut ?? limit);
      if (fitted === undefined) {
        start = floor;
        continue;
      }
      if (fitted.piece.text !== '') out.push(fitted.piece);
      if (fitted.end === n) break;
      floor = fitted.end;
      start = this.overlapStart(start, fitted.end);
    }
    return out;
  }

  private add(start: number, tokens: number): void {
    this.starts.push(start);
    this.cum.push((this.cum[this.cum.length - 1] ?? 0) + tokens);
  }

  // A pre-token of more than half the budget (a long unbroken run of letters) is cut into
  // fragments so that a chunk can always hold at least one unit, even once trimmed.
  private addFragments(start: number, end: number): void {
    let from = start;
    while (from < end) {
      let lo = from + 1;
      let hi = end;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (countTokens(this.body.slice(from, mid)) <= this.maxTokens / 2) lo = mid;
        else hi = mid - 1;
      }
      const code = this.body.charCodeAt(lo);
      if (lo < end && code >= 0xdc00 && code <= 0xdfff) lo += lo - 1 > from ? -1 : 1; // keep pairs
      this.add(from, countTokens(this.body.slice(from, lo)));
      from = lo;
    }
  }

  private trimTrailingSpace(): void {
    let end = this.body.length;
    while (this.starts.length > 0) {
      const last = this.starts[this.starts.length - 1] ?? 0;
      if (/\S/u.test(this.body.slice(last, end))) break;
      this.starts.pop();
      this.cum.pop();
      end = last;
    }
    this.starts.push(end);
  }

  private tokensBetween(from: number, to: number): number {
    return (this.cum[to] ?? 0) - (this.cum[from] ?? 0);
  }

  private windowEnd(start: number, n: number): number {
    let end = start + 1;
    while (end < n && this.tokensBetween(start, end + 1) <= this.maxTokens) end++;
    return end;
  }

  private chooseCut(start: number, floor: number, limit: number): number | undefined {
    const minFill = this.maxTokens * MIN_FILL;
    let paragraph: number | undefined;
    let sentence: number | undefined;
    let word: number | undefined;
    for (let i = limit; i > floor && i > start; i--) {
      const strength = this.strength[i] ?? NONE;
      if (strength === NONE) continue;
      word ??= i;
      const full = this.tokensBetween(start, i) >= minFill;
      if (full && strength >= SENTENCE) sentence ??= i;
      if (full && strength === PARAGRAPH) {
        paragraph = i;
        break;
      }
    }
    const best = paragraph ?? sentence ?? word;
    if (best !== undefined) return best;
    // No word boundary after the floor: the word there is longer than the whole budget.
    return start < floor ? undefined : limit;
  }

  private fit(
    start: number,
    floor: number,
    cut: number,
  ): { piece: SplitPiece; end: number } | undefined {
    for (let end = cut; end > Math.max(start, floor); end = this.previousCut(end, floor)) {
      const text = this.body.slice(this.starts[start], this.starts[end]).trim();
      const tokens = countTokens(text);
      if (tokens <= this.maxTokens) return { piece: { text, tokens }, end };
    }
    if (start < floor) return undefined;
    // Unreachable in practice (one pre-token is at most half the budget), kept so the budget
    // holds even then: truncate the single piece by code points.
    const chars = [...this.body.slice(this.starts[start], this.starts[start + 1]).trim()];
    while (countTokens(chars.join('')) > this.maxTokens) chars.pop();
    const text = chars.join('');
    return { piece: { text, tokens: countTokens(text) }, end: start + 1 };
  }

  private previousCut(end: number, floor: number): number {
    for (let i = end - 1; i > floor; i--) if ((this.strength[i] ?? NONE) !== NONE) return i;
    return end - 1;
  }

  private overlapStart(start: number, end: number): number {
    if (this.overlapTokens === 0) return end;
    let from = end;
    while (from - 1 > start && this.tokensBetween(from - 1, end) <= this.overlapTokens) from--;
    for (let i = from; i < end; i++) if ((this.strength[i] ?? NONE) !== NONE) return i;
    return end;
  }
}
