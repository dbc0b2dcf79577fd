import { removeForeignLinks, sanitizeAnswer } from './answer-links.js';
import { cutAtOrBefore, undecidedFrom } from './undecided-markdown.js';

/** What text needs for its sanitized form to differ from it (beyond brackets). */
const MAY_START_LINK = /[<>:/@!`\\()]|\]\[|www\./iu;

/** A blank line: where {@link undecidedFrom} starts a paragraph (the same expression). */
const BLANK_LINE = /\n[ \t\r]*\n/gu;

/** A word of letters and digits followed by spaces or tabs, and nothing else. */
const PLAIN_LAST_WORD = /^[\p{L}\p{N}]+(?=[ \t]+$)/u;

/** Characters of undecided text looked at on every delta; beyond, see `undecided`. */
const LOOK_EVERY_DELTA_UP_TO = 4_096;

/** A word that stands for whatever follows the part sent: it cannot start or end a link. */
const GOES_ON = 'x';

/**
 * {@link removeForeignLinks} for an answer that arrives as a stream of deltas: `push` returns
 * what is safe to send now and `end` the rest, and whatever the chunking, everything sent is
 * the sanitized answer as a whole would be (with one exception, below).
 *
 * The sanitizer keeps the whole text so far and sends the sanitized text up to a cut: the
 * start of a word before which no construct is still open, so no later text can make what is
 * before it sanitize differently. The part before the cut is sanitized on its own (followed by
 * a stand-in word), so a definition still being written cannot change it. Held back is:
 * - the last word, even when whitespace follows it: it could still grow into a URL, a `www.`
 *   or e-mail autolink or a scheme, and the parser treats a word at the end of a paragraph
 *   differently from one that text follows; after a line break, the next line's first word
 *   too, since that line could still end the paragraph (a list item, a heading, an underline).
 *   A last word of letters and digits only, once spaces follow it, is whole and can only be
 *   text: it is sent, and only the spaces are held back (so the first word of an answer goes
 *   out without waiting for the second). Plain prose with `[n]` citations holds back nothing
 *   more;
 * - from a `[` or `![` whose link, image or reference is not yet decided (no `]` yet, a `]` at
 *   the end, a `](` destination not yet closed, a `][` chain), from a backtick run not yet
 *   matched (a code span hides link syntax), from the line of a `<` (autolinks and raw HTML),
 *   from the line of a possible reference definition, and from a link or code span that
 *   crosses a line break (a quote or list item starting on the next line would split it),
 *   each until its paragraph ends at a blank line, and from an HTML comment, CDATA,
 *   processing instruction, declaration or script, pre, style or textarea block until it
 *   closes (those blocks pass blank lines);
 * - from an image reference (`![x][y]`, `![x]`) to the end of the stream, since a definition
 *   anywhere later makes it an image;
 * - while the text before the cut has nothing that makes the sanitizer parse it, from the
 *   first word with an `@` or a `//` (the parse, once something later triggers it, removes
 *   e-mail autolinks and protocol-relative URLs).
 *
 * The exception is a link reference used before its definition: CommonMark lets a definition
 * at the end turn an earlier `[1]` into a link, and holding every `[...]` until the end of the
 * stream would hold back every answer that cites as `[n]`. So a link reference is sent as the
 * definitions before the cut make it; a definition for a foreign host that arrives later is still
 * removed, so the `[1]` sent earlier stays text (where the answer sanitized as a whole shows
 * `1`) and no renderer can make it a link.
 */
export class StreamSanitizer {
  private text = '';
  /** The offset in `text` up to which the sanitized text has been sent. */
  private sent = 0;
  /** Where the text was last scanned to for `]:` and `<`, and where each first occurs. */
  private scanned = 0;
  private definitionAt = -1;
  private angleAt = -1;
  /** The start of the paragraph the undecided part is looked for from (see `undecided`). */
  private paragraph = 0;
  /** Where the search for blank lines goes on from. */
  private breaksFrom = 0;
  /** The text's length at the last look for the undecided part, and the cut it found. */
  private lookedAt = 0;
  private decided = 0;

  constructor(private readonly allowedHosts: readonly string[]) {}

  /** Adds a delta and returns the sanitized text that can be sent now. */
  push(delta: string): string {
    this.text += delta;
    this.scan();
    let cut = this.undecided();
    const word = this.plainWordEnd(cut);
    if (word > this.sent && this.inert(word)) {
      const inert = this.text.slice(this.sent, word);
      this.sent = word;
      return inert;
    }
    if (cut > this.sent && this.inert(cut)) {
      const inert = this.text.slice(this.sent, cut);
      this.sent = cut;
      return inert;
    }
    while (cut > this.sent) {
      // The decided part alone, so that a definition still being written cannot change it, and
      // followed by a word as it is in the text.
      const sanitized = sanitizeAnswer(`${this.text.slice(0, cut)}${GOES_ON}`, this.allowedHosts);
      const from = sanitized.outputOffset(this.sent);
      const until = sanitized.outputOffset(cut);
      if (typeof from !== 'number') return '';
      if (typeof until === 'number') {
        this.sent = cut;
        return sanitized.text.slice(from, until);
      }
      // A removed span the syntax rules did not foresee: hold it back too.
      cut = cutAtOrBefore(this.text, until.inside);
    }
    return '';
  }

  /**
   * Whether the text from what was sent to `cut` sanitizes to itself, known without a parse
   * (which, of the text so far each time, would make a stream cost quadratic time): nothing in
   * it can start a link, an image, a URL, raw HTML or an autolink, and with no definition yet
   * a `[n]` in it is text.
   */
  private inert(cut: number): boolean {
    const segment = this.text.slice(this.sent, cut);
    const defined = this.definitionAt !== -1 && this.definitionAt + 2 <= cut;
    return !MAY_START_LINK.test(segment) && !defined;
  }

  /**
   * The end of the last word when the text after `cut` is that word alone, of letters and
   * digits only, and spaces after it: then it is whole and can be nothing but text, and only
   * its spaces are held back (at the end of a paragraph they are not part of the answer).
   * Otherwise `cut`.
   */
  private plainWordEnd(cut: number): number {
    const word = PLAIN_LAST_WORD.exec(this.text.slice(cut));
    return word === null ? cut : cut + word[0].length;
  }

  /** Finds the first `]:` and `<` in the text added since the last scan. */
  private scan(): void {
    // One character back: a marker may straddle two deltas.
    const from = Math.max(0, this.scanned - 1);
    if (this.definitionAt === -1) this.definitionAt = this.text.indexOf(']:', from);
    if (this.angleAt === -1) this.angleAt = this.text.indexOf('<', from);
    this.scanned = this.text.length;
  }

  /**
   * Moves `paragraph` to the start of the last paragraph that begins before what was sent,
   * looking at the text sent since the last call only: blank lines are found as
   * {@link undecidedFrom} finds them, resuming where that search would be (after the last one
   * found, or at the whitespace a blank line still being written starts with).
   */
  private findParagraph(): void {
    let from = this.breaksFrom;
    for (const match of this.text.slice(from, this.sent).matchAll(BLANK_LINE)) {
      const start = this.breaksFrom + match.index + match[0].length;
      from = start;
      // After a `<`, the whole text is scanned (an HTML block may span blank lines).
      if (this.angleAt !== -1 && this.angleAt < start) break;
      // A paragraph that starts with whitespace is left to the whole scan.
      if (/\S/u.test(this.text[start] ?? '')) this.paragraph = start;
    }
    let resume = this.sent;
    while (resume > from && /[ \t\r\n]/u.test(this.text[resume - 1] ?? '')) resume -= 1;
    this.breaksFrom = Math.max(from, resume);
  }

  /**
   * {@link undecidedFrom} of the text, looked for only from the start of the paragraph that
   * holds what was sent last: paragraphs before it were sent whole and are decided (nothing in
   * one can change another), so scanning them again each delta would make a stream cost
   * quadratic time. Only while no `<` came before that paragraph: an HTML block may span blank
   * lines, so with one the whole text is scanned.
   */
  private undecided(): number {
    this.findParagraph();
    // Where the part to look at is long (a paragraph of thousands of words, or HTML early in
    // the text), it is looked at again only once it grew by a sixteenth: each look costs its
    // length, so a stream still costs linear time, and only such text waits for more. A cut
    // found earlier stays right: no later text changes what is before it.
    const length = this.text.length - this.paragraph;
    if (length > LOOK_EVERY_DELTA_UP_TO && this.text.length - this.lookedAt < length / 16) {
      return this.decided;
    }
    this.lookedAt = this.text.length;
    this.decided =
      this.paragraph === 0
        ? undecidedFrom(this.text)
        : this.paragraph + undecidedFrom(this.text.slice(this.paragraph));
    return this.decided;
  }

  /** Ends the stream and returns the rest of the sanitized text. */
  end(): string {
    const sanitized = sanitizeAnswer(this.text, this.allowedHosts);
    const from = sanitized.outputOffset(this.sent);
    const rest =
      typeof from === 'number'
        ? sanitized.text.slice(from)
        : // Only after a late definition changed what was sent: sanitize the rest on its own.
          removeForeignLinks(this.text.slice(this.sent), this.allowedHosts);
    this.sent = this.text.length;
    return rest;
  }
}
