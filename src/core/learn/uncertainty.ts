/**
 * How unsure the model is about an item, from its per-node marginals (design doc, "Uncertainty
 * and selection"). Every score is "higher = more worth labelling" and lies in [0, 1].
 *
 * The level-L distribution is the marginal over the nodes at depth L, where a leaf shallower than
 * L stands for itself (so every level's distribution covers every item's mass). Marginals of
 * sigmoid heads need not sum to one: each level's distribution is normalised before scoring.
 */
import type { Taxonomy } from '../taxonomy';

/** Per-item marginals, row-major: row i is data[i*nodes … (i+1)*nodes), indexed by taxonomy node id. */
export interface MarginalsMatrix {
  data: Float32Array | Float64Array;
  n: number;
  nodes: number;
}

/** The nodes of each level's distribution, precomputed once per taxonomy. */
export interface LevelStructure {
  /** levels[L-1]: the node ids of the level-L distribution (nodes at depth L and shallower leaves). */
  levels: Int32Array[];
  /** The leaves, the support of the single-level (leaf) scores. */
  leaves: Int32Array;
  /** byDepth[L-1]: the nodes at exactly depth L (a level's distribution is these plus the leaves carried from above). */
  byDepth: Int32Array[];
  /** 1 for a leaf, by node id. */
  isLeaf: Uint8Array;
}

export function levelStructure(t: Taxonomy): LevelStructure {
  const depths = t.depths();
  let maxDepth = 0;
  for (const d of depths) if (d > maxDepth) maxDepth = d;
  const levels: number[][] = Array.from({ length: maxDepth }, () => []);
  for (const node of t.nodes) {
    const d = depths[node.id];
    const last = node.children.length === 0 ? maxDepth : d;
    for (let L = d; L <= last; L++) levels[L - 1].push(node.id);
  }
  const byDepth: number[][] = Array.from({ length: maxDepth }, () => []);
  for (const node of t.nodes) byDepth[depths[node.id] - 1].push(node.id);
  return {
    levels: levels.map((l) => Int32Array.from(l)),
    leaves: Int32Array.from(t.leaves()),
    byDepth: byDepth.map((l) => Int32Array.from(l)),
    isLeaf: Uint8Array.from(t.nodes, (n) => (n.children.length === 0 ? 1 : 0)),
  };
}

/** The level-L distribution (L from 1) of one item, normalised to sum to one. */
export function levelDistribution(s: LevelStructure, marginals: ArrayLike<number>, L: number, offset = 0): Float64Array {
  const nodes = s.levels[L - 1];
  const p = new Float64Array(nodes.length);
  let z = 0;
  for (let i = 0; i < nodes.length; i++) z += p[i] = marginals[offset + nodes[i]];
  if (z > 0) for (let i = 0; i < p.length; i++) p[i] /= z;
  return p;
}

/** Per-level weights w_L (index L-1); uniform over the levels that have a choice (two or more nodes). */
export function uniformLevelWeights(s: LevelStructure): Float64Array {
  const w = Float64Array.from(s.levels, (l) => (l.length >= 2 ? 1 : 0));
  return normaliseWeights(w);
}

/**
 * Weights from a user setting: a list (level 1 first; missing levels get the last value), or
 * `leafward` γ: w_L ∝ γ^(L-1) (γ > 1 leans to the fine levels, γ < 1 to the coarse ones).
 * Levels with a single node get no weight; the weights are normalised to sum to one.
 */
export function levelWeights(s: LevelStructure, spec?: readonly number[] | { leafward: number }): Float64Array {
  if (spec === undefined) return uniformLevelWeights(s);
  const w = new Float64Array(s.levels.length);
  for (let L = 1; L <= w.length; L++) {
    let v: number;
    if (Array.isArray(spec)) v = spec.length ? spec[Math.min(L, spec.length) - 1] : 1;
    else v = Math.pow((spec as { leafward: number }).leafward, L - 1);
    if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`level weights must be finite and ≥ 0, got ${v} for level ${L}`);
    w[L - 1] = s.levels[L - 1].length >= 2 ? v : 0;
  }
  return normaliseWeights(w);
}

function normaliseWeights(w: Float64Array): Float64Array {
  let z = 0;
  for (const v of w) z += v;
  if (z > 0) for (let i = 0; i < w.length; i++) w[i] /= z;
  return w;
}

/** Normalised entropy H(p)/log(n) of the (renormalised) marginals on `nodes`. */
function entropyOn(nodes: Int32Array, m: ArrayLike<number>, o: number): number {
  const n = nodes.length;
  if (n < 2) return 0;
  let z = 0;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const p = m[o + nodes[i]];
    if (p > 0) {
      z += p;
      h -= p * Math.log(p);
    }
  }
  // H(p/Z) = H(p)/Z + log Z
  return z > 0 ? (h / z + Math.log(z)) / Math.log(n) : 0;
}

/** The two largest (renormalised) marginals on `nodes`. */
function topTwoOn(nodes: Int32Array, m: ArrayLike<number>, o: number): [number, number] {
  let z = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < nodes.length; i++) {
    const p = m[o + nodes[i]];
    z += p;
    if (p > a) {
      b = a;
      a = p;
    } else if (p > b) b = p;
  }
  return z > 0 ? [a / z, b / z] : [0, 0];
}

/**
 * Σ_L w_L · H(p_L) / log(n_L). One pass over the nodes: a leaf's p·log p and mass are carried
 * down to the deeper levels instead of being visited again at each (the 100,000-item queue needs it).
 */
export function multiLevelEntropy(s: LevelStructure, w: Float64Array, m: ArrayLike<number>, offset = 0): number {
  let sum = 0;
  let carriedH = 0;
  let carriedZ = 0;
  for (let L = 0; L < s.byDepth.length; L++) {
    const nodes = s.byDepth[L];
    let h = carriedH;
    let z = carriedZ;
    for (let i = 0; i < nodes.length; i++) {
      const v = nodes[i];
      const p = m[offset + v];
      if (!(p > 0)) continue;
      const e = p * Math.log(p);
      h -= e;
      z += p;
      if (s.isLeaf[v]) {
        carriedH -= e;
        carriedZ += p;
      }
    }
    const n = s.levels[L].length;
    // H(p/Z) = H(p)/Z + log Z
    if (w[L] > 0 && n >= 2 && z > 0) sum += (w[L] * (h / z + Math.log(z))) / Math.log(n);
  }
  return sum;
}

/** Σ_L w_L · (1 − (p_L⁽¹⁾ − p_L⁽²⁾)), with the carried leaves' top two kept from level to level. */
export function multiLevelMargin(s: LevelStructure, w: Float64Array, m: ArrayLike<number>, offset = 0): number {
  let sum = 0;
  let carriedA = 0;
  let carriedB = 0;
  let carriedZ = 0;
  for (let L = 0; L < s.byDepth.length; L++) {
    const nodes = s.byDepth[L];
    let a = carriedA;
    let b = carriedB;
    let z = carriedZ;
    for (let i = 0; i < nodes.length; i++) {
      const v = nodes[i];
      const p = m[offset + v];
      z += p;
      if (p > a) {
        b = a;
        a = p;
      } else if (p > b) b = p;
      if (s.isLeaf[v]) {
        carriedZ += p;
        if (p > carriedA) {
          carriedB = carriedA;
          carriedA = p;
        } else if (p > carriedB) carriedB = p;
      }
    }
    if (w[L] > 0) sum += w[L] * (1 - (z > 0 ? (a - b) / z : 0));
  }
  return sum;
}

/** H(p_leaf) / log(#leaves). */
export function leafEntropy(s: LevelStructure, m: ArrayLike<number>, offset = 0): number {
  return entropyOn(s.leaves, m, offset);
}

/** 1 − (p⁽¹⁾ − p⁽²⁾) on the leaves. */
export function leafMargin(s: LevelStructure, m: ArrayLike<number>, offset = 0): number {
  const [a, b] = topTwoOn(s.leaves, m, offset);
  return 1 - (a - b);
}

/** 1 − p⁽¹⁾ on the leaves. */
export function leastConfidence(s: LevelStructure, m: ArrayLike<number>, offset = 0): number {
  return 1 - topTwoOn(s.leaves, m, offset)[0];
}

export type UncertaintyMeasure = 'multilevel-entropy' | 'multilevel-margin' | 'entropy' | 'margin' | 'least-confidence';
export const UNCERTAINTY_MEASURES: readonly UncertaintyMeasure[] = ['multilevel-entropy', 'multilevel-margin', 'entropy', 'margin', 'least-confidence'];

/** One measure over rows of a marginals matrix (all rows, or the given ones; out[i] for rows[i]). */
export function uncertaintyScores(measure: UncertaintyMeasure, s: LevelStructure, w: Float64Array, M: MarginalsMatrix, rows?: ArrayLike<number>): Float64Array {
  const count = rows ? rows.length : M.n;
  const out = new Float64Array(count);
  const f = measureFunction(measure, s, w);
  for (let i = 0; i < count; i++) out[i] = f(M.data, (rows ? rows[i] : i) * M.nodes);
  return out;
}

export function measureFunction(measure: UncertaintyMeasure, s: LevelStructure, w: Float64Array): (m: ArrayLike<number>, offset: number) => number {
  switch (measure) {
    case 'multilevel-entropy':
      return (m, o) => multiLevelEntropy(s, w, m, o);
    case 'multilevel-margin':
      return (m, o) => multiLevelMargin(s, w, m, o);
    case 'entropy':
      return (m, o) => leafEntropy(s, m, o);
    case 'margin':
      return (m, o) => leafMargin(s, m, o);
    case 'least-confidence':
      return (m, o) => leastConfidence(s, m, o);
    default:
      throw new Error(`unknown uncertainty measure ${JSON.stringify(measure)}; it is one of multilevel-entropy, multilevel-margin, entropy, margin, least-confidence`);
  }
}

/**
 * Marginals from conditionals P(child | parent): the product down each path (the top-down
 * marginals; for softmax heads bottom-up gives the same numbers). `order` lists parents before children.
 */
export function marginalsFromConditionals(parent: Int32Array, order: Int32Array, cond: ArrayLike<number>, condOffset: number, out: Float32Array | Float64Array, outOffset: number): void {
  for (let i = 0; i < order.length; i++) {
    const v = order[i];
    const p = parent[v];
    out[outOffset + v] = (p < 0 ? 1 : out[outOffset + p]) * cond[condOffset + v];
  }
}

/** Internal marginals as sums of leaf probabilities (flat softmax, kNN): row-wise, in place. */
export function marginalsFromLeaves(t: Taxonomy, M: MarginalsMatrix): void {
  const order = Int32Array.from(t.walk());
  const parent = Int32Array.from(t.nodes, (n) => n.parent);
  const isLeaf = Uint8Array.from(t.nodes, (n) => (n.children.length === 0 ? 1 : 0));
  for (let r = 0; r < M.n; r++) {
    const o = r * M.nodes;
    for (let i = 0; i < order.length; i++) if (!isLeaf[order[i]]) M.data[o + order[i]] = 0;
    for (let i = order.length - 1; i >= 0; i--) {
      const v = order[i];
      if (parent[v] >= 0) M.data[o + parent[v]] += M.data[o + v];
    }
  }
}
