/**
 * The geometry the selection strategies need on embeddings: seeded k-means, TypiClust's
 * typicality, farthest-first traversal, and a PCA projection that makes all of them (and the
 * simulation's classifier) fast on 1280-d embeddings.
 */
import type { Features } from './softmax';
import { orthonormaliseRows } from './projection';

/** A seeded uniform generator in [0, 1) (mulberry32): the same seed gives the same picks everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Moves a uniform draw of `k` items, without replacement, to the front of `items` (in place; Fisher–Yates, one `rand()` per item drawn). */
export function drawToFront(items: { length: number; [i: number]: number }, k: number, rand: () => number): void {
  for (let i = 0; i < Math.min(k, items.length); i++) {
    const j = i + Math.floor(rand() * (items.length - i));
    const v = items[i];
    items[i] = items[j];
    items[j] = v;
  }
}

function dot(a: Float32Array, oa: number, b: Float32Array | Float64Array, ob: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < d; j += 4) {
    s0 += a[oa + j] * b[ob + j];
    s1 += a[oa + j + 1] * b[ob + j + 1];
    s2 += a[oa + j + 2] * b[ob + j + 2];
    s3 += a[oa + j + 3] * b[ob + j + 3];
  }
  for (; j < d; j++) s0 += a[oa + j] * b[ob + j];
  return s0 + s1 + s2 + s3;
}

/** Squared Euclidean distance between row i of X and row j of Y. */
export function squaredDistance(X: Features, i: number, Y: Features, j: number): number {
  const d = X.dim;
  const a = X.data;
  const b = Y.data;
  const oa = i * d;
  const ob = j * d;
  let s0 = 0;
  let s1 = 0;
  let k = 0;
  for (; k + 1 < d; k += 2) {
    const u = a[oa + k] - b[ob + k];
    const v = a[oa + k + 1] - b[ob + k + 1];
    s0 += u * u;
    s1 += v * v;
  }
  for (; k < d; k++) {
    const u = a[oa + k] - b[ob + k];
    s0 += u * u;
  }
  return s0 + s1;
}

export interface Clustering {
  k: number;
  /** Cluster of each row of the clustered rows (in the order given). */
  assignment: Int32Array;
  /** k × dim centres. */
  centres: Float32Array;
  iterations: number;
}

/**
 * Rows beyond which k-means fits its centres on an evenly spaced sample of this many rows and then
 * gives every row its nearest centre: a pool of 100,000 images in the strategies' 256-d geometry
 * took 449 s to cluster into 500 with every row in every iteration (bench-results/queue.json,
 * session 16). Pools up to this size (the dev dataset's 16,000) are clustered whole.
 */
export const KMEANS_FIT_ROWS = 20_000;

/**
 * k-means of the given rows of X (see lloyd); on more than `fitRows` rows (KMEANS_FIT_ROWS) the
 * centres are fitted on an evenly spaced sample of that many and every row then goes to its
 * nearest centre.
 */
export function kmeans(X: Features, rows: ArrayLike<number>, k: number, options: { seed?: number; iterations?: number; fitRows?: number } = {}): Clustering {
  const fitRows = Math.max(1, options.fitRows ?? KMEANS_FIT_ROWS);
  if (rows.length <= fitRows) return lloyd(X, rows, k, options);
  const sample = Int32Array.from({ length: fitRows }, (_, i) => rows[Math.floor((i * rows.length) / fitRows)]);
  const fitted = lloyd(X, sample, k, options);
  return { ...fitted, assignment: nearestCentres(X, rows, fitted.centres, fitted.k) };
}

/** The nearest of k centres (k × dim) for each of the given rows of X (ties: the first). */
function nearestCentres(X: Features, rows: ArrayLike<number>, centres: Float32Array, k: number): Int32Array {
  const d = X.dim;
  const cnorm = new Float64Array(k);
  for (let c = 0; c < k; c++) cnorm[c] = dot(centres, c * d, centres, c * d, d);
  return Int32Array.from({ length: rows.length }, (_, i) => nearestCentre(X, rows[i], centres, cnorm));
}

/** The nearest centre to row `row` of X, by ‖c‖² − 2x·c (cnorm[c] = ‖c‖²; ties: the first). */
function nearestCentre(X: Features, row: number, centres: Float32Array, cnorm: Float64Array): number {
  const d = X.dim;
  const o = row * d;
  let best = 0;
  let bestDist = Infinity;
  for (let c = 0; c < cnorm.length; c++) {
    const dist = cnorm[c] - 2 * dot(X.data, o, centres, c * d, d);
    if (dist < bestDist) {
      bestDist = dist;
      best = c;
    }
  }
  return best;
}

/**
 * Lloyd's k-means on the given rows of X with k-means++ seeding from a seeded generator
 * (deterministic). Distances as ‖x‖² − 2x·c + ‖c‖², stops when no row moves or after `iterations`.
 */
function lloyd(X: Features, rows: ArrayLike<number>, k: number, options: { seed?: number; iterations?: number }): Clustering {
  const n = rows.length;
  const d = X.dim;
  k = Math.max(1, Math.min(k, n));
  const rand = seededRandom(options.seed ?? 1);
  const maxIter = options.iterations ?? 25;
  const centres = new Float32Array(k * d);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) norms[i] = dot(X.data, rows[i] * d, X.data, rows[i] * d, d);
  // k-means++: each next centre drawn with probability ∝ its squared distance to the nearest centre so far.
  const nearest = new Float64Array(n).fill(Infinity);
  let pick = Math.floor(rand() * n);
  for (let c = 0; c < k; c++) {
    centres.set(X.data.subarray(rows[pick] * d, rows[pick] * d + d), c * d);
    const cn = dot(centres, c * d, centres, c * d, d);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const dist = Math.max(0, norms[i] - 2 * dot(X.data, rows[i] * d, centres, c * d, d) + cn);
      if (dist < nearest[i]) nearest[i] = dist;
      total += nearest[i];
    }
    if (c + 1 === k) break;
    let target = rand() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      target -= nearest[i];
      if (target < 0) {
        pick = i;
        break;
      }
    }
  }
  const assignment = new Int32Array(n).fill(-1);
  const cnorm = new Float64Array(k);
  const sums = new Float64Array(k * d);
  const counts = new Int32Array(k);
  let iterations = 0;
  for (; iterations < maxIter; iterations++) {
    for (let c = 0; c < k; c++) cnorm[c] = dot(centres, c * d, centres, c * d, d);
    let moved = 0;
    for (let i = 0; i < n; i++) {
      const best = nearestCentre(X, rows[i], centres, cnorm);
      if (assignment[i] !== best) {
        assignment[i] = best;
        moved++;
      }
    }
    if (moved === 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignment[i];
      counts[c]++;
      const o = rows[i] * d;
      const oc = c * d;
      for (let j = 0; j < d; j++) sums[oc + j] += X.data[o + j];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue; // an empty cluster keeps its centre
      const oc = c * d;
      for (let j = 0; j < d; j++) centres[oc + j] = sums[oc + j] / counts[c];
    }
  }
  return { k, assignment, centres, iterations };
}

/**
 * TypiClust's typicality of each row inside its cluster: the inverse of the mean distance to its
 * `neighbours` nearest neighbours in the same cluster (all of them when the cluster is smaller).
 * A row alone in its cluster gets 0.
 */
export function typicality(X: Features, rows: ArrayLike<number>, assignment: Int32Array, k: number, neighbours = 20): Float64Array {
  const n = rows.length;
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) members[assignment[i]].push(i);
  const out = new Float64Array(n);
  for (const m of members) {
    const s = m.length;
    if (s < 2) continue;
    const kk = Math.min(neighbours, s - 1);
    const dist = new Float64Array(s);
    for (let a = 0; a < s; a++) {
      for (let b = 0; b < s; b++) dist[b] = a === b ? Infinity : Math.sqrt(squaredDistance(X, rows[m[a]], X, rows[m[b]]));
      const nearest = kk < s - 1 ? smallest(dist, kk) : dist.filter((v) => v !== Infinity);
      let sum = 0;
      for (const v of nearest) sum += v;
      const mean = sum / kk;
      out[m[a]] = mean > 0 ? 1 / mean : 1e12;
    }
  }
  return out;
}

function smallest(values: Float64Array, k: number): Float64Array {
  return Float64Array.from(values).sort().subarray(0, k);
}

/**
 * Farthest-first traversal: picks `count` of the candidate rows, each the one farthest from
 * everything picked so far and from the `anchors` (say, the labelled rows). With no anchors the
 * first pick is the first candidate, so callers order candidates by preference. `weight` (optional,
 * per candidate) multiplies the distance, so a more uncertain candidate wins a near tie.
 */
export function farthestFirst(X: Features, candidates: ArrayLike<number>, count: number, anchors: ArrayLike<number> = [], weight?: ArrayLike<number>): number[] {
  const m = candidates.length;
  count = Math.min(count, m);
  const minDist = new Float64Array(m).fill(Infinity);
  const taken = new Uint8Array(m);
  for (let a = 0; a < anchors.length; a++) {
    for (let i = 0; i < m; i++) {
      const dd = squaredDistance(X, candidates[i], X, anchors[a]);
      if (dd < minDist[i]) minDist[i] = dd;
    }
  }
  const out: number[] = [];
  let next = anchors.length ? -1 : 0;
  while (out.length < count) {
    if (next < 0) {
      let best = -Infinity;
      for (let i = 0; i < m; i++) {
        if (taken[i]) continue;
        const v = weight ? Math.sqrt(minDist[i]) * weight[i] : minDist[i];
        if (v > best) {
          best = v;
          next = i;
        }
      }
    }
    taken[next] = 1;
    out.push(candidates[next]);
    const c = candidates[next];
    for (let i = 0; i < m; i++) {
      if (taken[i]) continue;
      const dd = squaredDistance(X, candidates[i], X, c);
      if (dd < minDist[i]) minDist[i] = dd;
    }
    next = -1;
  }
  return out;
}

/**
 * The top principal subspace of the rows of X (mean removed): `dims` orthonormal directions found
 * by subspace iteration on the covariance of at most `sampleRows` rows, ordered by variance.
 * Returns a function that projects Features onto it.
 */
export function pcaProjection(X: Features, dims: number, options: { seed?: number; sampleRows?: number; iterations?: number } = {}): { mean: Float64Array; basis: Float64Array; dims: number; project: (F: Features) => Features } {
  const D = X.dim;
  dims = Math.min(dims, D);
  const rand = seededRandom(options.seed ?? 7);
  const sample = Math.min(X.n, options.sampleRows ?? 2500);
  // An evenly spaced sample: deterministic and spread over the whole dataset.
  const rows = Array.from({ length: sample }, (_, i) => Math.floor((i * X.n) / sample));
  const mean = new Float64Array(D);
  for (const r of rows) for (let j = 0; j < D; j++) mean[j] += X.data[r * D + j];
  for (let j = 0; j < D; j++) mean[j] /= sample;
  const C = new Float64Array(D * D);
  const x = new Float64Array(D);
  for (const r of rows) {
    for (let j = 0; j < D; j++) x[j] = X.data[r * D + j] - mean[j];
    for (let a = 0; a < D; a++) {
      const xa = x[a];
      if (xa === 0) continue;
      const o = a * D;
      for (let b = a; b < D; b++) C[o + b] += xa * x[b];
    }
  }
  for (let a = 0; a < D; a++) for (let b = a; b < D; b++) C[b * D + a] = C[a * D + b] /= sample;
  // Subspace iteration: Q ← orth(C Q).
  let Q = new Float64Array(D * dims); // column-major: column c at c*D
  for (let i = 0; i < Q.length; i++) Q[i] = rand() - 0.5;
  orthonormalise(Q, D, dims);
  const iterations = options.iterations ?? 8;
  for (let it = 0; it < iterations; it++) {
    const Z = new Float64Array(D * dims);
    for (let c = 0; c < dims; c++) {
      const oq = c * D;
      for (let a = 0; a < D; a++) {
        let s = 0;
        const oc = a * D;
        for (let b = 0; b < D; b++) s += C[oc + b] * Q[oq + b];
        Z[oq + a] = s;
      }
    }
    orthonormalise(Z, D, dims);
    Q = Z;
  }
  // Order the directions by the variance they carry (Rayleigh quotients; the span is what matters).
  const variance = Array.from({ length: dims }, (_, c) => {
    let s = 0;
    for (let a = 0; a < D; a++) {
      let t = 0;
      for (let b = 0; b < D; b++) t += C[a * D + b] * Q[c * D + b];
      s += Q[c * D + a] * t;
    }
    return { c, s };
  }).sort((p, q) => q.s - p.s);
  const basis = new Float64Array(D * dims);
  variance.forEach(({ c }, i) => basis.set(Q.subarray(c * D, c * D + D), i * D));
  const project = (F: Features): Features => {
    if (F.dim !== D) throw new Error(`the projection expects ${D}-d rows, got ${F.dim}`);
    const out = new Float32Array(F.n * dims);
    const row = new Float64Array(D);
    for (let i = 0; i < F.n; i++) {
      for (let j = 0; j < D; j++) row[j] = F.data[i * D + j] - mean[j];
      for (let c = 0; c < dims; c++) {
        let s = 0;
        const ob = c * D;
        for (let j = 0; j < D; j++) s += row[j] * basis[ob + j];
        out[i * dims + c] = s;
      }
    }
    return { data: out, n: F.n, dim: dims };
  };
  return { mean, basis, dims, project };
}

/** Modified Gram–Schmidt on the columns (column c at c*D), twice for stability. */
function orthonormalise(Q: Float64Array, D: number, cols: number): void {
  orthonormaliseRows(Q, cols, D);
  orthonormaliseRows(Q, cols, D);
}
