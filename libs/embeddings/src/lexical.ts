/**
 * The version of what {@link lexicalText} produces. Stored vectors depend on it, so it is part
 * of a document's version digest: bump it whenever the output changes.
 */
export const LEXICAL_VERSION = 1;

// Greek letter names, lowercase Greek letter -> Latin name (final sigma included).
const GREEK_NAMES: Readonly<Record<string, string>> = {
  α: 'alpha',
  β: 'beta',
  γ: 'gamma',
  δ: 'delta',
  ε: 'epsilon',
  ζ: 'zeta',
  η: 'eta',
  θ: 'theta',
  ι: 'iota',
  κ: 'kappa',
  λ: 'lambda',
  μ: 'mu',
  ν: 'nu',
  ξ: 'xi',
  ο: 'omicron',
  π: 'pi',
  ρ: 'rho',
  ς: 'sigma',
  σ: 'sigma',
  τ: 'tau',
  υ: 'upsilon',
  φ: 'phi',
  χ: 'chi',
  ψ: 'psi',
  ω: 'omega',
};
// A Greek letter standing alone or attached to Latin letters, digits or hyphens (TNF-α, κB,
// β2): a symbol in a name. One inside a run of Greek letters is Greek prose and stays.
const SYMBOL_GREEK =
  /(?<![\u0370-\u03ff\u1f00-\u1fff])[\u0391-\u03a9\u03b1-\u03c9](?![\u0370-\u03ff\u1f00-\u1fff])/gu;
// Words joined by hyphens (ASCII, U+2010, U+2011), or a single word. The `*` makes every
// match succeed where it starts, so the scan never backtracks and stays linear in the text.
const WORD_CHAIN = /[\p{L}\p{N}]+(?:[-\u2010\u2011][\p{L}\p{N}]+)*/gu;
const HYPHENS = /[-\u2010\u2011]/gu;
const HYPHEN = /[-\u2010\u2011]/u;
const DIGITS_AND_HYPHENS = /^[\p{N}\-\u2010\u2011]+$/u;

function joinCompound(chain: string): string {
  // A lone word, or numbers only (a range such as 1990-2015): nothing to join.
  if (!HYPHEN.test(chain) || DIGITS_AND_HYPHENS.test(chain)) return chain;
  return `${chain} ${chain.replace(HYPHENS, '')}`;
}

/**
 * The text Qdrant's BM25 sees for a chunk or a query; both sides must get the same treatment.
 * Qdrant's word tokenizer cuts at every hyphen, so "birth-weight" never meets "birthweight",
 * nor "K-Ras" "KRAS": each hyphenated compound is kept and its joined form added (what
 * Lucene's word-delimiter filter calls catenating). A Greek letter used as a symbol becomes
 * its name, so "TNF-α", "TNFα" and "TNF-alpha" meet. Linear in the length of the text.
 * Measured with bench/retrieval-quality (512-token chunks, nDCG@10, without / with): SciFact
 * 0.690 / 0.702, CISI 0.327 / 0.324, Cranfield 0.384 / 0.384, CACM 0.445 / 0.449. Joining
 * instead of keeping both forms lost on all four (SciFact 0.683).
 */
export function lexicalText(text: string): string {
  const named = text.replace(SYMBOL_GREEK, (letter) => GREEK_NAMES[letter.toLowerCase()] ?? letter);
  return named.replace(WORD_CHAIN, joinCompound);
}
