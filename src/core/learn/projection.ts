/**
 * Principal directions of a set of rows and a shrunk whitening onto the leading ones: the
 * classifiers' optional input projection (softmax.ts `Preprocessing.projection`).
 *
 * On the dev dataset (MobileNetV2's 1,280-d embeddings, 16,000 items) a softmax on the leading
 * 384 directions, each scaled by 1/√((1 − s)·λ + s·λ̄), is as accurate as or more accurate than
 * one on all 1,280 dimensions and converges in a quarter of the L-BFGS iterations on a
 * third of the numbers (docs/classifier-tuning.md).
 */
import type { Features } from './softmax';

export interface PrincipalDirections {
  /** dims × D, row c the c-th direction (unit length), by decreasing variance. */
  vectors: Float64Array;
  /** The variance of the sample along each direction. */
  variances: Float64Array;
  dims: number;
  /** The sample's total variance (trace of its second-moment matrix), over all D dimensions. */
  total: number;
}

export interface PrincipalOptions {
  /** Rows of the covariance sample, evenly spaced over X (default 4,000). */
  sampleRows?: number;
  /** Subspace iterations (default 4). */
  iterations?: number;
  /** Extra directions iterated beside the wanted ones, for faster convergence (default 16). */
  oversample?: number;
}

/**
 * The `dims` leading principal directions of X's rows about the origin (centre X first): subspace
 * iteration on a sample's second-moment matrix, then a Rayleigh–Ritz step (the exact
 * eigen-decomposition of the matrix within the iterated subspace).
 */
export function principalDirections(X: Features, dims: number, options: PrincipalOptions = {}): PrincipalDirections {
  const D = X.dim;
  dims = Math.max(1, Math.min(dims, D));
  const m = Math.min(D, dims + (options.oversample ?? 16));
  const C = secondMoment(X, Math.min(X.n, options.sampleRows ?? 4000));
  let total = 0;
  for (let j = 0; j < D; j++) total += C[j * D + j];
  // Deterministic start: a fixed pseudo-random matrix (xorshift), so the same data gives the same directions.
  let state = 0x9e3779b9;
  const Q = new Float64Array(m * D); // row-major: row c at c*D
  for (let i = 0; i < Q.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    Q[i] = (state >>> 0) / 4294967296 - 0.5;
  }
  const Z = new Float64Array(m * D);
  const iterations = Math.max(1, options.iterations ?? 4);
  for (let it = 0; it < iterations; it++) {
    multiplyRows(C, D, Q, m, Z);
    Q.set(Z);
    // One Gram–Schmidt pass per iteration; a second after the last, for an orthonormal basis.
    orthonormaliseRows(Q, m, D);
    if (it === iterations - 1) orthonormaliseRows(Q, m, D);
  }
  // Rayleigh–Ritz: B = Q C Qᵀ (m × m), B = U Λ Uᵀ, directions Uᵀ Q.
  multiplyRows(C, D, Q, m, Z);
  const B = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = a; b < m; b++) {
      let s = 0;
      const oa = a * D;
      const ob = b * D;
      for (let j = 0; j < D; j++) s += Q[oa + j] * Z[ob + j];
      B[a * m + b] = B[b * m + a] = s;
    }
  }
  const { values, vectors: U } = symmetricEigen(B, m);
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => values[b] - values[a]);
  const out = new Float64Array(dims * D);
  const variances = new Float64Array(dims);
  for (let c = 0; c < dims; c++) {
    const e = order[c];
    variances[c] = Math.max(values[e], 0);
    const oc = c * D;
    for (let a = 0; a < m; a++) {
      const u = U[a * m + e];
      if (u === 0) continue;
      const oa = a * D;
      for (let j = 0; j < D; j++) out[oc + j] += u * Q[oa + j];
    }
  }
  return { vectors: out, variances, dims, total };
}

/**
 * Whitening onto the leading directions with shrinkage s ∈ [0, 1]: direction c is scaled by
 * 1/√((1 − s)·λ_c + s·λ̄) (λ̄ the mean variance over all D dimensions), then all by one factor so
 * that a projected row has squared length `dims` on average. Returns the dims × D matrix.
 */
export function whiteningMatrix(p: PrincipalDirections, D: number, shrinkage: number): Float32Array {
  const mean = p.total / D;
  const gains = Float64Array.from(p.variances, (v) => 1 / Math.sqrt(Math.max((1 - shrinkage) * v + shrinkage * mean, 1e-12)));
  let projected = 0;
  p.variances.forEach((v, c) => (projected += v * gains[c] * gains[c]));
  const overall = projected > 0 ? Math.sqrt(p.dims / projected) : 1;
  const W = new Float32Array(p.dims * D);
  for (let c = 0; c < p.dims; c++) {
    const g = gains[c] * overall;
    for (let j = 0; j < D; j++) W[c * D + j] = p.vectors[c * D + j] * g;
  }
  return W;
}

/** (1/n)·Σ x xᵀ over `sample` rows evenly spaced over X (full symmetric D × D). */
function secondMoment(X: Features, sample: number): Float64Array {
  const D = X.dim;
  const C = new Float64Array(D * D);
  const rows = Array.from({ length: sample }, (_, i) => Math.floor((i * X.n) / sample));
  const x = X.data;
  // Eight rows per pass over C: an eighth of the traffic on the (D² · 8 bytes) matrix.
  let i = 0;
  for (; i + 7 < rows.length; i += 8) {
    const r0 = rows[i] * D;
    const r1 = rows[i + 1] * D;
    const r2 = rows[i + 2] * D;
    const r3 = rows[i + 3] * D;
    const r4 = rows[i + 4] * D;
    const r5 = rows[i + 5] * D;
    const r6 = rows[i + 6] * D;
    const r7 = rows[i + 7] * D;
    for (let a = 0; a < D; a++) {
      const x0 = x[r0 + a];
      const x1 = x[r1 + a];
      const x2 = x[r2 + a];
      const x3 = x[r3 + a];
      const x4 = x[r4 + a];
      const x5 = x[r5 + a];
      const x6 = x[r6 + a];
      const x7 = x[r7 + a];
      const o = a * D;
      for (let b = a; b < D; b++) {
        C[o + b] += x0 * x[r0 + b] + x1 * x[r1 + b] + x2 * x[r2 + b] + x3 * x[r3 + b] + x4 * x[r4 + b] + x5 * x[r5 + b] + x6 * x[r6 + b] + x7 * x[r7 + b];
      }
    }
  }
  for (; i < rows.length; i++) {
    const r = rows[i] * D;
    for (let a = 0; a < D; a++) {
      const xa = x[r + a];
      const o = a * D;
      for (let b = a; b < D; b++) C[o + b] += xa * x[r + b];
    }
  }
  const inv = sample > 0 ? 1 / sample : 0;
  for (let a = 0; a < D; a++) for (let b = a; b < D; b++) C[b * D + a] = C[a * D + b] *= inv;
  return C;
}

/** Z = Q C for the m rows of Q (C symmetric D × D): row c of Z is (C q_c)ᵀ, four rows of Q per pass over C. */
function multiplyRows(C: Float64Array, D: number, Q: Float64Array, m: number, Z: Float64Array): void {
  let c = 0;
  for (; c + 3 < m; c += 4) {
    const o0 = c * D;
    const o1 = o0 + D;
    const o2 = o1 + D;
    const o3 = o2 + D;
    for (let b = 0; b < D; b++) {
      const ob = b * D;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let a = 0; a < D; a++) {
        const v = C[ob + a];
        a0 += Q[o0 + a] * v;
        a1 += Q[o1 + a] * v;
        a2 += Q[o2 + a] * v;
        a3 += Q[o3 + a] * v;
      }
      Z[o0 + b] = a0;
      Z[o1 + b] = a1;
      Z[o2 + b] = a2;
      Z[o3 + b] = a3;
    }
  }
  for (; c < m; c++) {
    const o = c * D;
    for (let b = 0; b < D; b++) {
      const ob = b * D;
      let acc = 0;
      for (let a = 0; a < D; a++) acc += Q[o + a] * C[ob + a];
      Z[o + b] = acc;
    }
  }
}

/** One pass of modified Gram–Schmidt on the m rows of length D (row c at c*D). */
export function orthonormaliseRows(Q: Float64Array, m: number, D: number): void {
  for (let c = 0; c < m; c++) {
    const oc = c * D;
    for (let p = 0; p < c; p++) {
      const op = p * D;
      let s = 0;
      for (let j = 0; j < D; j++) s += Q[oc + j] * Q[op + j];
      for (let j = 0; j < D; j++) Q[oc + j] -= s * Q[op + j];
    }
    let norm = 0;
    for (let j = 0; j < D; j++) norm += Q[oc + j] * Q[oc + j];
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < D; j++) Q[oc + j] /= norm;
  }
}

/**
 * Eigen-decomposition of a symmetric n × n matrix (row-major, read only): `values[j]` with
 * eigenvector column j of `vectors` (vectors[i*n + j]). Householder reduction to tridiagonal form,
 * then the implicit QL method (the EISPACK tred2 / tql2 pair, as in JAMA), O(n³).
 */
export function symmetricEigen(A: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const V = Float64Array.from(A);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: V };
  tridiagonalise(V, d, e, n);
  implicitQl(V, d, e, n);
  return { values: d, vectors: V };
}

function tridiagonalise(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * d[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

function implicitQl(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      for (let iteration = 0; iteration < 100; iteration++) {
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            const o = k * n;
            h = V[o + i + 1];
            V[o + i + 1] = s * V[o + i] + c * h;
            V[o + i] = c * V[o + i] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (Math.abs(e[l]) <= eps * tst1) break;
      }
    }
    d[l] += f;
    e[l] = 0;
  }
}
