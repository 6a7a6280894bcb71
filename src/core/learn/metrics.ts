/**
 * Hierarchical classification metrics, exactly as the design doc defines them; the CLI, the UI
 * and the benchmarks all report these numbers.
 *
 * Partial true labels (an internal node: "a dog, breed unknown") say nothing below that node, so a
 * prediction for such an item is judged only down to the truth's depth: it is cut to its ancestor
 * at that depth before hierarchical P/R, tree distance and confident precision are computed (predicting
 * `dog > beagle` for a truth of `dog` is right, not a false positive). Leaf top-1 is over the
 * items whose truth is a leaf only (`leafN`); the others have no leaf to hit.
 */
import { ROOT, type Taxonomy } from '../taxonomy';

export interface Judged {
  /** The true node (a leaf, or an internal node for a partial label). */
  truth: number;
  /** The predicted node (ROOT when the model predicts nothing). */
  predicted: number;
  /** The confident-depth prediction (ROOT when nothing reaches τ); optional. */
  confident?: number;
}

export interface LevelAccuracy {
  level: number;
  /** Items whose true path reaches this level. */
  n: number;
  accuracy: number;
}

export interface HierarchicalMetrics {
  n: number;
  /** Items whose truth is a leaf (the denominator of leafTop1). */
  leafN: number;
  leafTop1: number;
  perLevel: LevelAccuracy[];
  hP: number;
  hR: number;
  hF1: number;
  meanTreeDistance: number;
  /** Mean over the mistakes only; 0 when there are none. */
  meanTreeDistanceOnMistakes: number;
  mistakes: number;
  /** Present when the judged items carry a confident-depth prediction. */
  confident?: { precision: number; meanDepth: number };
}

/** Number of edges between a and b through their lowest common ancestor (ROOT is depth 0). */
export function treeDistance(t: Taxonomy, a: number, b: number, depths: Int32Array = t.depths()): number {
  const l = lowestCommonAncestor(t, a, b, depths);
  return depthOf(depths, a) + depthOf(depths, b) - 2 * depthOf(depths, l);
}

export function lowestCommonAncestor(t: Taxonomy, a: number, b: number, depths: Int32Array = t.depths()): number {
  let da = depthOf(depths, a);
  let db = depthOf(depths, b);
  while (da > db) {
    a = t.nodes[a].parent;
    da--;
  }
  while (db > da) {
    b = t.nodes[b].parent;
    db--;
  }
  while (a !== b) {
    a = t.nodes[a].parent;
    b = t.nodes[b].parent;
  }
  return a;
}

function depthOf(depths: Int32Array, n: number): number {
  return n === ROOT ? 0 : depths[n];
}

/** The ancestor-or-self of `n` at depth `d` (n itself when it is not deeper). */
function cutTo(t: Taxonomy, n: number, d: number, depths: Int32Array): number {
  let dn = depthOf(depths, n);
  while (dn > d) {
    n = t.nodes[n].parent;
    dn--;
  }
  return n;
}

export function evaluate(t: Taxonomy, judged: readonly Judged[]): HierarchicalMetrics {
  const depths = t.depths();
  let maxDepth = 0;
  for (const j of judged) maxDepth = Math.max(maxDepth, depthOf(depths, j.truth));
  const levelN = new Array<number>(maxDepth + 1).fill(0);
  const levelHit = new Array<number>(maxDepth + 1).fill(0);
  let leafN = 0;
  let leafHit = 0;
  let inter = 0;
  let sumP = 0;
  let sumT = 0;
  let distance = 0;
  let mistakes = 0;
  let mistakeDistance = 0;
  let confidentN = 0;
  let confidentHit = 0;
  let confidentDepth = 0;
  const truthPath: number[] = [];
  for (const j of judged) {
    if (j.truth === ROOT) throw new Error('a judged item needs a true node');
    const dt = depths[j.truth];
    if (t.isLeaf(j.truth)) {
      leafN++;
      if (j.predicted === j.truth) leafHit++;
    }
    // Level accuracy: the true node at level L against the predicted path's node at L.
    truthPath.length = 0;
    for (let n = j.truth; n !== ROOT; n = t.nodes[n].parent) truthPath.push(n);
    truthPath.reverse();
    const predPath: number[] = [];
    for (let n = j.predicted; n !== ROOT; n = t.nodes[n].parent) predPath.push(n);
    predPath.reverse();
    for (let L = 1; L <= dt; L++) {
      levelN[L]++;
      if (predPath[L - 1] === truthPath[L - 1]) levelHit[L]++;
    }
    const partial = !t.isLeaf(j.truth);
    const cut = partial ? cutTo(t, j.predicted, dt, depths) : j.predicted;
    const lca = lowestCommonAncestor(t, cut, j.truth, depths);
    const dl = depthOf(depths, lca);
    const dp = depthOf(depths, cut);
    inter += dl;
    sumP += dp;
    sumT += dt;
    const dist = dp + dt - 2 * dl;
    distance += dist;
    if (cut !== j.truth) {
      mistakes++;
      mistakeDistance += dist;
    }
    if (j.confident !== undefined) {
      confidentN++;
      confidentDepth += depthOf(depths, j.confident);
      const c = partial ? cutTo(t, j.confident, dt, depths) : j.confident;
      if (c === ROOT || t.isAncestorOrSelf(c, j.truth)) confidentHit++;
    }
  }
  const n = judged.length;
  const hP = sumP > 0 ? inter / sumP : 0;
  const hR = sumT > 0 ? inter / sumT : 0;
  const perLevel: LevelAccuracy[] = [];
  for (let L = 1; L <= maxDepth; L++) perLevel.push({ level: L, n: levelN[L], accuracy: levelN[L] > 0 ? levelHit[L] / levelN[L] : 0 });
  const out: HierarchicalMetrics = {
    n,
    leafN,
    leafTop1: leafN > 0 ? leafHit / leafN : 0,
    perLevel,
    hP,
    hR,
    hF1: hP + hR > 0 ? (2 * hP * hR) / (hP + hR) : 0,
    meanTreeDistance: n > 0 ? distance / n : 0,
    meanTreeDistanceOnMistakes: mistakes > 0 ? mistakeDistance / mistakes : 0,
    mistakes,
  };
  if (confidentN > 0) out.confident = { precision: confidentHit / confidentN, meanDepth: confidentDepth / confidentN };
  return out;
}
