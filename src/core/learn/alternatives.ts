/**
 * The baselines LCPN is compared with: one flat softmax over the leaves, and k-nearest neighbours
 * (cosine) over the labelled embeddings. Both give leaf probabilities; inference.ts turns those
 * into marginals and a path like any other model. Only items labelled at a leaf train them
 * (a partial label names no leaf).
 */
import type { Taxonomy } from '../taxonomy';
import { NoLabelsError, type RowLabels } from './hierarchy';
import { fitSoftmax, softmaxProbabilities, type Features, type FitOptions } from './softmax';

export class FlatSoftmax {
  readonly leaves: number[];
  weights: Float32Array = new Float32Array(0);
  iterations = 0;

  constructor(
    readonly taxonomy: Taxonomy,
    readonly dim: number,
    readonly options: FitOptions = {},
  ) {
    this.leaves = taxonomy.leaves();
  }

  train(X: Features, labels: RowLabels): void {
    const index = new Map(this.leaves.map((l, i) => [l, i]));
    const rows: number[] = [];
    const targets: number[] = [];
    labels.forEach((ls, row) => {
      for (const l of ls) {
        const k = index.get(l);
        if (k === undefined) continue;
        rows.push(row);
        targets.push(k);
      }
    });
    if (rows.length === 0) throw new NoLabelsError();
    const init = this.weights.length === this.leaves.length * (this.dim + 1) ? this.weights : undefined;
    const r = fitSoftmax(X, Int32Array.from(rows), Int32Array.from(targets), this.leaves.length, { ...this.options, init });
    this.weights = r.weights;
    this.iterations = r.iterations;
  }

  /** Probability per taxonomy node, non-zero on leaves only. */
  leafProbabilities(X: Features, row: number, out: Float64Array): void {
    const p = new Float64Array(this.leaves.length);
    softmaxProbabilities(this.weights, this.leaves.length, X, row, p);
    out.fill(0);
    this.leaves.forEach((l, k) => (out[l] = p[k]));
  }
}

export const DEFAULT_K = 10;

/** Cosine k-nearest neighbours: the k most similar labelled rows vote for their leaf, weighted by similarity. */
export class NearestNeighbours {
  private rows = new Int32Array(0);
  private leafOf = new Int32Array(0);
  private X?: Features;
  private norms = new Float64Array(0);

  constructor(
    readonly taxonomy: Taxonomy,
    readonly k = DEFAULT_K,
  ) {}

  train(X: Features, labels: RowLabels): void {
    const rows: number[] = [];
    const leaves: number[] = [];
    labels.forEach((ls, row) => {
      for (const l of ls) {
        if (!this.taxonomy.isLeaf(l)) continue;
        rows.push(row);
        leaves.push(l);
        break;
      }
    });
    if (rows.length === 0) throw new NoLabelsError();
    this.rows = Int32Array.from(rows);
    this.leafOf = Int32Array.from(leaves);
    this.X = X;
    this.norms = Float64Array.from(rows, (r) => Math.sqrt(dotRows(X, r, X, r)) || 1);
  }

  leafProbabilities(Q: Features, row: number, out: Float64Array): void {
    const X = this.X!;
    const k = Math.min(this.k, this.rows.length);
    const bestSim = new Float64Array(k).fill(-Infinity);
    const bestLeaf = new Int32Array(k);
    const qn = Math.sqrt(dotRows(Q, row, Q, row)) || 1;
    for (let i = 0; i < this.rows.length; i++) {
      const sim = dotRows(Q, row, X, this.rows[i]) / (qn * this.norms[i]);
      if (sim <= bestSim[k - 1]) continue;
      let j = k - 1;
      while (j > 0 && bestSim[j - 1] < sim) {
        bestSim[j] = bestSim[j - 1];
        bestLeaf[j] = bestLeaf[j - 1];
        j--;
      }
      bestSim[j] = sim;
      bestLeaf[j] = this.leafOf[i];
    }
    out.fill(0);
    let total = 0;
    for (let j = 0; j < k; j++) {
      const w = Math.max(bestSim[j], 0) + 1e-6;
      out[bestLeaf[j]] += w;
      total += w;
    }
    if (total > 0) for (let i = 0; i < out.length; i++) out[i] /= total;
  }
}

function dotRows(A: Features, i: number, B: Features, j: number): number {
  const d = A.dim;
  const a = A.data;
  const b = B.data;
  const oa = i * d;
  const ob = j * d;
  let s0 = 0;
  let s1 = 0;
  let t = 0;
  for (; t + 1 < d; t += 2) {
    s0 += a[oa + t] * b[ob + t];
    s1 += a[oa + t + 1] * b[ob + t + 1];
  }
  for (; t < d; t++) s0 += a[oa + t] * b[ob + t];
  return s0 + s1;
}
