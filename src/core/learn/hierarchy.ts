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
import { fitSigmoid, fitSoftmax, scores, type Features, type FitOptions } from './softmax';

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
}

/** Per training row, the node ids it is labelled with (empty = unlabelled). */
export type RowLabels = ReadonlyArray<readonly number[]>;

export interface LcpnOptions extends FitOptions {
  /** Datumaro label groups: children in inclusive or single-label groups get sigmoid heads. */
  groups?: readonly LabelGroup[];
}

export interface RetrainReport {
  /** Parents whose classifiers were refitted (or became untrained), in the order given. */
  retrained: number[];
  seconds: number;
}

export class NoLabelsError extends Error {
  constructor() {
    super('the training set has no labelled items: label some images (or check that the annotation file was read) before training');
  }
}

export class LcpnClassifier {
  readonly classifiers = new Map<number, NodeClassifier>();
  private readonly headKinds: Map<number, HeadKind>;

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

  /** Fits every classifier (warm-started from the current weights where the children are unchanged). */
  train(X: Features, labels: RowLabels): RetrainReport {
    if (!labels.some((l) => l.length > 0)) throw new NoLabelsError();
    const parents = this.parents();
    const keep = new Set(parents);
    for (const p of [...this.classifiers.keys()]) if (!keep.has(p)) this.classifiers.delete(p);
    return this.retrain(X, labels, parents);
  }

  /** Warm-starts only the given parents' classifiers; every other classifier is left untouched. */
  retrain(X: Features, labels: RowLabels, affected: Iterable<number>): RetrainReport {
    const t0 = performance.now();
    const wanted = new Set<number>();
    for (const p of affected) if (this.needsClassifier(p)) wanted.add(p);
    const sets = trainingSets(this.taxonomy, labels, wanted);
    const retrained: number[] = [];
    for (const p of wanted) {
      this.classifiers.set(p, this.fit(X, p, sets.get(p) ?? { rows: [], children: [] }));
      retrained.push(p);
    }
    return { retrained, seconds: (performance.now() - t0) / 1000 };
  }

  private needsClassifier(p: number): boolean {
    if (p !== ROOT && (p < 0 || p >= this.taxonomy.size)) return false;
    const k = this.taxonomy.childrenOf(p).length;
    return k >= 2 || (k === 1 && this.headKinds.get(p) === 'sigmoid');
  }

  private fit(X: Features, parent: number, set: { rows: number[]; children: number[] }): NodeClassifier {
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
      const r = fitSoftmax(X, Int32Array.from(set.rows), Int32Array.from(set.children, (c) => index.get(c)!), K, options);
      return { parent, children, kind, weights: r.weights, trained: true, examples: set.rows.length, iterations: r.iterations };
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

  /**
   * P(child | parent) for every node, for one preprocessed row: `cond[c]` for each child c of a
   * parent with a classifier (uniform when untrained), 1 for an only child. `stop[p]` (index p+1,
   * slot 0 for ROOT) is 1 where the parent's classifier is untrained.
   */
  conditionals(X: Features, row: number, cond: Float64Array, stop: Uint8Array): void {
    const t = this.taxonomy;
    stop.fill(0);
    this.internal ??= [ROOT, ...t.nodes.filter((n) => n.children.length > 0).map((n) => n.id)];
    for (const p of this.internal) {
      const kids = t.childrenOf(p);
      if (kids.length === 0) continue;
      const c = this.classifiers.get(p);
      if (!c) {
        for (const k of kids) cond[k] = 1 / kids.length;
        if (kids.length > 1) stop[p + 1] = 1;
        continue;
      }
      if (!c.trained) {
        for (const k of c.children) cond[k] = c.kind === 'softmax' ? 1 / c.children.length : 0.5;
        stop[p + 1] = 1;
        continue;
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
  }

  private internal?: number[];
  private scratchBuffers = new Map<number, Float64Array>();
  private scratch(k: number): Float64Array {
    let s = this.scratchBuffers.get(k);
    if (!s) this.scratchBuffers.set(k, (s = new Float64Array(k)));
    return s;
  }
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
  const old = new Map(previous.children.map((c, i) => [c, i]));
  children.forEach((c, i) => {
    const j = old.get(c);
    if (j !== undefined && previous.weights.length >= (j + 1) * D) out.set(previous.weights.subarray(j * D, (j + 1) * D), i * D);
  });
  return out;
}
