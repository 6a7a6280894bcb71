/**
 * Linear discriminant analysis with a shrunk pooled covariance, fitted in closed form (no
 * iterations): class means μ_c, the pooled within-class covariance Σ shrunk towards
 * (tr Σ / d)·I, and the discriminants δ_c(x) = xᵀΣ⁻¹μ_c − ½ μ_cᵀΣ⁻¹μ_c + log π_c, turned into
 * probabilities by a softmax. A generative model with one shared covariance is hard to pull
 * around by a few wrong labels, which is what the label audit needs; and because it only needs
 * sums, the k folds of a cross-validation share one pass over the data (`crossValidatedLda`).
 */
import type { Features } from './softmax';

/** Σ x xᵀ (upper triangle, row-major d×d) and Σ x per class over some rows. */
interface Moments {
  gram: Float64Array;
  sums: Float64Array;
  counts: Float64Array;
}

function emptyMoments(d: number, classes: number): Moments {
  return { gram: new Float64Array(d * d), sums: new Float64Array(classes * d), counts: new Float64Array(classes) };
}

function accumulate(m: Moments, X: Features, row: number, cls: number): void {
  const d = X.dim;
  const base = row * d;
  const x = X.data;
  const g = m.gram;
  for (let a = 0; a < d; a++) {
    const xa = x[base + a];
    if (xa === 0) continue;
    const o = a * d;
    for (let b = a; b < d; b++) g[o + b] += xa * x[base + b];
  }
  const s = m.sums;
  const os = cls * d;
  for (let a = 0; a < d; a++) s[os + a] += x[base + a];
  m.counts[cls]++;
}

/** In-place Cholesky factorisation of a symmetric positive definite d×d matrix (lower triangle). */
export function cholesky(A: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j];
    for (let k = 0; k < j; k++) s -= A[j * d + k] * A[j * d + k];
    if (!(s > 0)) throw new Error('the covariance is not positive definite');
    const ljj = Math.sqrt(s);
    A[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j];
      for (let k = 0; k < j; k++) t -= A[i * d + k] * A[j * d + k];
      A[i * d + j] = t / ljj;
    }
  }
}

/** Solves (L Lᵀ) x = b in place for one right-hand side. */
export function choleskySolve(L: Float64Array, d: number, b: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * d + k] * b[k];
    b[i] = s / L[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < d; k++) s -= L[k * d + i] * b[k];
    b[i] = s / L[i * d + i];
  }
}

export interface LdaModel {
  classes: number;
  dim: number;
  /** Discriminant weights, class-major: W[c*dim + a]. */
  weights: Float64Array;
  bias: Float64Array;
  /** Classes with no training rows: probability 0. */
  present: Uint8Array;
}

/** Fits LDA from the moments of its training rows. */
function fitFromMoments(m: Moments, d: number, classes: number, shrinkage: number): LdaModel {
  let n = 0;
  for (let c = 0; c < classes; c++) n += m.counts[c];
  if (n < 2) throw new Error('LDA needs at least two training rows');
  // Pooled within-class scatter: Σ x xᵀ − Σ_c s_c s_cᵀ / n_c.
  const S = new Float64Array(d * d);
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) S[a * d + b] = m.gram[a * d + b];
  for (let c = 0; c < classes; c++) {
    const nc = m.counts[c];
    if (nc === 0) continue;
    const o = c * d;
    for (let a = 0; a < d; a++) {
      const sa = m.sums[o + a] / nc;
      if (sa === 0) continue;
      const r = a * d;
      for (let b = a; b < d; b++) S[r + b] -= sa * m.sums[o + b];
    }
  }
  // Rounding can leave a tiny negative variance (a class of one row, identical rows): clamp it,
  // and shrink towards a scale that is never zero.
  let trace = 0;
  for (let a = 0; a < d; a++) {
    if (S[a * d + a] < 0) S[a * d + a] = 0;
    trace += S[a * d + a];
  }
  let target = trace / n / d;
  if (!(target > 1e-12)) {
    let total = 0;
    for (let a = 0; a < d; a++) total += m.gram[a * d + a];
    target = total / n / d > 1e-12 ? total / n / d : 1;
  }
  // Shrunk covariance, factorised; if rounding still leaves it indefinite, lean on the diagonal.
  const scatter = S;
  let L: Float64Array | undefined;
  for (const [lambda, ridge] of [[shrinkage, 1e-9], [Math.max(shrinkage, 0.5), 1e-4], [1, 1e-3]] as const) {
    const A = new Float64Array(d * d);
    for (let a = 0; a < d; a++) {
      for (let b = a; b < d; b++) {
        const v = ((1 - lambda) * scatter[a * d + b]) / n + (a === b ? (lambda + ridge) * target : 0);
        A[a * d + b] = v;
        A[b * d + a] = v;
      }
    }
    try {
      cholesky(A, d);
      L = A;
      break;
    } catch {
      // try the next, more diagonal, covariance
    }
  }
  if (!L) throw new Error('the class covariance could not be factorised even on its diagonal');
  const weights = new Float64Array(classes * d);
  const bias = new Float64Array(classes);
  const present = new Uint8Array(classes);
  const mu = new Float64Array(d);
  for (let c = 0; c < classes; c++) {
    const nc = m.counts[c];
    if (nc === 0) {
      bias[c] = -Infinity;
      continue;
    }
    present[c] = 1;
    for (let a = 0; a < d; a++) mu[a] = m.sums[c * d + a] / nc;
    const w = weights.subarray(c * d, (c + 1) * d);
    w.set(mu);
    choleskySolve(L, d, w);
    let q = 0;
    for (let a = 0; a < d; a++) q += mu[a] * w[a];
    bias[c] = -0.5 * q + Math.log(nc / n);
  }
  return { classes, dim: d, weights, bias, present };
}

/** Discriminant scores of one row (−Infinity for classes with no training rows). */
export function ldaLogits(model: LdaModel, X: Features, row: number, out: Float64Array): void {
  const d = model.dim;
  const base = row * d;
  for (let c = 0; c < model.classes; c++) {
    if (!model.present[c]) {
      out[c] = -Infinity;
      continue;
    }
    let s = model.bias[c];
    const o = c * d;
    for (let a = 0; a < d; a++) s += model.weights[o + a] * X.data[base + a];
    out[c] = s;
  }
}

/** Softmax of logits / temperature, in place over `out[offset … offset + classes)`. */
export function softmaxAt(logits: Float64Array, offset: number, classes: number, temperature: number, out: Float64Array, outOffset = 0): void {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) if (logits[offset + c] > max) max = logits[offset + c];
  let z = 0;
  for (let c = 0; c < classes; c++) {
    const v = logits[offset + c];
    const e = v === -Infinity ? 0 : Math.exp((v - max) / temperature);
    out[outOffset + c] = e;
    z += e;
  }
  for (let c = 0; c < classes; c++) out[outOffset + c] /= z;
}

/** Class probabilities of one row. */
export function ldaProbabilities(model: LdaModel, X: Features, row: number, out: Float64Array): void {
  ldaLogits(model, X, row, out);
  softmaxAt(out, 0, model.classes, 1, out);
}

/**
 * The temperature T that minimises the mean negative log-likelihood of the given classes under
 * softmax(logits / T) of the given rows, over a grid: LDA's shared-covariance scores are far too sharp as they are.
 */
export function calibrateTemperature(logits: Float64Array, classOf: ArrayLike<number>, classes: number, rows: ArrayLike<number>, grid: readonly number[] = [1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32]): number {
  let best = 1;
  let bestLoss = Infinity;
  const p = new Float64Array(classes);
  for (const T of grid) {
    let loss = 0;
    for (let k = 0; k < rows.length; k++) {
      const i = rows[k];
      softmaxAt(logits, i * classes, classes, T, p);
      loss -= Math.log(Math.max(p[classOf[i]], 1e-300));
    }
    if (loss < bestLoss) {
      bestLoss = loss;
      best = T;
    }
  }
  return best;
}

export function fitLda(X: Features, rows: ArrayLike<number>, classOf: ArrayLike<number>, classes: number, shrinkage = DEFAULT_SHRINKAGE): LdaModel {
  const m = emptyMoments(X.dim, classes);
  for (let i = 0; i < rows.length; i++) accumulate(m, X, rows[i], classOf[i]);
  return fitFromMoments(m, X.dim, classes, shrinkage);
}

export const DEFAULT_SHRINKAGE = 0.2;

export interface CrossValidationOptions {
  shrinkage?: number;
  /** Called after each fold; returning false (or an aborted signal) stops early. */
  onFold?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Leave the rows of a fold whose complement has fewer than two rows at −Infinity instead of failing. */
  skipEmptyFolds?: boolean;
}

/**
 * Out-of-fold discriminant scores (logits): row i (of `rows`) is scored by a model fitted on every
 * other fold. One pass collects per-fold moments; each fold's model is the total minus its own.
 * Returns a rows.length × classes matrix (see softmaxAt for probabilities).
 */
export async function crossValidatedLda(X: Features, rows: ArrayLike<number>, classOf: ArrayLike<number>, fold: ArrayLike<number>, folds: number, classes: number, options: CrossValidationOptions = {}): Promise<Float64Array> {
  const d = X.dim;
  const perFold = Array.from({ length: folds }, () => emptyMoments(d, classes));
  for (let i = 0; i < rows.length; i++) {
    if (i % 2048 === 2047) await yieldToEventLoop(options.signal);
    accumulate(perFold[fold[i]], X, rows[i], classOf[i]);
  }
  const total = emptyMoments(d, classes);
  for (const m of perFold) {
    for (let k = 0; k < m.gram.length; k++) total.gram[k] += m.gram[k];
    for (let k = 0; k < m.sums.length; k++) total.sums[k] += m.sums[k];
    for (let k = 0; k < classes; k++) total.counts[k] += m.counts[k];
  }
  const out = new Float64Array(rows.length * classes);
  const p = new Float64Array(classes);
  for (let f = 0; f < folds; f++) {
    await yieldToEventLoop(options.signal);
    const own = perFold[f];
    const rest: Moments = {
      gram: total.gram.map((v, k) => v - own.gram[k]),
      sums: total.sums.map((v, k) => v - own.sums[k]),
      counts: total.counts.map((v, k) => v - own.counts[k]),
    };
    let trainRows = 0;
    for (let k = 0; k < classes; k++) trainRows += rest.counts[k];
    if (trainRows < 2 && options.skipEmptyFolds) {
      for (let i = 0; i < rows.length; i++) if (fold[i] === f) out.fill(-Infinity, i * classes, (i + 1) * classes);
      options.onFold?.(f + 1, folds);
      continue;
    }
    const model = fitFromMoments(rest, d, classes, options.shrinkage ?? DEFAULT_SHRINKAGE);
    for (let i = 0; i < rows.length; i++) {
      if (fold[i] !== f) continue;
      if (i % 2048 === 2047) await yieldToEventLoop(options.signal);
      ldaLogits(model, X, rows[i], p);
      out.set(p, i * classes);
    }
    options.onFold?.(f + 1, folds);
  }
  return out;
}

/** Lets timers, messages and signals (Ctrl-C) through, then stops if the work was cancelled. */
export async function yieldToEventLoop(signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  signal?.throwIfAborted();
}
