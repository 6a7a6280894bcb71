/**
 * Local classifier per parent node (LCPN): one classifier per internal node over its children.
 * An item labelled at node l trains the classifiers of ROOT and of every strict ancestor of l,
 * each with the child on l's path as the target; a partial label (l internal) trains nothing
 * below l. A node with one child needs no classifier (its child has probability 1).
 *
 * A classifier that cannot be fitted (fewer than two labelled examples, or only one child seen)
 * is *untrained*: its conditional is uniform over the children and inference stops at its
 * node, i.e. the prediction falls back to the parent's decision (see inference.ts).
 */
import type { LabelGroup } from '../dataset';
import { ROOT, type Taxonomy } from '../taxonomy';
import { DEFAULT_L2, fitSigmoid, fitSoftmax, meanCurvature, scores, softmaxLoss, softmaxProbabilities, type Features, type FitOptions } from './softmax';

export type HeadKind = 'softmax' | 'sigmoid';

export interface NodeClassifier {
  /** The node whose children this classifier chooses between (ROOT for the top level). */
  parent: number;
  /** Child node ids, in output order. */
  children: number[];
  kind: HeadKind;
  /** K × (dim+1) weights; empty when untrained. */
  weights: Float32Array;
  trained: boolean;
  /** Labelled examples it was trained on. */
  examples: number;
  iterations: number;
  /**
   * Softmax heads: log of each child's (smoothed) share of the training rows, added to the bias
   * of `weights`. The fit is class-balanced (every child weighs the same); adding the log prior
   * back turns its balanced posteriors into posteriors under the training distribution (logit
   * adjustment). Absent: nothing added (sigmoid heads, classifiers saved without it).
   */
  logPrior?: Float32Array;
}

/** Per training row, the node ids it is labelled with (empty = unlabelled). */
export type RowLabels = ReadonlyArray<readonly number[]>;

export interface LcpnOptions extends FitOptions {
  /** Datumaro label groups: children in inclusive or single-label groups get sigmoid heads. */
  groups?: readonly LabelGroup[];
  /** Incremental retrain: work budget per L-BFGS evaluation, in sample rows × children (default 1536). */
  localBudget?: number;
  /** Incremental retrain: most sample rows per child (default 256). */
  localPerChild?: number;
  /** Incremental retrain: L-BFGS iterations (default 8). */
  localIterations?: number;
  /** Incremental retrain: the share of a classifier's rows that may change before it is refitted on all of them (default 0.01). */
  localMaxChanged?: number;
}

export interface RetrainReport {
  /** Parents whose classifiers changed (refitted, updated locally, or became untrained), in the order given. */
  retrained: number[];
  /** Of those, the ones refitted on all their rows (the others had a local update). */
  full: number[];
  seconds: number;
}

/**
 * What a full fit leaves behind so that later labels can update the classifier locally: the
 * weights it reached, each row's target then, and a fixed class-stratified sample of its rows
 * with the linear correction that makes the sample's objective agree with the full one at those
 * weights (to first order).
 */
interface FitAnchor {
  weights: Float32Array;
  /** Child index per row of X at the full fit; −1 for rows that did not train this classifier. */
  target: Int32Array;
  rows: number;
  present: number;
  /** Rows per child at the full fit. */
  counts: Float64Array;
  sampleRows: Int32Array;
  sampleTargets: Int32Array;
  sampleWeights: Float64Array;
  /** ∇(sample objective)(weights) − ∇(full objective)(weights). */
  correction: Float64Array;
  /** The full objective's mean curvature, a floor for the proximal strength. */
  curvature: number;
  /** Per sample row: its weight × mean_k p_k(1 − p_k) at the anchor (its share of the curvature). */
  sampleCurvature: Float64Array;
}

const LOCAL_BUDGET = 1536;
const LOCAL_PER_CHILD = 256;
const LOCAL_ITERATIONS = 8;
/**
 * A local update stands in for a full fit while the changed rows are at most this share of the
 * rows; past it the classifier is refitted on all its rows (warm-started). On the dev dataset 1 %
 * keeps the accuracy of an incrementally updated model within 0.2 points of a full refit after
 * 290 new labels (25 %: 0.65 points), and one label's retrain p95 under 100 ms.
 */
const LOCAL_MAX_CHANGED = 0.01;

export class NoLabelsError extends Error {
  constructor() {
    super('the training set has no labelled items: label some images (or check that the annotation file was read) before training');
  }
}

export class LcpnClassifier {
  readonly classifiers = new Map<number, NodeClassifier>();
  private readonly headKinds: Map<number, HeadKind>;
  private readonly anchors = new Map<number, FitAnchor>();
  /** Parents updated locally since their last full fit. */
  private readonly pending = new Set<number>();

  constructor(
    readonly taxonomy: Taxonomy,
    readonly dim: number,
    readonly options: LcpnOptions = {},
  ) {
    this.headKinds = headKinds(taxonomy, options.groups ?? []);
  }

  /** Parents that get a classifier: ROOT and internal nodes with two or more children (one, for sigmoid heads). */
  parents(): number[] {
    const out: number[] = [];
    const consider = (p: number) => {
      const k = this.taxonomy.childrenOf(p).length;
      if (k >= 2 || (k === 1 && this.headKinds.get(p) === 'sigmoid')) out.push(p);
    };
    consider(ROOT);
    for (const node of this.taxonomy.nodes) consider(node.id);
    return out;
  }

  /** Fits every classifier on all its rows (warm-started from the current weights where the children are unchanged). */
  train(X: Features, labels: RowLabels): RetrainReport {
    if (!labels.some((l) => l.length > 0)) throw new NoLabelsError();
    const parents = this.parents();
    const keep = new Set(parents);
    for (const p of [...this.classifiers.keys()]) if (!keep.has(p)) this.classifiers.delete(p);
    return this.refit(X, labels, parents);
  }

  /**
   * Updates only the given parents' classifiers after labels changed; every other classifier is
   * left untouched. A softmax classifier with a full fit behind it gets a *local* update: a few
   * L-BFGS iterations on its changed rows plus its fixed sample, the sample's objective corrected
   * to agree with the full one at the anchor and a proximal pull toward the anchor, so the cost
   * does not grow with the number of labelled items. The others (never fully fitted, sigmoid
   * heads, new children seen, too many changes) are refitted on all their rows. Locally updated
   * parents stay in `pendingRefit()` until `refit()` runs on them.
   */
  retrain(X: Features, labels: RowLabels, affected: Iterable<number>): RetrainReport {
    const t0 = performance.now();
    const wanted = this.wanted(affected);
    const sets = trainingSets(this.taxonomy, labels, wanted);
    const retrained: number[] = [];
    const full: number[] = [];
    for (const p of wanted) {
      const set = sets.get(p) ?? { rows: [], children: [] };
      const local = this.localUpdate(X, p, set);
      if (local) {
        this.classifiers.set(p, local);
        this.pending.add(p);
      } else {
        this.classifiers.set(p, this.fit(X, p, set));
        this.pending.delete(p);
        full.push(p);
      }
      retrained.push(p);
    }
    return { retrained, full, seconds: (performance.now() - t0) / 1000 };
  }

  /** Parents updated locally since their last full fit (for a later `refit`, e.g. every N labels or when idle). */
  pendingRefit(): number[] {
    return [...this.pending];
  }

  /** Refits the given parents (default: those pending) on all their rows, warm-started. */
  refit(X: Features, labels: RowLabels, parents: Iterable<number> = this.pendingRefit()): RetrainReport {
    const t0 = performance.now();
    const wanted = this.wanted(parents);
    const sets = trainingSets(this.taxonomy, labels, wanted);
    const retrained: number[] = [];
    for (const p of wanted) {
      this.classifiers.set(p, this.fit(X, p, sets.get(p) ?? { rows: [], children: [] }));
      this.pending.delete(p);
      retrained.push(p);
    }
    return { retrained, full: [...retrained], seconds: (performance.now() - t0) / 1000 };
  }

  private wanted(parents: Iterable<number>): Set<number> {
    const wanted = new Set<number>();
    for (const p of parents) if (this.needsClassifier(p)) wanted.add(p);
    return wanted;
  }

  private needsClassifier(p: number): boolean {
    if (p !== ROOT && (p < 0 || p >= this.taxonomy.size)) return false;
    const k = this.taxonomy.childrenOf(p).length;
    return k >= 2 || (k === 1 && this.headKinds.get(p) === 'sigmoid');
  }

  private fit(X: Features, parent: number, set: { rows: number[]; children: number[] }): NodeClassifier {
    this.anchors.delete(parent);
    const children = [...this.taxonomy.childrenOf(parent)];
    const kind = this.headKinds.get(parent) ?? 'softmax';
    const K = children.length;
    const index = new Map(children.map((c, i) => [c, i]));
    const previous = this.classifiers.get(parent);
    const untrained: NodeClassifier = { parent, children, kind, weights: new Float32Array(0), trained: false, examples: set.rows.length, iterations: 0 };
    const seen = new Set(set.children);
    if (set.rows.length < 2 || (kind === 'softmax' && seen.size < 2)) return untrained;
    const init = previous?.trained ? remapWeights(previous, children, this.dim) : undefined;
    const options: FitOptions = { ...this.options, init };
    if (kind === 'softmax') {
      const rows = Int32Array.from(set.rows);
      const targets = Int32Array.from(set.children, (c) => index.get(c)!);
      const r = fitSoftmax(X, rows, targets, K, options);
      this.anchors.set(parent, this.anchor(X, rows, targets, K, r.weights, r.gradient));
      const counts = new Float64Array(K);
      for (const k of targets) counts[k]++;
      const logPrior = this.options.balanced === false ? undefined : logShares(counts);
      return { parent, children, kind, weights: withPrior(r.weights, logPrior, this.dim), trained: true, examples: set.rows.length, iterations: r.iterations, logPrior };
    }
    // Sigmoid: one row per image, multi-hot over the children it is labelled under.
    const rowIndex = new Map<number, number>();
    const rows: number[] = [];
    for (const r of set.rows) if (!rowIndex.has(r)) rowIndex.set(r, rows.push(r) - 1);
    const positive = new Uint8Array(rows.length * K);
    set.rows.forEach((r, i) => (positive[rowIndex.get(r)! * K + index.get(set.children[i])!] = 1));
    const r = fitSigmoid(X, Int32Array.from(rows), positive, K, options);
    return { parent, children, kind, weights: r.weights, trained: true, examples: rows.length, iterations: r.iterations };
  }

  /** The sample and correction a later local update needs, taken right after a full softmax fit. */
  private anchor(X: Features, rows: Int32Array, targets: Int32Array, K: number, weights: Float32Array, fullGradient: Float64Array): FitAnchor {
    const target = new Int32Array(X.n).fill(-1);
    rows.forEach((r, i) => (target[r] = targets[i]));
    const byChild: number[][] = Array.from({ length: K }, () => []);
    rows.forEach((r, i) => byChild[targets[i]].push(r));
    const present = byChild.filter((c) => c.length > 0).length;
    const perChild = Math.max(4, Math.min(this.options.localPerChild ?? LOCAL_PER_CHILD, Math.floor((this.options.localBudget ?? LOCAL_BUDGET) / (K * present))));
    const sampleRows: number[] = [];
    const sampleTargets: number[] = [];
    const sampleWeights: number[] = [];
    byChild.forEach((members, k) => {
      if (members.length === 0) return;
      // Evenly spaced over the child's rows: deterministic, and spread over the whole dataset order.
      const take = Math.min(perChild, members.length);
      for (let j = 0; j < take; j++) {
        sampleRows.push(members[Math.floor(((j + 0.5) * members.length) / take)]);
        sampleTargets.push(k);
        // The sample of a child carries that child's whole balanced weight, 1/present.
        sampleWeights.push(1 / (present * take));
      }
    });
    const sRows = Int32Array.from(sampleRows);
    const sTargets = Int32Array.from(sampleTargets);
    const sWeights = Float64Array.from(sampleWeights);
    const l2 = this.options.l2 ?? DEFAULT_L2;
    const correction = new Float64Array(weights.length);
    softmaxLoss(X, sRows, sTargets, sWeights, K, l2, weights, correction);
    for (let i = 0; i < correction.length; i++) correction[i] -= fullGradient[i];
    const curvature = meanCurvature(X, sRows, sWeights, K, weights);
    const p = new Float64Array(K);
    const sampleCurvature = Float64Array.from(sRows, (r, i) => {
      softmaxProbabilities(weights, K, X, r, p);
      let v = 0;
      for (let k = 0; k < K; k++) v += p[k] * (1 - p[k]);
      return (sWeights[i] * v) / K;
    });
    const counts = Float64Array.from(byChild, (c) => c.length);
    return { weights, target, rows: rows.length, present, counts, sampleRows: sRows, sampleTargets: sTargets, sampleWeights: sWeights, correction, curvature, sampleCurvature };
  }

  /**
   * The local update of a softmax classifier, or undefined when it needs a full fit. Minimises
   *   sample objective − ⟨correction, W⟩ + Σ_changed w_i ℓ_i(W) + (μ/2)‖W − W_anchor‖²
   * from the current weights: at the anchor the first two terms have the full objective's
   * gradient, the changed rows enter with their balanced weights, and μ (the full objective's mean
   * curvature) keeps directions the sample does not span from moving further than they would.
   */
  private localUpdate(X: Features, parent: number, set: { rows: number[]; children: number[] }): NodeClassifier | undefined {
    const a = this.anchors.get(parent);
    const current = this.classifiers.get(parent);
    if (!a || !current?.trained || current.kind !== 'softmax' || a.target.length !== X.n) return undefined;
    const children = current.children;
    const kids = this.taxonomy.childrenOf(parent);
    if (kids.length !== children.length || kids.some((c, i) => c !== children[i])) return undefined;
    const K = children.length;
    const index = new Map(children.map((c, i) => [c, i]));
    const counts = new Float64Array(K);
    const changedRows: number[] = [];
    const changedTargets: number[] = [];
    const now = new Int32Array(X.n).fill(-1);
    for (let i = 0; i < set.rows.length; i++) {
      const r = set.rows[i];
      const k = index.get(set.children[i])!;
      counts[k]++;
      now[r] = k;
      if (a.target[r] !== k) {
        changedRows.push(r);
        changedTargets.push(k);
      }
    }
    const goneRows: number[] = [];
    const goneTargets: number[] = [];
    for (let r = 0; r < X.n; r++) {
      if (a.target[r] >= 0 && now[r] !== a.target[r]) {
        goneRows.push(r);
        goneTargets.push(a.target[r]);
      }
    }
    let present = 0;
    for (let k = 0; k < K; k++) if (counts[k] > 0) present++;
    if (present !== a.present || changedRows.length + goneRows.length > (this.options.localMaxChanged ?? LOCAL_MAX_CHANGED) * a.rows) return undefined;
    const strength = Math.max(a.curvature, curvatureAlong(X, a, changedRows.length ? changedRows : goneRows));
    let linear = a.correction;
    if (goneRows.length > 0) {
      const gone = new Float64Array(a.correction.length);
      const goneWeights = Float64Array.from(goneTargets, (k) => 1 / (a.present * a.counts[k]));
      softmaxLoss(X, Int32Array.from(goneRows), Int32Array.from(goneTargets), goneWeights, K, 0, a.weights, gone);
      for (let i = 0; i < gone.length; i++) gone[i] += a.correction[i];
      linear = gone;
    }
    const m = a.sampleRows.length;
    const rows = new Int32Array(m + changedRows.length);
    const targets = new Int32Array(rows.length);
    const weights = new Float64Array(rows.length);
    rows.set(a.sampleRows);
    targets.set(a.sampleTargets);
    weights.set(a.sampleWeights);
    changedRows.forEach((r, i) => {
      rows[m + i] = r;
      targets[m + i] = changedTargets[i];
      weights[m + i] = 1 / (present * counts[changedTargets[i]]);
    });
    const r = fitSoftmax(
      X,
      rows,
      targets,
      K,
      // One label moves the gradient by about its weight, often below the full fit's tolerance: the
      // iteration cap, not the tolerance, is what bounds a local update.
      { ...this.options, init: withPrior(current.weights, current.logPrior, this.dim, -1), maxIterations: this.options.localIterations ?? LOCAL_ITERATIONS, gradientTolerance: 1e-9, relativeTolerance: 1e-12 },
      { rowWeights: weights, linear, anchor: { weights: a.weights, strength } },
    );
    const logPrior = current.logPrior ? logShares(counts) : undefined;
    return { ...current, weights: withPrior(r.weights, logPrior, this.dim), examples: set.rows.length, iterations: r.iterations, logPrior };
  }

  /**
   * P(child | parent) for every node, for one preprocessed row: `cond[c]` for each child c of a
   * parent with a classifier (uniform when untrained), 1 for an only child. `stop[p]` (index p+1,
   * slot 0 for ROOT) is 1 where the parent's classifier is untrained.
   */
  conditionals(X: Features, row: number, cond: Float64Array, stop: Uint8Array): void {
    stop.fill(0);
    for (const p of this.topDown()) this.headConditionals(X, row, p, cond, stop);
  }

  /** The nodes with children, each after its own parent (ROOT first). */
  topDown(): readonly number[] {
    if (!this.internal) {
      const t = this.taxonomy;
      const order: number[] = [ROOT];
      for (let i = 0; i < order.length; i++) for (const c of t.childrenOf(order[i])) if (t.childrenOf(c).length > 0) order.push(c);
      this.internal = order;
    }
    return this.internal;
  }

  /** `conditionals` for the children of one parent only (what a retrain of that parent changes). */
  headConditionals(X: Features, row: number, p: number, cond: Float64Array, stop: Uint8Array): void {
    const kids = this.taxonomy.childrenOf(p);
    stop[p + 1] = 0;
    if (kids.length === 0) return;
    const c = this.classifiers.get(p);
    if (!c) {
      for (const k of kids) cond[k] = 1 / kids.length;
      if (kids.length > 1) stop[p + 1] = 1;
      return;
    }
    if (!c.trained) {
      for (const k of c.children) cond[k] = c.kind === 'softmax' ? 1 / c.children.length : 0.5;
      stop[p + 1] = 1;
      return;
    }
    const s = this.scratch(c.children.length);
    scores(X.data, row * X.dim, X.dim, c.weights, c.children.length, s);
    if (c.kind === 'softmax') {
      let max = -Infinity;
      for (let k = 0; k < s.length; k++) if (s[k] > max) max = s[k];
      let z = 0;
      for (let k = 0; k < s.length; k++) z += s[k] = Math.exp(s[k] - max);
      for (let k = 0; k < s.length; k++) cond[c.children[k]] = s[k] / z;
    } else {
      for (let k = 0; k < s.length; k++) cond[c.children[k]] = 1 / (1 + Math.exp(-s[k]));
    }
  }

  /** p's classifier when it is a trained softmax (its weights give P(child | p) directly), else undefined. */
  softmaxHead(p: number): { children: readonly number[]; weights: Float32Array } | undefined {
    const c = this.classifiers.get(p);
    return c && c.trained && c.kind === 'softmax' ? c : undefined;
  }

  private internal?: number[];
  private scratchBuffers = new Map<number, Float64Array>();
  private scratch(k: number): Float64Array {
    let s = this.scratchBuffers.get(k);
    if (!s) this.scratchBuffers.set(k, (s = new Float64Array(k)));
    return s;
  }
}

/** Mean over (up to 16 of) the rows of Σ_s c_s (x_s · x̂)², the sample's curvature along each row's direction x̂. */
function curvatureAlong(X: Features, a: FitAnchor, rows: number[]): number {
  const { data, dim } = X;
  const take = Math.min(rows.length, 16);
  let sum = 0;
  for (let t = 0; t < take; t++) {
    const o = rows[Math.floor((t * rows.length) / take)] * dim;
    let norm = 1;
    for (let j = 0; j < dim; j++) norm += data[o + j] * data[o + j];
    let c = 0;
    for (let i = 0; i < a.sampleRows.length; i++) {
      const q = a.sampleRows[i] * dim;
      let d = 1;
      for (let j = 0; j < dim; j++) d += data[o + j] * data[q + j];
      c += a.sampleCurvature[i] * d * d;
    }
    sum += c / norm;
  }
  return take ? sum / take : 0;
}

/** Which head each parent gets: sigmoid when all its children sit in inclusive or single-label groups. */
function headKinds(t: Taxonomy, groups: readonly LabelGroup[]): Map<number, HeadKind> {
  const groupOf = new Map<number, LabelGroup>();
  for (const g of groups) for (const l of g.labels) groupOf.set(l, g);
  const kinds = new Map<number, HeadKind>();
  if (groups.length === 0) return kinds;
  for (const p of [ROOT, ...t.nodes.map((n) => n.id)]) {
    const kids = t.childrenOf(p);
    if (kids.length === 0) continue;
    const sigmoid = kids.every((c) => {
      const g = groupOf.get(c);
      return g !== undefined && (g.kind === 'inclusive' || g.labels.length === 1);
    });
    kinds.set(p, sigmoid ? 'sigmoid' : 'softmax');
  }
  return kinds;
}

/** For each wanted parent, the rows that train it and the child each row goes to. */
export function trainingSets(t: Taxonomy, labels: RowLabels, wanted?: ReadonlySet<number>): Map<number, { rows: number[]; children: number[] }> {
  const sets = new Map<number, { rows: number[]; children: number[] }>();
  const seen = new Set<string>();
  labels.forEach((ls, row) => {
    for (const l of ls) {
      for (let child = l; child !== ROOT; child = t.nodes[child].parent) {
        const parent = t.nodes[child].parent;
        if (wanted && !wanted.has(parent)) continue;
        if (ls.length > 1) {
          const key = `${row}:${parent}:${child}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        let s = sets.get(parent);
        if (!s) sets.set(parent, (s = { rows: [], children: [] }));
        s.rows.push(row);
        s.children.push(child);
      }
    }
  });
  return sets;
}

/** The parents whose classifiers a label change touches: ROOT and the strict ancestors of every old and new label. */
export function affectedParents(t: Taxonomy, oldLabels: readonly number[], newLabels: readonly number[]): number[] {
  const out = new Set<number>();
  for (const l of [...oldLabels, ...newLabels]) for (let n = l; n !== ROOT; n = t.nodes[n].parent) out.add(t.nodes[n].parent);
  return [...out];
}

/** Previous weights in the new children order; rows of new children start at zero. */
function remapWeights(previous: NodeClassifier, children: number[], dim: number): Float64Array {
  const D = dim + 1;
  const out = new Float64Array(children.length * D);
  // The fit's own weights: the log prior comes off the bias (it is added again after the fit).
  const weights = withPrior(previous.weights, previous.logPrior, dim, -1);
  const old = new Map(previous.children.map((c, i) => [c, i]));
  children.forEach((c, i) => {
    const j = old.get(c);
    if (j !== undefined && weights.length >= (j + 1) * D) out.set(weights.subarray(j * D, (j + 1) * D), i * D);
  });
  return out;
}

/** log of each class's share of the rows, add-one smoothed (a class without rows keeps a finite value). */
function logShares(counts: Float64Array): Float32Array {
  let total = 0;
  for (const c of counts) total += c;
  return Float32Array.from(counts, (c) => Math.log((c + 1) / (total + counts.length)));
}

/** The weights with sign · logPrior added to each row's bias (a copy; the same array when there is no prior). */
function withPrior(weights: Float32Array, logPrior: Float32Array | undefined, dim: number, sign = 1): Float32Array {
  if (!logPrior || weights.length === 0) return weights;
  const out = Float32Array.from(weights);
  const D = dim + 1;
  for (let k = 0; k < logPrior.length; k++) out[k * D + dim] += sign * logPrior[k];
  return out;
}
