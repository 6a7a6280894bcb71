/**
 * How much of a softmax's doubt is the model's own (epistemic) rather than the data's: a Laplace
 * approximation of the posterior over the weights of a linear softmax over the leaves, block-diagonal
 * by class (each class's weight vector has the Hessian of the loss in it, Σᵢ pᵢₖ(1 − pᵢₖ) x̃ᵢx̃ᵢᵀ
 * over the labelled rows, plus the prior's precision), gives the variance of the logit gap between
 * a row's two most likely leaves; BALD on that binary decision (Houlsby et al. 2011, the probit
 * approximation) is the information a label would give about the weights. An image on which the
 * model is unsure because its neighbourhood is ambiguous (many labels around it, all disagreeing)
 * scores low; one that is unsure for want of labels, high.
 */
import { cholesky } from './lda';
import type { Features } from './softmax';
import type { MarginalsMatrix } from './uncertainty';

/**
 * A labelled row adds to the Hessians of its this many most likely classes only (the others'
 * p(1 − p) is small; the cost is labels × this × (dim + 1)² / 2 instead of labels × K × …).
 */
const TOP_CLASSES = 16;
/** Probabilities are floored here for the logit gap (float32 marginals underflow). */
const FLOOR = 1e-30;

/**
 * The posterior is built again once the labelled set has grown by this share since its last build
 * (or lost an item): every round of al-sim's batches of 200 up to its budget of 4,000, about every
 * 200 labels for a curator at 4,000. In between, a ranking reuses it and computes a row's variance
 * again only where the row's two most likely leaves changed, so that one label costs a re-rank
 * milliseconds, not the half second of a build (the labels since the build are not in it yet).
 */
export const REBUILD_GROWTH = 0.05;

/**
 * The factors take at most this many bytes: a taxonomy with more leaves than fit with the whole
 * geometry (200 leaves × 65² doubles = 6.8 MB; 3,800 leaves fill it) gets a posterior on its
 * leading principal directions only (20,000 leaves: 27 of the 64).
 */
const FACTOR_BYTES = 128 * 1024 * 1024;

/** How many leading dimensions of a `dim`-d geometry the posterior of K leaves uses (FACTOR_BYTES). */
export function posteriorDims(dim: number, K: number): number {
  return Math.max(1, Math.min(dim, Math.floor(Math.sqrt(FACTOR_BYTES / 8 / Math.max(1, K))) - 1));
}

/**
 * The Laplace posterior of a linear softmax over the leaves on X whose probabilities are the
 * model's (block-diagonal by class: Hₖ = Σ_labelled pₖ(1 − pₖ) x̃x̃ᵀ + prior, x̃ = [x, 1]), kept
 * between rankings of one pool, and the top-two logit gap and its variance per row.
 */
export class LaplacePosterior {
  private factors?: Float64Array;
  private build = 0;
  private readonly member: Uint8Array;
  private members = 0;
  private readonly pairA: Int32Array;
  private readonly pairB: Int32Array;
  private readonly stamp: Int32Array;
  private readonly variance: Float64Array;

  /** The leading dimensions of X it uses (posteriorDims). */
  readonly dims: number;

  constructor(
    /** The inputs of the linear softmax (the strategies' geometry: a PCA of the classifier inputs). */
    readonly X: Features,
    /** The leaves' node ids: the softmax's classes (their marginals are its probabilities). */
    readonly leaves: ArrayLike<number>,
    /** The prior's precision on every weight (a Gaussian prior; 1/C in scikit-learn's terms). */
    readonly priorPrecision: number,
  ) {
    this.dims = posteriorDims(X.dim, leaves.length);
    this.member = new Uint8Array(X.n);
    this.pairA = new Int32Array(X.n);
    this.pairB = new Int32Array(X.n);
    this.stamp = new Int32Array(X.n);
    this.variance = new Float64Array(X.n);
  }

  /** Whether the next `gap` with these labelled rows builds the posterior again (and so reads their predictions). */
  stale(labelled: ArrayLike<number>): boolean {
    if (!this.factors) return true;
    let kept = 0;
    for (let i = 0; i < labelled.length; i++) kept += this.member[labelled[i]];
    return kept < this.members || labelled.length - kept >= REBUILD_GROWTH * Math.max(1, this.members);
  }

  /**
   * For each of `rows` (out[i] for rows[i]): the logit gap μ ≥ 0 between its two most likely leaves
   * and the gap's variance σ² = x̃ᵀ(H_a⁻¹ + H_b⁻¹)x̃.
   */
  gap(M: MarginalsMatrix, labelled: ArrayLike<number>, rows: ArrayLike<number>): { gap: Float64Array; variance: Float64Array } {
    if (this.stale(labelled)) this.rebuild(M, labelled);
    const F = this.factors!;
    const { X, leaves } = this;
    const K = leaves.length;
    const D = this.dims + 1;
    const p = new Float64Array(K);
    const x = new Float64Array(D);
    const gap = new Float64Array(rows.length);
    const variance = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      leafProbabilities(M, leaves, r, p);
      let a = 0;
      let b = -1;
      for (let k = 1; k < K; k++) {
        if (p[k] > p[a]) {
          b = a;
          a = k;
        } else if (b < 0 || p[k] > p[b]) b = k;
      }
      if (b < 0) continue;
      gap[i] = Math.log(Math.max(p[a], FLOOR)) - Math.log(Math.max(p[b], FLOOR));
      if (this.stamp[r] !== this.build || this.pairA[r] !== a || this.pairB[r] !== b) {
        augmented(X, this.dims, r, x);
        this.variance[r] = quadraticPair(F, a * D * D, b * D * D, x, D);
        this.pairA[r] = a;
        this.pairB[r] = b;
        this.stamp[r] = this.build;
      }
      variance[i] = this.variance[r];
    }
    return { gap, variance };
  }

  private rebuild(M: MarginalsMatrix, labelled: ArrayLike<number>): void {
    const { X, leaves, priorPrecision } = this;
    const K = leaves.length;
    const D = this.dims + 1;
    const H = (this.factors ??= new Float64Array(K * D * D));
    H.fill(0);
    const p = new Float64Array(K);
    const top = new Int32Array(Math.min(TOP_CLASSES, K));
    this.member.fill(0);
    // each labelled row's √(p(1 − p))·x̃ for its likeliest leaves, grouped by leaf: Hₖ = ZₖᵀZₖ + prior
    const rowsOf: number[][] = Array.from({ length: K }, () => []);
    const scale: number[][] = Array.from({ length: K }, () => []);
    for (let i = 0; i < labelled.length; i++) {
      const r = labelled[i];
      this.member[r] = 1;
      leafProbabilities(M, leaves, r, p);
      for (const k of topClasses(p, top.length, top)) {
        const v = p[k] * (1 - p[k]);
        if (!(v > 0)) continue;
        rowsOf[k].push(r);
        scale[k].push(Math.sqrt(v));
      }
    }
    let Z = new Float64Array(0);
    for (let k = 0; k < K; k++) {
      const m = rowsOf[k].length;
      if (Z.length < m * D) Z = new Float64Array(m * D);
      // Zₖ column-major (one column per input dimension), so that each entry of ZₖᵀZₖ is a dot product of two runs
      for (let i = 0; i < m; i++) {
        const r = rowsOf[k][i];
        const w = scale[k][i];
        for (let j = 0; j < D - 1; j++) Z[j * m + i] = w * X.data[r * X.dim + j];
        Z[(D - 1) * m + i] = w;
      }
      const o = k * D * D;
      for (let a = 0; a < D; a++) {
        const ca = a * m;
        for (let b = a; b < D; b++) {
          const cb = b * m;
          let t = 0;
          for (let i = 0; i < m; i++) t += Z[ca + i] * Z[cb + i];
          H[o + b * D + a] = t;
        }
        H[o + a * D + a] += priorPrecision;
      }
    }
    this.members = 0;
    for (const m of this.member) this.members += m;
    // Hₖ (its lower triangle filled in above) → Lₖ⁻¹, Hₖ = LₖLₖᵀ
    for (let k = 0; k < K; k++) inverseFactor(H.subarray(k * D * D, (k + 1) * D * D), D);
    this.build++;
  }
}

/** Row r's leaf probabilities into p. */
function leafProbabilities(M: MarginalsMatrix, leaves: ArrayLike<number>, r: number, p: Float64Array): void {
  const o = r * M.nodes;
  for (let k = 0; k < leaves.length; k++) p[k] = M.data[o + leaves[k]];
}

/** Row r's first `dims` inputs with a trailing 1 into x. */
function augmented(X: Features, dims: number, r: number, x: Float64Array): void {
  for (let j = 0; j < dims; j++) x[j] = X.data[r * X.dim + j];
  x[dims] = 1;
}

/**
 * BALD of a binary decision whose logit is N(μ, σ²): H[E σ(f)] − E[H σ(f)], in bits, with the
 * logistic taken as a probit (σ(f) ≈ Φ(f·√(π/8))) for a closed form (Houlsby et al. 2011, eq. 4).
 */
export function binaryBald(mu: number, variance: number): number {
  const s = Math.PI / 8;
  const a2 = mu * mu * s;
  const b2 = variance * s;
  const C2 = (Math.PI * Math.LN2) / 2;
  const q = normalCdf(Math.sqrt(a2) / Math.sqrt(1 + b2));
  const expected = (Math.sqrt(C2) / Math.sqrt(b2 + C2)) * Math.exp(-a2 / (2 * (b2 + C2)));
  return Math.max(0, binaryEntropyBits(q) - expected);
}

/** The indices of the m largest entries of p, into out (unordered). */
function topClasses(p: Float64Array, m: number, out: Int32Array): Int32Array {
  // out[0 … m) holds the current top m; min tracks the smallest of them
  for (let k = 0; k < m; k++) out[k] = k;
  let min = 0;
  for (let j = 1; j < m; j++) if (p[out[j]] < p[out[min]]) min = j;
  for (let k = m; k < p.length; k++) {
    if (p[k] <= p[out[min]]) continue;
    out[min] = k;
    min = 0;
    for (let j = 1; j < m; j++) if (p[out[j]] < p[out[min]]) min = j;
  }
  return out;
}

function binaryEntropyBits(q: number): number {
  if (q <= 0 || q >= 1) return 0;
  return -(q * Math.log2(q) + (1 - q) * Math.log2(1 - q));
}

/** Φ by the complementary error function (Numerical Recipes' erfc, |error| < 1.2e-7). */
function normalCdf(z: number): number {
  const t = 1 / (1 + (0.5 * Math.abs(z)) / Math.SQRT2);
  const y = t * Math.exp(-(z * z) / 2 - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return z >= 0 ? 1 - y / 2 : y / 2;
}

/**
 * xᵀA⁻¹x + xᵀB⁻¹x = ‖L_A⁻¹x‖² + ‖L_B⁻¹x‖² for the lower-triangular factors at offsets `oa` and
 * `ob` of M (inverseFactor's output): both in one pass, four terms at a time (the queue's hot loop).
 */
function quadraticPair(M: Float64Array, oa: number, ob: number, x: Float64Array, D: number): number {
  let s = 0;
  for (let i = 0; i < D; i++) {
    const ra = oa + i * D;
    const rb = ob + i * D;
    let ta = 0;
    let tb = 0;
    let j = 0;
    for (; j + 3 <= i; j += 4) {
      const x0 = x[j];
      const x1 = x[j + 1];
      const x2 = x[j + 2];
      const x3 = x[j + 3];
      ta += M[ra + j] * x0 + M[ra + j + 1] * x1 + M[ra + j + 2] * x2 + M[ra + j + 3] * x3;
      tb += M[rb + j] * x0 + M[rb + j + 1] * x1 + M[rb + j + 2] * x2 + M[rb + j + 3] * x3;
    }
    for (; j <= i; j++) {
      ta += M[ra + j] * x[j];
      tb += M[rb + j] * x[j];
    }
    s += ta * ta + tb * tb;
  }
  return s;
}

/**
 * Replaces the symmetric positive definite D × D matrix whose lower triangle A holds with L⁻¹
 * (lower triangle, zeros above), where A = LLᵀ (Cholesky): A⁻¹ = L⁻ᵀL⁻¹, so xᵀA⁻¹x = ‖L⁻¹x‖².
 */
export function inverseFactor(A: Float64Array, D: number): void {
  cholesky(A, D);
  const L = A.slice();
  A.fill(0);
  for (let i = 0; i < D; i++) {
    A[i * D + i] = 1 / L[i * D + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= L[i * D + k] * A[k * D + j];
      A[i * D + j] = s / L[i * D + i];
    }
  }
}
