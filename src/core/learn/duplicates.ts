/**
 * Near-duplicate images by their embeddings, without comparing every pair.
 *
 * Similarity is the cosine of the embeddings after L2 normalisation and removal of the dataset's
 * mean embedding (so that unrelated images score near 0 rather than near the ~0.45 that all
 * MobileNet embeddings share). Candidates come from locality-sensitive hashing with random
 * hyperplanes (SimHash): B bands of r sign bits each; two rows become candidates when one band
 * matches exactly, are filtered by the Hamming distance of their whole signatures, and only the
 * survivors are compared exactly. r grows with the number of rows (few random collisions per band)
 * and B is chosen so that a pair exactly at the threshold is found with probability ≥ 99 %; more
 * similar pairs are found with higher probability still. The hyperplanes are sparse (±1 on a
 * random subset of coordinates), which keeps hashing 100,000 × 1280 embeddings to about a second.
 */
import { seededRandom } from './clustering';
import type { Features } from './softmax';

export const DEFAULT_DUPLICATE_SIMILARITY = 0.92;

export interface NearPair {
  a: number;
  b: number;
  similarity: number;
}

export interface NearDuplicateOptions {
  /** Cosine similarity (centred embeddings) at or above which a pair is reported. */
  threshold?: number;
  /** Probability of finding a pair exactly at the threshold (default 0.99). */
  recall?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface NearDuplicateStats {
  bands: number;
  bitsPerBand: number;
  /** Pairs that shared a band (with repeats across bands). */
  candidates: number;
  /** Pairs compared exactly. */
  compared: number;
  /** Milliseconds spent hashing and searching the buckets. */
  hashMs: number;
  searchMs: number;
}

/** Unit-norm, mean-removed copies of the rows (Float32); rows of zeros stay zero. */
export function centredUnitRows(X: Features): Float32Array {
  const { n, dim, data } = X;
  const mean = new Float64Array(dim);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += data[o + j] * data[o + j];
    const inv = sq > 0 && Number.isFinite(sq) ? 1 / Math.sqrt(sq) : 0;
    for (let j = 0; j < dim; j++) {
      const v = data[o + j] * inv;
      out[o + j] = v;
      mean[j] += v;
    }
  }
  for (let j = 0; j < dim; j++) mean[j] /= Math.max(1, n);
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let sq = 0;
    for (let j = 0; j < dim; j++) {
      const v = out[o + j] - mean[j];
      out[o + j] = v;
      sq += v * v;
    }
    const inv = sq > 1e-20 ? 1 / Math.sqrt(sq) : 0;
    for (let j = 0; j < dim; j++) out[o + j] *= inv;
  }
  return out;
}

/** Bits per band and bands for n rows at a threshold (see the file comment). */
export function lshPlan(n: number, threshold: number, recall = 0.99): { bitsPerBand: number; bands: number } {
  const p = 1 - Math.acos(Math.min(1, Math.max(-1, threshold))) / Math.PI;
  // About 64 rows per bucket: random collisions per band ≈ n · 32.
  const bitsPerBand = Math.max(4, Math.min(24, Math.ceil(Math.log2(Math.max(2, n) / 64))));
  const hit = Math.pow(p, bitsPerBand);
  const bands = hit >= 1 ? 1 : Math.max(1, Math.min(96, Math.ceil(Math.log(1 - recall) / Math.log(1 - hit))));
  return { bitsPerBand, bands };
}

/** Pairs of rows with similarity ≥ threshold, most similar first; `stats` tells what it cost. */
export function nearDuplicates(X: Features, options: NearDuplicateOptions = {}): { pairs: NearPair[]; stats: NearDuplicateStats } {
  const { n, dim } = X;
  const threshold = options.threshold ?? DEFAULT_DUPLICATE_SIMILARITY;
  const { bitsPerBand, bands } = lshPlan(n, threshold, options.recall ?? 0.99);
  const stats: NearDuplicateStats = { bands, bitsPerBand, candidates: 0, compared: 0, hashMs: 0, searchMs: 0 };
  const t0 = performance.now();
  if (n < 2) return { pairs: [], stats };
  const Z = centredUnitRows(X);
  options.signal?.throwIfAborted();

  // Each row is first folded into a count sketch (coordinate j added, with a random sign, to
  // bucket j mod `sketchDim` of a random permutation), then cut by sparse ±1 hyperplanes of
  // `nnz` sketch buckets each: a hyperplane then spans nnz · dim / sketchDim coordinates at a
  // quarter of the cost of touching them one by one.
  const bits = bands * bitsPerBand;
  const rand = seededRandom(options.seed ?? 1234);
  const sketchDim = dim >= 512 ? 256 : dim;
  const bucketOf = new Int32Array(dim);
  const bucketSign = new Float32Array(dim);
  for (let j = 0; j < dim; j++) {
    bucketOf[j] = sketchDim === dim ? j : Math.floor(rand() * sketchDim);
    bucketSign[j] = sketchDim === dim || rand() < 0.5 ? 1 : -1;
  }
  const nnz = Math.min(sketchDim, 16);
  const coord = new Int32Array(bits * nnz);
  const sign = new Float32Array(bits * nnz);
  for (let h = 0; h < bits; h++) {
    for (let k = 0; k < nnz; k++) {
      coord[h * nnz + k] = Math.floor(rand() * sketchDim);
      sign[h * nnz + k] = rand() < 0.5 ? -1 : 1;
    }
  }
  const sketch = new Float32Array(sketchDim);
  const words = Math.ceil(bits / 32);
  const sig = new Uint32Array(n * words);
  const keys = new Int32Array(bands * n);
  const projected = new Float64Array(bits);
  for (let i = 0; i < n; i++) {
    if (i % 4096 === 0) options.signal?.throwIfAborted();
    sketch.fill(0);
    for (let j = 0, o = i * dim; j < dim; j++) sketch[bucketOf[j]] += bucketSign[j] * Z[o + j];
    projectRow(sketch, 0, coord, sign, nnz, projected);
    for (let h = 0; h < bits; h++) {
      if (projected[h] > 0) {
        sig[i * words + (h >>> 5)] |= 1 << (h & 31);
        keys[((h / bitsPerBand) | 0) * n + i] |= 1 << h % bitsPerBand;
      }
    }
  }
  const t1 = performance.now();
  stats.hashMs = t1 - t0;
  // Whole-signature Hamming filter: 4 standard deviations above the expectation at the threshold.
  const q = Math.acos(Math.min(1, Math.max(-1, threshold))) / Math.PI;
  const maxHamming = Math.ceil(bits * q + 4 * Math.sqrt(bits * q * (1 - q)) + 1);
  // A pair whose first words already differ too much for a pair at the threshold stops early.
  const wordBound = Int32Array.from({ length: words }, (_, w) => {
    const b = Math.min(bits, 32 * (w + 1));
    return Math.ceil(b * q + 4 * Math.sqrt(b * q * (1 - q)) + 1);
  });
  const found = new Map<number, number>();
  const buckets = 1 << bitsPerBand;
  const start = new Int32Array(buckets + 1);
  const order = new Int32Array(n);
  for (let b = 0; b < bands; b++) {
    options.signal?.throwIfAborted();
    const key = keys.subarray(b * n, (b + 1) * n);
    start.fill(0);
    for (let i = 0; i < n; i++) start[key[i] + 1]++;
    for (let k = 0; k < buckets; k++) start[k + 1] += start[k];
    const fill = start.slice(0, buckets);
    for (let i = 0; i < n; i++) order[fill[key[i]]++] = i;
    for (let k = 0; k < buckets; k++) {
      const s = start[k];
      const e = start[k + 1];
      for (let x = s; x < e; x++) {
        const i = order[x];
        for (let y = x + 1; y < e; y++) {
          const j = order[y];
          stats.candidates++;
          let ham = 0;
          let w = 0;
          for (; w < words; w++) {
            ham += popcount(sig[i * words + w] ^ sig[j * words + w]);
            if (ham > wordBound[w]) break;
          }
          if (w < words || ham > maxHamming) continue;
          const pairKey = i < j ? i * n + j : j * n + i;
          if (found.has(pairKey)) continue;
          stats.compared++;
          let dot = 0;
          const oi = i * dim;
          const oj = j * dim;
          for (let d = 0; d < dim; d++) dot += Z[oi + d] * Z[oj + d];
          found.set(pairKey, dot);
        }
      }
    }
  }
  stats.searchMs = performance.now() - t1;
  const pairs: NearPair[] = [];
  for (const [key, similarity] of found) {
    if (similarity < threshold) continue;
    const a = Math.floor(key / n);
    pairs.push({ a, b: key - a * n, similarity: Math.min(1, similarity) });
  }
  pairs.sort((p, r) => r.similarity - p.similarity || p.a - r.a || p.b - r.b);
  return { pairs, stats };
}

function projectRow(Z: Float32Array, o: number, coord: Int32Array, sign: Float32Array, nnz: number, out: Float64Array): void {
  for (let h = 0, oh = 0; h < out.length; h++, oh += nnz) {
    let s = 0;
    for (let k = 0; k < nnz; k++) s += sign[oh + k] * Z[o + coord[oh + k]];
    out[h] = s;
  }
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Exact all-pairs search, for tests and small inputs: O(n² · dim). */
export function nearDuplicatesExact(X: Features, threshold = DEFAULT_DUPLICATE_SIMILARITY): NearPair[] {
  const { n, dim } = X;
  const Z = centredUnitRows(X);
  const pairs: NearPair[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += Z[i * dim + d] * Z[j * dim + d];
      if (dot >= threshold) pairs.push({ a: i, b: j, similarity: Math.min(1, dot) });
    }
  }
  return pairs.sort((p, r) => r.similarity - p.similarity || p.a - r.a || p.b - r.b);
}
