/**
 * From per-node conditionals P(child | parent) to a prediction: per-node marginals, the chosen
 * path and the confident-depth node, by one of three decoding rules (design doc, Model).
 *
 * Marginals are the product of conditionals down the path for top-down, and bottom-up's
 * leaf products summed into their ancestors for bottom-up and diffusion (the two agree whenever
 * every head is a softmax). Diffusion decides the path on smoothed scores f*, reported as `scores`.
 *
 * An untrained classifier (`stop`) ends the chosen path at its node: below it the model knows
 * nothing, so the prediction is the parent's decision (its marginals below are uniform).
 */
import { ROOT, type Taxonomy } from '../taxonomy';

export type InferenceMode = 'topdown' | 'bottomup' | 'diffusion';
export const INFERENCE_MODES: readonly InferenceMode[] = ['topdown', 'bottomup', 'diffusion'];
export const DEFAULT_TAU = 0.5;

export interface Prediction {
  /** Per node (taxonomy index). */
  marginals: Float64Array;
  /** Node ids from the top level down to the chosen node (empty: nothing chosen). */
  path: number[];
  /** The chosen node (ROOT when the path is empty). */
  node: number;
  /** Deepest node on the path with marginal ≥ τ (ROOT when none). */
  confident: number;
  /** Diffusion only: the smoothed scores f* per node. */
  scores?: Float64Array;
}

export interface DecoderOptions {
  /** Diffusion strength in [0, 1). */
  alpha?: number;
  tau?: number;
}

export class Decoder {
  readonly alpha: number;
  readonly tau: number;
  /** Nodes in pre-order (parents before children). */
  private readonly order: Int32Array;
  private readonly parent: Int32Array;
  private readonly leaves: Int32Array;
  private readonly isLeaf: Uint8Array;
  /** Per-node sums of one decoding (reused; decoding is synchronous). */
  private scratch?: Float64Array;
  /** Diffusion: eliminated diagonal a_v per graph vertex (0 = root, i+1 = node i) and edge weights to the parent. */
  private readonly diag: Float64Array;
  private readonly edge: Float64Array;

  constructor(
    readonly taxonomy: Taxonomy,
    options: DecoderOptions = {},
  ) {
    this.alpha = options.alpha ?? 0.5;
    this.tau = options.tau ?? DEFAULT_TAU;
    if (!(this.alpha >= 0 && this.alpha < 1)) throw new Error(`diffusion alpha must be in [0, 1), got ${this.alpha}`);
    const t = taxonomy;
    this.order = Int32Array.from(t.walk());
    this.parent = Int32Array.from(t.nodes, (n) => n.parent);
    this.isLeaf = Uint8Array.from(t.nodes, (n) => (n.children.length === 0 ? 1 : 0));
    this.leaves = Int32Array.from(t.leaves());
    const n = t.size;
    const degree = new Float64Array(n + 1);
    degree[0] = t.roots.length;
    for (const node of t.nodes) degree[node.id + 1] = node.children.length + 1;
    this.edge = new Float64Array(n + 1);
    for (const node of t.nodes) this.edge[node.id + 1] = 1 / Math.sqrt(degree[node.id + 1] * degree[node.parent + 1]);
    // Gaussian elimination of (I − αWn) from the leaves up: no fill-in on a tree, linear in nodes.
    this.diag = new Float64Array(n + 1).fill(1);
    const a2 = this.alpha * this.alpha;
    for (let i = this.order.length - 1; i >= 0; i--) {
      const v = this.order[i];
      this.diag[this.parent[v] + 1] -= (a2 * this.edge[v + 1] * this.edge[v + 1]) / this.diag[v + 1];
    }
  }

  /** A copy with another α (the tree precomputation is redone). */
  withAlpha(alpha: number): Decoder {
    return new Decoder(this.taxonomy, { alpha, tau: this.tau });
  }

  /** The prediction of one row from its conditionals; `into` (taxonomy-size) receives the marginals instead of a new array. */
  decode(cond: Float64Array, stop: Uint8Array, mode: InferenceMode, into?: Float64Array): Prediction {
    const t = this.taxonomy;
    const order = this.order;
    const parent = this.parent;
    const n = order.length;
    const m = into ?? new Float64Array(t.size);
    // Indexed loops over typed arrays: a session decodes thousands of rows after each retrain.
    for (let i = 0; i < n; i++) {
      const v = order[i];
      const p = parent[v];
      m[v] = (p === ROOT ? 1 : m[p]) * cond[v];
    }
    if (mode === 'topdown') {
      const path: number[] = [];
      let node = ROOT;
      for (;;) {
        const kids = t.childrenOf(node);
        if (kids.length === 0 || stop[node + 1]) break;
        let best = kids[0];
        for (const k of kids) if (cond[k] > cond[best]) best = k;
        path.push(best);
        node = best;
      }
      return { marginals: m, path, node, confident: this.confidentOn(path, m) };
    }
    // Bottom-up marginals: leaves keep their product, internal nodes take the sum of their leaves
    // (children follow their parent in pre-order, so a reverse pass sees them first).
    const sum = (this.scratch ??= new Float64Array(t.size)).fill(0);
    const isLeaf = this.isLeaf;
    for (let i = n - 1; i >= 0; i--) {
      const v = order[i];
      const value = isLeaf[v] ? m[v] : sum[v];
      m[v] = value;
      const p = parent[v];
      if (p !== ROOT) sum[p] += value;
    }
    let scores: Float64Array | undefined;
    let rank: Float64Array = m;
    if (mode === 'diffusion') {
      scores = this.diffuse(m);
      rank = scores;
    }
    const leaves = this.leaves;
    let best = ROOT;
    for (let i = 0; i < leaves.length; i++) {
      const leaf = leaves[i];
      if (best === ROOT || rank[leaf] > rank[best]) best = leaf;
    }
    const path = best === ROOT ? [] : this.truncated(t.ancestry(best), stop);
    const node = path.length ? path[path.length - 1] : ROOT;
    const out: Prediction = { marginals: m, path, node, confident: this.confidentOn(path, m) };
    if (scores) out.scores = scores;
    return out;
  }

  /** f* = (1−α)(I − αWn)⁻¹ f0 on the tree plus its root (f0 of the root = 1), solved exactly. */
  diffuse(f0: Float64Array): Float64Array {
    const n = this.taxonomy.size;
    const a = this.alpha;
    const b = new Float64Array(n + 1);
    b[0] = 1 - a;
    for (let v = 0; v < n; v++) b[v + 1] = (1 - a) * f0[v];
    for (let i = this.order.length - 1; i >= 0; i--) {
      const v = this.order[i];
      b[this.parent[v] + 1] += (a * this.edge[v + 1] * b[v + 1]) / this.diag[v + 1];
    }
    const f = new Float64Array(n + 1);
    f[0] = b[0] / this.diag[0];
    for (let i = 0; i < this.order.length; i++) {
      const v = this.order[i];
      f[v + 1] = (b[v + 1] + a * this.edge[v + 1] * f[this.parent[v] + 1]) / this.diag[v + 1];
    }
    return f.subarray(1);
  }

  /** The path cut where a parent's classifier is untrained. */
  private truncated(ancestry: number[], stop: Uint8Array): number[] {
    for (let i = 0; i < ancestry.length; i++) {
      const p = i === 0 ? ROOT : ancestry[i - 1];
      if (stop[p + 1]) return ancestry.slice(0, i);
    }
    return ancestry;
  }

  private confidentOn(path: number[], m: Float64Array): number {
    for (let i = path.length - 1; i >= 0; i--) if (m[path[i]] >= this.tau) return path[i];
    return ROOT;
  }
}

/**
 * Conditionals from leaf probabilities (flat softmax, kNN): internal marginals are sums of their
 * leaves and P(c | p) = m(c) / m(p). Nothing is untrained.
 */
export function conditionalsFromLeaves(t: Taxonomy, leafProbability: Float64Array, cond: Float64Array, stop: Uint8Array): void {
  const m = Float64Array.from(leafProbability);
  const order = [...t.walk()];
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i];
    if (!t.isLeaf(v)) continue;
    for (let p = t.nodes[v].parent; p !== ROOT; p = t.nodes[p].parent) m[p] += m[v];
  }
  stop.fill(0);
  for (const v of order) {
    const p = t.nodes[v].parent;
    const mp = p === ROOT ? 1 : m[p];
    cond[v] = mp > 0 ? m[v] / mp : 1 / t.childrenOf(p).length;
  }
}

/**
 * Multi-level entropy (design doc, Uncertainty): Σ_L w_L · H(p_L) / log(n_L) with uniform weights,
 * p_L the marginals at depth L where a leaf shallower than L stands for itself.
 */
export function multiLevelEntropy(t: Taxonomy, marginals: Float64Array, depths: Int32Array = t.depths()): number {
  let maxDepth = 0;
  for (const d of depths) if (d > maxDepth) maxDepth = d;
  if (maxDepth === 0) return 0;
  const h = new Float64Array(maxDepth + 1);
  const total = new Float64Array(maxDepth + 1);
  const count = new Float64Array(maxDepth + 1);
  for (const node of t.nodes) {
    const d = depths[node.id];
    const last = node.children.length === 0 ? maxDepth : d;
    const p = marginals[node.id];
    for (let L = d; L <= last; L++) {
      count[L]++;
      total[L] += p;
      if (p > 0) h[L] -= p * Math.log(p);
    }
  }
  let sum = 0;
  let levels = 0;
  for (let L = 1; L <= maxDepth; L++) {
    if (count[L] < 2) continue;
    // Normalise the level's distribution (sigmoid heads need not sum to one): H(p/Z) = H(p)/Z + log Z.
    const z = total[L];
    const hl = z > 0 ? h[L] / z + Math.log(z) : 0;
    sum += hl / Math.log(count[L]);
    levels++;
  }
  return levels ? sum / levels : 0;
}
