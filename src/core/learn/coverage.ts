/**
 * Coverage sampling (after ProbCover, Yehuda et al. 2022, "Active learning through a covering
 * lens"): every image covers the ball of radius δ around it; a batch greedily takes the image whose
 * ball holds the most images that no labelled or picked image covers yet. δ is the largest radius
 * at which the balls stay "pure": at least `purity` of them hold one k-means cluster only (k = the
 * number of leaves), so a ball is about the size of a class's dense core.
 *
 * The graph needs every pair's distance once: O(n²·d), seconds for a pool of 16,000 at d = 64. The
 * caller caps the pool (`COVER_MAX_ROWS`) and falls back to typicality sampling above it.
 */
import type { Features } from './softmax';
import { drawToFront, kmeans, seededRandom } from './clustering';

/** Pools above this many rows are not covered (the pairwise pass grows with the square). */
export const COVER_MAX_ROWS = 25_000;

export interface CoverGraph {
  /** The radius, in the geometry's squared distance. */
  delta2: number;
  /** Ball of position i: neighbours[offsets[i] .. offsets[i+1]) (positions in `rows`, i itself excluded). */
  offsets: Int32Array;
  neighbours: Int32Array;
}

/** The rows packed in position order (the inner loops walk memory in order) and their squared norms. */
function packed(X: Features, rows: ArrayLike<number>): { P: Float32Array; norm: Float64Array } {
  const n = rows.length;
  const d = X.dim;
  const norm = new Float64Array(n);
  const P = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const base = rows[i] * d;
    let s = 0;
    for (let t = 0; t < d; t++) {
      const v = X.data[base + t];
      P[i * d + t] = v;
      s += v * v;
    }
    norm[i] = s;
  }
  return { P, norm };
}

/**
 * Calls `visit(a, j, d²)` for each a of `from` (positions, in blocks of four that share every load
 * of row j) and each position j > a (`upper`) or each j ≠ a (otherwise).
 */
function eachPair(P: Float32Array, norm: Float64Array, d: number, from: ArrayLike<number>, upper: boolean, visit: (a: number, j: number, d2: number) => void): void {
  const n = norm.length;
  for (let f = 0; f < from.length; f += 4) {
    const i0 = from[f], i1 = from[Math.min(f + 1, from.length - 1)], i2 = from[Math.min(f + 2, from.length - 1)], i3 = from[Math.min(f + 3, from.length - 1)];
    const live = Math.min(4, from.length - f);
    const a0 = i0 * d, a1 = i1 * d, a2 = i2 * d, a3 = i3 * d;
    for (let j = upper ? i0 + 1 : 0; j < n; j++) {
      const b = j * d;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let t = 0; t < d; t++) {
        const x = P[b + t];
        s0 += P[a0 + t] * x;
        s1 += P[a1 + t] * x;
        s2 += P[a2 + t] * x;
        s3 += P[a3 + t] * x;
      }
      if (upper ? i0 < j : i0 !== j) visit(i0, j, Math.max(0, norm[i0] + norm[j] - 2 * s0));
      if (live > 1 && (upper ? i1 < j : i1 !== j)) visit(i1, j, Math.max(0, norm[i1] + norm[j] - 2 * s1));
      if (live > 2 && (upper ? i2 < j : i2 !== j)) visit(i2, j, Math.max(0, norm[i2] + norm[j] - 2 * s2));
      if (live > 3 && (upper ? i3 < j : i3 !== j)) visit(i3, j, Math.max(0, norm[i3] + norm[j] - 2 * s3));
    }
  }
}

/** Images whose distance to another cluster sets δ (a quantile: a sample of this many is plenty). */
const RADIUS_SAMPLE = 2000;

/**
 * The δ-ball graph of `rows`. δ²: the `1 − purity` quantile, over the images (a seeded sample of
 * them on a large pool), of the squared distance to the nearest image of another k-means cluster
 * (a ball of radius δ around an image is pure exactly when that distance is ≥ δ).
 */
export function coverGraph(X: Features, rows: ArrayLike<number>, clusters: number, options: { purity?: number; seed?: number } = {}): CoverGraph {
  const n = rows.length;
  const purity = options.purity ?? 0.95;
  const seed = options.seed ?? 1;
  const pseudo = kmeans(X, rows, Math.max(1, Math.min(clusters, n)), { seed }).assignment;
  const { P, norm } = packed(X, rows);
  const sample = Int32Array.from({ length: n }, (_, i) => i);
  if (n > RADIUS_SAMPLE) drawToFront(sample, RADIUS_SAMPLE, seededRandom(seed));
  const from = sample.subarray(0, Math.min(n, RADIUS_SAMPLE)).sort();
  const impure = new Float64Array(n).fill(Infinity);
  eachPair(P, norm, X.dim, from, false, (i, j, d2) => {
    if (pseudo[i] !== pseudo[j] && d2 < impure[i]) impure[i] = d2;
  });
  const sorted = Array.from(from, (i) => impure[i]).sort((a, b) => a - b);
  const q = sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor((1 - purity) * sorted.length)))];
  // one cluster only (no impure ball at any radius): no radius to learn, no edges
  const delta2 = Number.isFinite(q) ? q : 0;
  // the edges, counted first so that one flat array holds them
  const degree = new Int32Array(n);
  const pairs: number[] = [];
  eachPair(P, norm, X.dim, Int32Array.from({ length: n }, (_, i) => i), true, (i, j, d2) => {
    if (d2 >= delta2) return;
    degree[i]++;
    degree[j]++;
    pairs.push(i, j);
  });
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + degree[i];
  const fill = offsets.slice(0, n);
  const neighbours = new Int32Array(offsets[n]);
  for (let e = 0; e < pairs.length; e += 2) {
    neighbours[fill[pairs[e]]++] = pairs[e + 1];
    neighbours[fill[pairs[e + 1]]++] = pairs[e];
  }
  return { delta2, offsets, neighbours };
}

/** Coverage state: which images a labelled (or picked) image's ball holds, and each ball's uncovered count. */
export class Coverage {
  readonly covered: Uint8Array;
  /** Uncovered images in each position's ball, itself included. */
  readonly gain: Int32Array;
  constructor(private readonly graph: CoverGraph, covering: ArrayLike<number>) {
    const n = graph.offsets.length - 1;
    this.covered = new Uint8Array(n);
    this.gain = new Int32Array(n);
    for (let i = 0; i < n; i++) this.gain[i] = graph.offsets[i + 1] - graph.offsets[i] + 1;
    for (let i = 0; i < covering.length; i++) this.add(covering[i]);
  }

  /** Marks position p's ball covered. */
  add(p: number): void {
    const { offsets, neighbours } = this.graph;
    const cover = (v: number) => {
      if (this.covered[v]) return;
      this.covered[v] = 1;
      // v no longer counts in any ball that holds it
      this.gain[v]--;
      for (let e = offsets[v]; e < offsets[v + 1]; e++) this.gain[neighbours[e]]--;
    };
    cover(p);
    for (let e = offsets[p]; e < offsets[p + 1]; e++) cover(neighbours[e]);
  }
}

/**
 * Greedy max coverage: up to `count` of the `candidates` (positions), each time the one whose ball
 * holds the most uncovered images (ties: the earlier candidate). Stops early when no ball gains
 * more than its own centre (the pool's dense parts are covered): the caller fills the rest another way.
 *
 * With `balance`, a candidate's gain is weighed by (1 + the batch's picks so far that share its
 * class)^−power (`classOf[i]`: candidates[i]'s class, e.g. its predicted leaf; −1: none), so that a
 * batch does not spend itself on the dense parts of a few classes.
 */
export function coverBatch(graph: CoverGraph, covering: ArrayLike<number>, candidates: ArrayLike<number>, count: number, balance?: { classOf: Int32Array; power: number }): number[] {
  const state = new Coverage(graph, covering);
  const taken = new Uint8Array(graph.offsets.length - 1);
  // per class: the batch's picks so far and the weight they give
  let classes = 0;
  if (balance) for (const c of balance.classOf) classes = Math.max(classes, c + 1);
  const picksOf = new Int32Array(classes);
  const weightOf = new Float64Array(classes).fill(1);
  const out: number[] = [];
  while (out.length < count) {
    let best = -1;
    let bestIndex = -1;
    let bestValue = 0;
    for (let i = 0; i < candidates.length; i++) {
      const p = candidates[i];
      if (taken[p] || state.gain[p] <= 1) continue;
      const c = balance ? balance.classOf[i] : -1;
      const value = c >= 0 ? state.gain[p] * weightOf[c] : state.gain[p];
      if (value > bestValue) {
        best = p;
        bestIndex = i;
        bestValue = value;
      }
    }
    if (best < 0) break;
    taken[best] = 1;
    out.push(best);
    state.add(best);
    const c = balance ? balance.classOf[bestIndex] : -1;
    if (c >= 0) weightOf[c] = Math.pow(1 + ++picksOf[c], -balance!.power);
  }
  return out;
}
