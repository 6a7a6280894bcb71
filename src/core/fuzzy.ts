/** Closest-name suggestions for unknown labels (edit distance over paths and leaf names). */
import { Taxonomy } from './taxonomy';

export function editDistance(a: string, b: string, limit = Infinity): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = cur[0];
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (cur[j] < rowMin) rowMin = cur[j];
    }
    if (rowMin > limit) return limit + 1;
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/**
 * The node whose path (or, failing that, whose name) is closest to `wanted`, compared
 * case-insensitively with separators normalised. Undefined when nothing is reasonably close
 * (distance above a third of the longer string).
 */
export function closestNode(taxonomy: Taxonomy, wanted: string | readonly string[]): number | undefined {
  const target = normalise(Array.isArray(wanted) ? wanted.join(' > ') : (wanted as string));
  const leafWanted = normalise(target.split(' > ').pop() ?? target);
  let best: number | undefined;
  let bestScore = Infinity;
  for (const node of taxonomy.nodes) {
    const full = normalise(taxonomy.pathString(node.id));
    const limit = Math.max(full.length, target.length);
    const byPath = editDistance(full, target, Math.min(bestScore, limit));
    const byName = editDistance(normalise(node.name), leafWanted, Math.min(bestScore, limit)) + 0.5;
    const score = Math.min(byPath, byName);
    if (score < bestScore) {
      bestScore = score;
      best = node.id;
    }
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(2, Math.ceil(Math.max(leafWanted.length, 1) / 3));
  return bestScore <= allowed ? best : undefined;
}

function normalise(s: string): string {
  return s
    .toLowerCase()
    .split(/\s*(?:>|\/)\s*/)
    .map((part) => part.replace(/[_\s]+/g, ' ').trim())
    .join(' > ');
}
