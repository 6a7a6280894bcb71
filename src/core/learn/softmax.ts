/**
 * Linear classifiers on embeddings: multinomial logistic (softmax) regression for an exclusive
 * choice, and one binary logistic (sigmoid) per label for an inclusive / multi-label one. Both
 * are L2-regularised, class-balanced, fitted with L-BFGS and warm-startable from earlier weights.
 *
 * Weights are K rows of (dim + 1) numbers, the last one the bias (not regularised).
 */
import { minimize, type LbfgsOptions } from './lbfgs';
import { openSplit, type SplitTerm } from './parallel';
import { principalDirections, whiteningMatrix } from './projection';

/** Row-major embeddings: row i is data[i*dim … (i+1)*dim). */
export interface Features {
  data: Float32Array;
  n: number;
  dim: number;
}

/** How raw embeddings become classifier inputs; fitted on the training set, stored with the model. */
export interface Preprocessing {
  /** Subtracted after L2 normalisation; empty when not mean-centred. */
  mean: Float32Array;
  /** Multiplies the centred vector so that a feature has unit variance on average (λ then means the same for any backbone). */
  scale: number;
  /**
   * Optional whitening projection, k × input-dim rows (projection.ts): the classifier input is
   * scale · P (x̂ − μ), k-dimensional. Absent: the input is scale · (x̂ − μ).
   */
  projection?: Float32Array;
}

/** The classifiers' default input projection: the leading principal directions, shrunk whitening (projection.ts). */
export interface ProjectionOptions {
  dims: number;
  /** s in 1/√((1 − s)·λ + s·λ̄): 0 whitens fully, 1 only rotates. */
  shrinkage: number;
}

export const DEFAULT_PROJECTION: ProjectionOptions = { dims: 512, shrinkage: 0.5 };

/** The dimension of a preprocessed row. */
export function outputDim(pre: Preprocessing, inputDim: number): number {
  return pre.projection ? pre.projection.length / inputDim : inputDim;
}

export class NonFiniteEmbeddingError extends Error {
  constructor(readonly image: string) {
    super(`the embedding of ${image} has a non-finite value (NaN or infinity); re-embed the image or remove it`);
  }
}

/**
 * Fits the preprocessing on raw training embeddings (L2 normalisation, optional mean-centring,
 * variance scale) and, when `project` is given and the embeddings have more dimensions than it
 * keeps, the whitening projection onto their leading principal directions.
 */
export function fitPreprocessing(raw: Features, options: { center?: boolean; images?: readonly string[]; project?: ProjectionOptions } = {}): Preprocessing {
  const { n, dim } = raw;
  const center = options.center ?? true;
  const mean = new Float64Array(dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    normalisedRow(raw, i, row, options.images);
    for (let j = 0; j < dim; j++) mean[j] += row[j];
  }
  if (n > 0) for (let j = 0; j < dim; j++) mean[j] /= n;
  // E‖x − μ‖² = 1 − ‖μ‖² for unit-norm rows.
  let meanSq = 0;
  for (let j = 0; j < dim; j++) meanSq += mean[j] * mean[j];
  const spread = center ? Math.max(1 - meanSq, 1e-6) : 1;
  const pre: Preprocessing = { mean: center ? Float32Array.from(mean) : new Float32Array(0), scale: Math.sqrt(dim / spread) };
  const project = options.project;
  // Too few rows to estimate that many directions: no projection.
  if (!project || project.dims >= dim || n < project.dims) return pre;
  // The whitening sees the rows as the classifiers would without it (normalised, centred), at unit scale.
  const sample = Math.min(n, PROJECTION_SAMPLE);
  const rows = new Float32Array(sample * dim);
  for (let s = 0; s < sample; s++) {
    const i = Math.floor((s * n) / sample);
    normalisedRow(raw, i, row, options.images);
    for (let j = 0; j < dim; j++) rows[s * dim + j] = center ? row[j] - mean[j] : row[j];
  }
  const directions = principalDirections({ data: rows, n: sample, dim }, Math.min(project.dims, sample));
  return { mean: pre.mean, scale: 1, projection: whiteningMatrix(directions, dim, project.shrinkage) };
}

/** Rows of the whitening's covariance sample (evenly spaced over the training set). */
const PROJECTION_SAMPLE = 4000;

/** Applies the preprocessing. Throws NonFiniteEmbeddingError naming the image of a bad row. */
export function preprocess(raw: Features, pre: Preprocessing, images?: readonly string[], shared = false): Features {
  const { n, dim } = raw;
  const out = outputDim(pre, dim);
  if (!Number.isInteger(out) || out <= 0) throw new Error(`the preprocessing's projection does not fit ${dim}-d embeddings`);
  const bytes = n * out * 4;
  const data = new Float32Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  if (pre.projection) {
    projectRows(raw, pre, pre.projection, out, data, images);
    return { data, n, dim: out };
  }
  const row = new Float64Array(dim);
  const hasMean = pre.mean.length === dim;
  for (let i = 0; i < n; i++) {
    normalisedRow(raw, i, row, images);
    const o = i * dim;
    for (let j = 0; j < dim; j++) data[o + j] = ((hasMean ? row[j] - pre.mean[j] : row[j]) * pre.scale);
  }
  return { data, n, dim };
}

/**
 * out[i] = scale · P (x̂_i − μ), four rows per pass over P. The same blocking as scoresBlock, on
 * Float64 rows (the centred rows are not rounded to Float32 before the projection).
 */
function projectRows(raw: Features, pre: Preprocessing, P: Float32Array, k: number, out: Float32Array, images?: readonly string[]): void {
  const { n, dim } = raw;
  const hasMean = pre.mean.length === dim;
  const block = new Float64Array(BLOCK * dim);
  const row = new Float64Array(dim);
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const b = Math.min(BLOCK, n - i0);
    block.fill(0);
    for (let r = 0; r < b; r++) {
      normalisedRow(raw, i0 + r, row, images);
      const o = r * dim;
      for (let j = 0; j < dim; j++) block[o + j] = hasMean ? row[j] - pre.mean[j] : row[j];
    }
    const o1 = dim;
    const o2 = 2 * dim;
    const o3 = 3 * dim;
    const sc = pre.scale;
    // Two projection rows × four data rows per pass: six loads for eight products.
    for (let c = 0; c < k; c += 2) {
      const pa = c * dim;
      const pb = c + 1 < k ? pa + dim : pa;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let b0 = 0;
      let b1 = 0;
      let b2 = 0;
      let b3 = 0;
      for (let j = 0; j < dim; j++) {
        const u = P[pa + j];
        const v = P[pb + j];
        const x0 = block[j];
        const x1 = block[o1 + j];
        const x2 = block[o2 + j];
        const x3 = block[o3 + j];
        a0 += u * x0;
        a1 += u * x1;
        a2 += u * x2;
        a3 += u * x3;
        b0 += v * x0;
        b1 += v * x1;
        b2 += v * x2;
        b3 += v * x3;
      }
      const o = i0 * k + c;
      out[o] = a0 * sc;
      if (b > 1) out[o + k] = a1 * sc;
      if (b > 2) out[o + 2 * k] = a2 * sc;
      if (b > 3) out[o + 3 * k] = a3 * sc;
      if (c + 1 < k) {
        out[o + 1] = b0 * sc;
        if (b > 1) out[o + k + 1] = b1 * sc;
        if (b > 2) out[o + 2 * k + 1] = b2 * sc;
        if (b > 3) out[o + 3 * k + 1] = b3 * sc;
      }
    }
  }
}

function normalisedRow(raw: Features, i: number, out: Float64Array, images?: readonly string[]): void {
  const { dim, data } = raw;
  const o = i * dim;
  let sq = 0;
  for (let j = 0; j < dim; j++) {
    const v = data[o + j];
    out[j] = v;
    sq += v * v;
  }
  if (!Number.isFinite(sq)) throw new NonFiniteEmbeddingError(images?.[i] ?? `row ${i}`);
  const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
  for (let j = 0; j < dim; j++) out[j] *= inv;
}

export interface FitOptions extends LbfgsOptions {
  /** L2 strength λ on the mean (class-weighted) loss. */
  l2?: number;
  /** Balanced class weights (default) or none. */
  balanced?: boolean;
  /** Warm start: K × (dim+1) weights. */
  init?: Float64Array | Float32Array;
  /** Threads for a large softmax fit: 1, or 2 (the default where the machine has two cores; parallel.ts). */
  threads?: number;
}

/**
 * Extra terms for a local (incremental) refit, see hierarchy.ts: explicit row weights instead of
 * the balanced ones, a linear term −⟨linear, W⟩, and a proximal pull (strength/2)·‖W − anchor‖²
 * (the bias included).
 */
export interface LocalTerms {
  rowWeights: Float64Array;
  linear?: Float64Array;
  anchor?: { weights: Float32Array | Float64Array; strength: number };
}

export interface FitResult {
  weights: Float32Array;
  /** ∇ of the objective at the returned weights (≈ 0 when converged). */
  gradient: Float64Array;
  iterations: number;
  evaluations: number;
  loss: number;
  converged: boolean;
}

/**
 * λ on the class-balanced mean loss, features at unit variance on average. On the dev dataset
 * (MobileNetV2, 16,000 items) 1e-2 beat 1e-4 by 6 points of leaf top-1 and converges in fewer
 * iterations; it is close to scikit-learn's best C (0.01 → λ = 1/(C·n) ≈ 6e-3) on the same data.
 */
export const DEFAULT_L2 = 1e-2;
export const DEFAULT_LBFGS: Required<LbfgsOptions> = { maxIterations: 300, memory: 10, gradientTolerance: 1e-4, relativeTolerance: 1e-9 };

/**
 * Softmax regression over K classes on the given rows of X. `targets[i]` ∈ [0, K) is the class of
 * `rows[i]`. Classes without an example get no weight of their own (balanced weights skip them).
 */
export function fitSoftmax(X: Features, rows: Int32Array, targets: Int32Array, K: number, options: FitOptions = {}, local?: LocalTerms): FitResult {
  const D = X.dim + 1;
  const rowWeight = local?.rowWeights ?? balancedWeights(targets, K, options.balanced !== false);
  const l2 = options.l2 ?? DEFAULT_L2;
  const split = openSplit(X, rows, targets, rowWeight, K, options.threads);
  try {
    let objective = softmaxObjective(X, rows, targets, rowWeight, K, l2, split);
    if (local?.linear || local?.anchor) objective = withLocalTerms(objective, local);
    const x0 = new Float64Array(K * D);
    if (options.init) x0.set(options.init);
    const r = minimize(objective, x0, { ...DEFAULT_LBFGS, ...stripFit(options) });
    return { weights: Float32Array.from(r.x), gradient: r.gradient, iterations: r.iterations, evaluations: r.evaluations, loss: r.value, converged: r.converged };
  } finally {
    split?.close();
  }
}

/** Per-row weights making every present class weigh 1/present in total (or 1/m per row when not balanced). */
export function balancedWeights(targets: Int32Array, K: number, balanced = true): Float64Array {
  const m = targets.length;
  const counts = new Float64Array(K);
  for (let i = 0; i < m; i++) counts[targets[i]]++;
  let present = 0;
  for (let k = 0; k < K; k++) if (counts[k] > 0) present++;
  return Float64Array.from(targets, (y) => (balanced ? 1 / (present * counts[y]) : 1 / m));
}

/** The softmax objective (mean weighted loss + L2) and its gradient at `w`, for local refits. */
export function softmaxLoss(X: Features, rows: Int32Array, targets: Int32Array, rowWeights: Float64Array, K: number, l2: number, w: Float64Array | Float32Array, grad: Float64Array): number {
  return softmaxObjective(X, rows, targets, rowWeights, K, l2)(Float64Array.from(w), grad);
}

/**
 * Σ_i v_i · Σ_k p_ik (1 − p_ik) · ‖[x_i, 1]‖² / (K·(dim+1)): the mean diagonal of the data term's
 * Hessian at `w`, the curvature a local refit assumes in directions its sample does not span.
 */
export function meanCurvature(X: Features, rows: Int32Array, rowWeights: Float64Array, K: number, w: Float32Array): number {
  const s = new Float64Array(K);
  let sum = 0;
  for (let i = 0; i < rows.length; i++) {
    softmaxProbabilities(w, K, X, rows[i], s);
    let v = 0;
    for (let k = 0; k < K; k++) v += s[k] * (1 - s[k]);
    let sq = 1;
    const o = rows[i] * X.dim;
    for (let j = 0; j < X.dim; j++) sq += X.data[o + j] * X.data[o + j];
    sum += rowWeights[i] * v * sq;
  }
  return sum / (K * (X.dim + 1));
}

function withLocalTerms(f: (w: Float64Array, g: Float64Array) => number, local: LocalTerms) {
  const { linear, anchor } = local;
  return (w: Float64Array, grad: Float64Array): number => {
    let value = f(w, grad);
    if (linear) {
      for (let i = 0; i < w.length; i++) {
        value -= linear[i] * w[i];
        grad[i] -= linear[i];
      }
    }
    if (anchor) {
      const a = anchor.weights;
      const mu = anchor.strength;
      let sq = 0;
      for (let i = 0; i < w.length; i++) {
        const d = w[i] - a[i];
        sq += d * d;
        grad[i] += mu * d;
      }
      value += 0.5 * mu * sq;
    }
    return value;
  };
}

/**
 * One binary logistic regression per label (K of them, fitted jointly: their losses are
 * independent). `positive[i*K + k]` is 1 when row i has label k. Balanced per label.
 */
export function fitSigmoid(X: Features, rows: Int32Array, positive: Uint8Array, K: number, options: FitOptions = {}): FitResult {
  const D = X.dim + 1;
  const m = rows.length;
  const pos = new Float64Array(K);
  for (let i = 0; i < m; i++) for (let k = 0; k < K; k++) pos[k] += positive[i * K + k];
  const wPos = new Float64Array(K);
  const wNeg = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const neg = m - pos[k];
    if (options.balanced === false || pos[k] === 0 || neg === 0) {
      wPos[k] = wNeg[k] = 1 / m;
    } else {
      wPos[k] = 1 / (2 * pos[k]);
      wNeg[k] = 1 / (2 * neg);
    }
  }
  const l2 = options.l2 ?? DEFAULT_L2;
  const objective = sigmoidObjective(X, rows, positive, wPos, wNeg, K, l2);
  const x0 = new Float64Array(K * D);
  if (options.init) x0.set(options.init);
  const r = minimize(objective, x0, { ...DEFAULT_LBFGS, ...stripFit(options) });
  return { weights: Float32Array.from(r.x), gradient: r.gradient, iterations: r.iterations, evaluations: r.evaluations, loss: r.value, converged: r.converged };
}

function stripFit(o: FitOptions): LbfgsOptions {
  const out: LbfgsOptions = {};
  if (o.maxIterations !== undefined) out.maxIterations = o.maxIterations;
  if (o.memory !== undefined) out.memory = o.memory;
  if (o.gradientTolerance !== undefined) out.gradientTolerance = o.gradientTolerance;
  if (o.relativeTolerance !== undefined) out.relativeTolerance = o.relativeTolerance;
  return out;
}

function softmaxObjective(X: Features, rows: Int32Array, targets: Int32Array, rowWeight: Float64Array, K: number, l2: number, split?: SplitTerm) {
  const D = X.dim + 1;
  const term = softmaxDataTerm(X.data, X.dim, rows, targets, rowWeight, K);
  return (w: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    // With a helper thread: it takes the rows from split.mid on while this thread does the rest.
    split?.start(w);
    let loss = term(w, grad, 0, split ? split.mid : rows.length);
    if (split) loss += split.finish(grad);
    return loss + regularise(w, grad, K, D, l2);
  };
}

/**
 * The data term of the softmax objective over rows[start, end): Σ weight · (−log p(target)),
 * its gradient added into `grad`. Shared by the objective and its helper thread (parallel.ts).
 */
export function softmaxDataTerm(data: Float32Array, dim: number, rows: Int32Array, targets: Int32Array, rowWeight: Float64Array, K: number) {
  const s = new Float64Array(BLOCK * K);
  const base = new Int32Array(BLOCK);
  return (w: Float64Array, grad: Float64Array, start: number, end: number): number => {
    let loss = 0;
    for (let i0 = start; i0 < end; i0 += BLOCK) {
      const b = Math.min(BLOCK, end - i0);
      // A short last block repeats its first row with zero weight.
      for (let r = 0; r < BLOCK; r++) base[r] = rows[i0 + (r < b ? r : 0)] * dim;
      scoresBlock(data, base, dim, w, K, s);
      for (let r = 0; r < BLOCK; r++) {
        const o = r * K;
        if (r >= b) {
          for (let k = 0; k < K; k++) s[o + k] = 0;
          continue;
        }
        let max = -Infinity;
        for (let k = 0; k < K; k++) if (s[o + k] > max) max = s[o + k];
        let z = 0;
        for (let k = 0; k < K; k++) z += s[o + k] = Math.exp(s[o + k] - max);
        const y = targets[i0 + r];
        const rw = rowWeight[i0 + r];
        loss += rw * (Math.log(z) - Math.log(s[o + y]));
        const inv = 1 / z;
        for (let k = 0; k < K; k++) s[o + k] = rw * (s[o + k] * inv - (k === y ? 1 : 0));
      }
      accumulateBlock(data, base, dim, s, K, grad);
    }
    return loss;
  };
}

function sigmoidObjective(X: Features, rows: Int32Array, positive: Uint8Array, wPos: Float64Array, wNeg: Float64Array, K: number, l2: number) {
  const { data, dim } = X;
  const D = dim + 1;
  const s = new Float64Array(BLOCK * K);
  const base = new Int32Array(BLOCK);
  return (w: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let i0 = 0; i0 < rows.length; i0 += BLOCK) {
      const b = Math.min(BLOCK, rows.length - i0);
      for (let r = 0; r < BLOCK; r++) base[r] = rows[i0 + (r < b ? r : 0)] * dim;
      scoresBlock(data, base, dim, w, K, s);
      for (let r = 0; r < BLOCK; r++) {
        const o = r * K;
        for (let k = 0; k < K; k++) {
          if (r >= b) {
            s[o + k] = 0;
            continue;
          }
          const z = s[o + k];
          const y = positive[(i0 + r) * K + k];
          const rw = y ? wPos[k] : wNeg[k];
          // log(1 + e^z) − y·z, computed stably
          const softplus = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
          loss += rw * (softplus - y * z);
          s[o + k] = rw * (1 / (1 + Math.exp(-z)) - y);
        }
      }
      accumulateBlock(data, base, dim, s, K, grad);
    }
    return loss + regularise(w, grad, K, D, l2);
  };
}

function regularise(w: Float64Array, grad: Float64Array, K: number, D: number, l2: number): number {
  let sq = 0;
  for (let k = 0; k < K; k++) {
    const o = k * D;
    for (let j = 0; j < D - 1; j++) {
      const v = w[o + j];
      sq += v * v;
      grad[o + j] += l2 * v;
    }
  }
  return 0.5 * l2 * sq;
}

/** s[k] = w_k · x + b_k for the row at `base`; two classes per pass over x. */
export function scores(data: Float32Array, base: number, dim: number, w: Float64Array | Float32Array, K: number, s: Float64Array): void {
  const D = dim + 1;
  let k = 0;
  for (; k + 1 < K; k += 2) {
    const o0 = k * D;
    const o1 = o0 + D;
    let a0 = 0;
    let a1 = 0;
    let b0 = 0;
    let b1 = 0;
    let j = 0;
    for (; j + 1 < dim; j += 2) {
      const x0 = data[base + j];
      const x1 = data[base + j + 1];
      a0 += x0 * w[o0 + j];
      b0 += x1 * w[o0 + j + 1];
      a1 += x0 * w[o1 + j];
      b1 += x1 * w[o1 + j + 1];
    }
    for (; j < dim; j++) {
      a0 += data[base + j] * w[o0 + j];
      a1 += data[base + j] * w[o1 + j];
    }
    s[k] = a0 + b0 + w[o0 + dim];
    s[k + 1] = a1 + b1 + w[o1 + dim];
  }
  for (; k < K; k++) {
    const o = k * D;
    let a = 0;
    let b = 0;
    let j = 0;
    for (; j + 1 < dim; j += 2) {
      a += data[base + j] * w[o + j];
      b += data[base + j + 1] * w[o + j + 1];
    }
    for (; j < dim; j++) a += data[base + j] * w[o + j];
    s[k] = a + b + w[o + dim];
  }
}

/**
 * Rows per block of the objective's inner loops: four rows share every weight load in
 * `scoresBlock` and every gradient read-modify-write in `accumulateBlock`, which is what bounds
 * these loops in JavaScript (about twice the speed of one row at a time).
 */
const BLOCK = 4;

/** s[r·K + k] = w_k · x_r + b_k for the BLOCK rows starting at `base[r]`; two classes per pass. */
function scoresBlock(data: Float32Array, base: Int32Array, dim: number, w: Float64Array | Float32Array, K: number, s: Float64Array): void {
  const D = dim + 1;
  const b0 = base[0];
  const b1 = base[1];
  const b2 = base[2];
  const b3 = base[3];
  let k = 0;
  for (; k + 1 < K; k += 2) {
    const o0 = k * D;
    const o1 = o0 + D;
    let a00 = 0;
    let a01 = 0;
    let a10 = 0;
    let a11 = 0;
    let a20 = 0;
    let a21 = 0;
    let a30 = 0;
    let a31 = 0;
    for (let j = 0; j < dim; j++) {
      const w0 = w[o0 + j];
      const w1 = w[o1 + j];
      const x0 = data[b0 + j];
      const x1 = data[b1 + j];
      const x2 = data[b2 + j];
      const x3 = data[b3 + j];
      a00 += x0 * w0;
      a01 += x0 * w1;
      a10 += x1 * w0;
      a11 += x1 * w1;
      a20 += x2 * w0;
      a21 += x2 * w1;
      a30 += x3 * w0;
      a31 += x3 * w1;
    }
    const c0 = w[o0 + dim];
    const c1 = w[o1 + dim];
    s[k] = a00 + c0;
    s[k + 1] = a01 + c1;
    s[K + k] = a10 + c0;
    s[K + k + 1] = a11 + c1;
    s[2 * K + k] = a20 + c0;
    s[2 * K + k + 1] = a21 + c1;
    s[3 * K + k] = a30 + c0;
    s[3 * K + k + 1] = a31 + c1;
  }
  for (; k < K; k++) {
    const o = k * D;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let j = 0; j < dim; j++) {
      const wj = w[o + j];
      a0 += data[b0 + j] * wj;
      a1 += data[b1 + j] * wj;
      a2 += data[b2 + j] * wj;
      a3 += data[b3 + j] * wj;
    }
    const c = w[o + dim];
    s[k] = a0 + c;
    s[K + k] = a1 + c;
    s[2 * K + k] = a2 + c;
    s[3 * K + k] = a3 + c;
  }
}

/** grad_k += Σ_r c[r·K + k] · [x_r, 1] over the BLOCK rows at `base[r]`; two classes per pass. */
function accumulateBlock(data: Float32Array, base: Int32Array, dim: number, c: Float64Array, K: number, grad: Float64Array): void {
  const D = dim + 1;
  const b0 = base[0];
  const b1 = base[1];
  const b2 = base[2];
  const b3 = base[3];
  let k = 0;
  for (; k + 1 < K; k += 2) {
    const c00 = c[k];
    const c01 = c[k + 1];
    const c10 = c[K + k];
    const c11 = c[K + k + 1];
    const c20 = c[2 * K + k];
    const c21 = c[2 * K + k + 1];
    const c30 = c[3 * K + k];
    const c31 = c[3 * K + k + 1];
    const o0 = k * D;
    const o1 = o0 + D;
    for (let j = 0; j < dim; j++) {
      const x0 = data[b0 + j];
      const x1 = data[b1 + j];
      const x2 = data[b2 + j];
      const x3 = data[b3 + j];
      grad[o0 + j] += c00 * x0 + c10 * x1 + c20 * x2 + c30 * x3;
      grad[o1 + j] += c01 * x0 + c11 * x1 + c21 * x2 + c31 * x3;
    }
    grad[o0 + dim] += c00 + c10 + c20 + c30;
    grad[o1 + dim] += c01 + c11 + c21 + c31;
  }
  for (; k < K; k++) {
    const q0 = c[k];
    const q1 = c[K + k];
    const q2 = c[2 * K + k];
    const q3 = c[3 * K + k];
    const o = k * D;
    for (let j = 0; j < dim; j++) grad[o + j] += q0 * data[b0 + j] + q1 * data[b1 + j] + q2 * data[b2 + j] + q3 * data[b3 + j];
    grad[o + dim] += q0 + q1 + q2 + q3;
  }
}

/** out[i·K + k]: softmax probabilities of rows[i] (weights K × (dim + 1)), four rows per pass. */
export function softmaxRows(data: Float32Array, dim: number, rows: Int32Array, weights: Float32Array | Float64Array, K: number, out: Float64Array, from = 0, to = rows.length): void {
  const base = new Int32Array(BLOCK);
  const s = new Float64Array(BLOCK * K);
  for (let i0 = from; i0 < to; i0 += BLOCK) {
    const b = Math.min(BLOCK, to - i0);
    for (let r = 0; r < BLOCK; r++) base[r] = rows[i0 + (r < b ? r : 0)] * dim;
    scoresBlock(data, base, dim, weights, K, s);
    for (let r = 0; r < b; r++) {
      const o = r * K;
      let max = -Infinity;
      for (let k = 0; k < K; k++) if (s[o + k] > max) max = s[o + k];
      let z = 0;
      for (let k = 0; k < K; k++) z += s[o + k] = Math.exp(s[o + k] - max);
      const d = (i0 + r) * K;
      for (let k = 0; k < K; k++) out[d + k] = s[o + k] / z;
    }
  }
}

/** Class probabilities of one preprocessed row (softmax). */
export function softmaxProbabilities(weights: Float32Array, K: number, X: Features, row: number, out: Float64Array): void {
  scores(X.data, row * X.dim, X.dim, weights, K, out);
  let max = -Infinity;
  for (let k = 0; k < K; k++) if (out[k] > max) max = out[k];
  let z = 0;
  for (let k = 0; k < K; k++) {
    out[k] = Math.exp(out[k] - max);
    z += out[k];
  }
  for (let k = 0; k < K; k++) out[k] /= z;
}

/** Independent label probabilities of one preprocessed row (sigmoids). */
export function sigmoidProbabilities(weights: Float32Array, K: number, X: Features, row: number, out: Float64Array): void {
  scores(X.data, row * X.dim, X.dim, weights, K, out);
  for (let k = 0; k < K; k++) out[k] = 1 / (1 + Math.exp(-out[k]));
}
