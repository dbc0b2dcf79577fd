/** A run of text under one heading path; the heading line itself is not part of `body`. */
export interface Section {
  readonly heading: string | undefined;
  readonly body: string;
}

// CommonMark ATX heading: up to 3 spaces, 1-6 '#', then a space or the end of the line, and an
// optional closing run of '#'. "#hashtag" is not a heading.
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

class FenceTracker {
  #open: string | undefined;

  /** Whether `line` is inside (or opens or closes) a fenced code block. */
  inside(line: string): boolean {
    const marker = FENCE.exec(line)?.[1];
    if (this.#open === undefined) {
      if (marker === undefined) return false;
      this.#open = marker;
      return true;
    }
    const closes =
      marker !== undefined &&
      marker[0] === this.#open[0] &&
      marker.length >= this.#open.length &&
      line.trim() === marker;
    if (closes) this.#open = undefined;
    return true;
  }
}

/**
 * Splits markdown-ish text at ATX headings. Each section carries the path of the headings above
 * it (`Methods > Sampling`); text before the first heading has no heading. Lines inside fenced
 * code blocks are never headings, so a shell comment does not open a section.
 */
export function splitSections(text: string): Section[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const levels: (string | undefined)[] = [];
  const fences = new FenceTracker();
  const sections: Section[] = [];
  let heading: string | undefined;
  let body: string[] = [];

  for (const line of lines) {
    const match = fences.inside(line) ? null : ATX_HEADING.exec(line);
    if (match === null) {
      body.push(line);
      continue;
    }
    sections.push({ heading, body: body.join('\n') });
    const level = match[1]?.length ?? 1;
    levels.length = level;
    levels[level - 1] = match[2]?.trim() || undefined;
    const path = levels.filter((title): title is string => title !== undefined);
    heading = path.length > 0 ? path.join(' > ') : undefined;
    body = [];
  }
  sections.push({ heading, body: body.join('\n') });
  return sections.filter((section) => /\S/.test(section.body));
}
