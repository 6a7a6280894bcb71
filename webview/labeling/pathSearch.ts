/**
 * Fuzzy search over every taxonomy path for the labelling panel's path picker. Pure and
 * DOM-free, so it runs in the webview on every keystroke and in Node's unit tests alike.
 */

/** One node of the taxonomy, internal nodes included (choosing one is a partial label). */
export interface PathEntry {
  path: readonly string[];
  /** `path` joined with ' > ' for display. */
  label: string;
  /** Lower-cased leaf name and lower-cased joined path, computed once. */
  leafLower: string;
  joinedLower: string;
  /** Offset of the leaf name inside `label` / `joinedLower`. */
  leafOffset: number;
  /** Which characters occur in the path (see `charMask`): a cheap test before any string search. */
  mask: number;
  /** The node has children: choosing it is a partial label. */
  internal: boolean;
}

export interface PathMatch {
  entry: PathEntry;
  score: number;
  /** Character range of `label` to highlight (the first query word's hit), when contiguous. */
  highlight?: [number, number];
}

const SEPARATOR = ' > ';

/**
 * Builds the search index: every path and every prefix of a path, deduplicated, ordered by depth
 * then name so that equal scores favour the more general node.
 */
export class PathIndex {
  readonly entries: readonly PathEntry[];
  /** The previous query's matches: a longer query only ever narrows them. */
  private last: { query: string; substring: Int32Array; all?: Int32Array } | undefined;

  constructor(paths: readonly (readonly string[])[]) {
    // Keyed by the path joined with NUL, which no label name contains. The host usually sends every
    // node, so a path's parent is nearly always there already: two joins per path, no more.
    const byKey = new Map<string, PathEntry>();
    const add = (path: readonly string[], key: string): PathEntry => {
      const leaf = path[path.length - 1];
      const label = path.join(SEPARATOR);
      const joinedLower = label.toLowerCase();
      const leafOffset = label.length - leaf.length;
      const entry = { path, label, leafLower: joinedLower.slice(leafOffset), joinedLower, leafOffset, mask: charMask(joinedLower), internal: false };
      byKey.set(key, entry);
      return entry;
    };
    for (const path of paths) {
      if (path.length === 0) continue;
      const key = path.join('\u0000');
      if (byKey.has(key)) continue;
      add(path, key);
      for (let depth = path.length - 1; depth >= 1; depth--) {
        const prefix = path.slice(0, depth);
        const prefixKey = prefix.join('\u0000');
        const parent = byKey.get(prefixKey);
        if (parent) {
          parent.internal = true;
          break;
        }
        add(prefix, prefixKey).internal = true;
      }
    }
    const entries = [...byKey.values()];
    entries.sort((a, b) => a.path.length - b.path.length || (a.joinedLower < b.joinedLower ? -1 : a.joinedLower > b.joinedLower ? 1 : 0));
    this.entries = entries;
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * The best `limit` matches for `query`, best first, and how many entries matched in all.
   * Every word of the query must match. Paths where every word is a substring (of the leaf name
   * best, else of the path) rank first; only when they are fewer than `limit` does the search
   * fall back to the letters in order across the path, and `total` then counts those too.
   */
  search(query: string, limit = 50): { matches: PathMatch[]; total: number } {
    const normalised = query.toLowerCase().trim();
    const words = normalised.split(/[\s>/]+/).filter((w) => w.length > 0);
    if (words.length === 0) {
      this.last = undefined;
      return { matches: [], total: 0 };
    }
    const mask = charMask(words.join(''));
    const narrowing = this.last !== undefined && normalised.startsWith(this.last.query) ? this.last : undefined;
    const best: Ranked[] = [];
    const substring = this.scan(narrowing?.substring, words, mask, limit, best, substringScore);
    let all: Int32Array | undefined;
    let total = substring.length;
    if (best.length < limit) {
      // Fuzzy fallback, ranked below every substring match.
      const fuzzy = this.scan(narrowing?.all, words, mask, limit, best, fuzzyScore);
      all = fuzzy;
      total = fuzzy.length;
    }
    this.last = { query: normalised, substring, all };
    return {
      matches: best.map(({ index, score }) => {
        const entry = this.entries[index];
        return { entry, score, highlight: highlightOf(entry, words[0]) };
      }),
      total,
    };
  }

  /**
   * Scores `candidates` (default: every entry) and merges them into `best` (sorted best first,
   * ties in index order, at most `limit`). Returns the indices of every entry that matched.
   */
  private scan(candidates: Int32Array | undefined, words: string[], mask: number, limit: number, best: Ranked[], scoreWord: (e: PathEntry, w: string) => number): Int32Array {
    const count = candidates ? candidates.length : this.entries.length;
    const matched = new Int32Array(count);
    const floor = best.length; // fallback matches go below the substring matches already in `best`
    const seen = floor > 0 ? new Set(best.map((b) => b.index)) : undefined;
    let total = 0;
    for (let c = 0; c < count; c++) {
      const index = candidates ? candidates[c] : c;
      const entry = this.entries[index];
      if ((entry.mask & mask) !== mask) continue;
      let score = 0;
      for (let w = 0; w < words.length; w++) {
        const s = scoreWord(entry, words[w]);
        if (s === 0) {
          score = 0;
          break;
        }
        score += s;
      }
      if (score === 0) continue;
      matched[total++] = index;
      if (seen?.has(index)) continue;
      if (best.length === limit && score <= best[limit - 1].score) continue;
      let at = best.length;
      while (at > floor && best[at - 1].score < score) at--;
      if (at >= limit) continue;
      best.splice(at, 0, { index, score });
      if (best.length > limit) best.pop();
    }
    return matched.slice(0, total);
  }
}

interface Ranked {
  index: number;
  score: number;
}

/** 0 when `word` is not a substring of `entry`'s path; otherwise 400–1000, higher is better. */
function substringScore(entry: PathEntry, word: string): number {
  const joined = entry.joinedLower;
  const inPath = joined.indexOf(word);
  if (inPath < 0) return 0;
  const leaf = entry.leafLower;
  const inLeaf = leaf.indexOf(word);
  if (inLeaf >= 0) {
    if (leaf.length === word.length) return 1000;
    if (inLeaf === 0) return 900 - Math.min(leaf.length, 99);
    if (isWordStart(leaf, inLeaf)) return 800 - Math.min(leaf.length, 99);
    return 700 - Math.min(inLeaf, 99);
  }
  return (isWordStart(joined, inPath) ? 500 : 400) - Math.min(entry.path.length * 5, 99);
}

/** Substring matches as above, else the letters of `word` in order across the path (1–300). */
function fuzzyScore(entry: PathEntry, word: string): number {
  return substringScore(entry, word) || subsequenceScore(entry.joinedLower, word);
}

/** Letters of `word` in order across `text`: 1–300, more for runs and word starts, less for gaps. */
function subsequenceScore(text: string, word: string): number {
  let score = 200;
  let from = 0;
  let previous = -2;
  for (let i = 0; i < word.length; i++) {
    const at = text.indexOf(word[i], from);
    if (at < 0) return 0;
    if (at === previous + 1) score += 4;
    else if (isWordStart(text, at)) score += 2;
    else score -= Math.min(at - from, 10);
    previous = at;
    from = at + 1;
  }
  return Math.max(1, Math.min(300, score));
}

/** One bit per letter a–z, one for digits, one for anything else. */
function charMask(text: string): number {
  let mask = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 97 && c <= 122) mask |= 1 << (c - 97);
    else if (c >= 48 && c <= 57) mask |= 1 << 26;
    else if (c !== 32 && c !== 62) mask |= 1 << 27; // not the ' > ' separators
  }
  return mask;
}

function isWordStart(text: string, at: number): boolean {
  if (at === 0) return true;
  const before = text.charCodeAt(at - 1);
  // space, '_', '-', '>', '/', '.'
  return before === 32 || before === 95 || before === 45 || before === 62 || before === 47 || before === 46;
}

function highlightOf(entry: PathEntry, word: string): [number, number] | undefined {
  const inLeaf = entry.leafLower.indexOf(word);
  if (inLeaf >= 0) return [entry.leafOffset + inLeaf, entry.leafOffset + inLeaf + word.length];
  const inPath = entry.joinedLower.indexOf(word);
  return inPath >= 0 ? [inPath, inPath + word.length] : undefined;
}
