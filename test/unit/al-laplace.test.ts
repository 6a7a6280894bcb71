import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryBald, inverseFactor, LaplacePosterior, posteriorDims, quadraticTerms } from '../../src/core/learn/laplace';
import { onHelper, openSplit, type TermsJob } from '../../src/core/learn/parallel';
import type { Features } from '../../src/core/learn/softmax';
import type { MarginalsMatrix } from '../../src/core/learn/uncertainty';
import { seededRandom } from '../../src/core/learn/clustering';

/** The top-two gap and its variance from a posterior built for the occasion. */
function topTwoGap(o: { X: Features; M: MarginalsMatrix; leaves: number[]; labelled: number[]; priorPrecision: number; rows: number[] }) {
  return new LaplacePosterior(o.X, o.leaves, o.priorPrecision).gap(o.M, o.labelled, o.rows);
}

test('laplace: inverseFactor gives L⁻¹ of a symmetric positive definite matrix A = LLᵀ from its lower triangle', () => {
  const rand = seededRandom(3);
  const D = 7;
  const B = Array.from({ length: D * D }, () => rand() - 0.5);
  const A = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) {
    let s = i === j ? 0.3 : 0;
    for (let k = 0; k < D; k++) s += B[i * D + k] * B[j * D + k];
    A[i * D + j] = s;
  }
  const Li = A.map((v, idx) => (Math.floor(idx / D) >= idx % D ? v : 0)); // the upper triangle is not read
  inverseFactor(Li, D);
  // lower triangular, and L⁻ᵀL⁻¹A = I
  for (let i = 0; i < D; i++) for (let j = i + 1; j < D; j++) assert.equal(Li[i * D + j], 0);
  const inv = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) for (let k = 0; k < D; k++) inv[i * D + j] += Li[k * D + i] * Li[k * D + j];
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) {
    let s = 0;
    for (let k = 0; k < D; k++) s += inv[i * D + k] * A[k * D + j];
    assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-9, `(${i}, ${j}) ${s}`);
  }
  assert.throws(() => inverseFactor(new Float64Array([1, 2, 2, 1]), 2), /not positive definite/);
});

test('laplace: binary BALD is 0 without doubt about the weights, near 1 bit at an even decision with much doubt, and matches Monte Carlo', () => {
  assert.equal(binaryBald(0, 0), 0);
  assert.equal(binaryBald(4, 0), 0);
  assert.ok(binaryBald(0, 1e6) > 0.99);
  // more doubt, more to learn; a clearer decision, less
  assert.ok(binaryBald(0, 4) > binaryBald(0, 1));
  assert.ok(binaryBald(3, 4) < binaryBald(0, 4));
  const rand = seededRandom(9);
  const h = (p: number) => (p <= 0 || p >= 1 ? 0 : -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p)));
  for (const [mu, v] of [[0, 1], [1, 10], [3, 100], [2, 2]]) {
    let mean = 0;
    let meanH = 0;
    const n = 100000;
    for (let i = 0; i < n; i++) {
      const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      const p = 1 / (1 + Math.exp(-(mu + Math.sqrt(v) * z)));
      mean += p / n;
      meanH += h(p) / n;
    }
    const mc = h(mean) - meanH;
    assert.ok(Math.abs(binaryBald(mu, v) - mc) < 0.05, `μ ${mu}, σ² ${v}: ${binaryBald(mu, v)} against ${mc}`);
  }
});

test('laplace: the top-two gap and its variance follow the data the classes were seen on', () => {
  // three leaves (nodes 1, 2, 3 under a root 0) in 2-d: a softmax with weights w0 = (−1, 0, 0),
  // w1 = (1, 0, 0), w2 = (0, 0, −5) separates 0 and 1 along x; leaf 2 is never likely
  const rows = [
    [-2, 0], [-2.5, 0.2], [-1.8, -0.1], // leaf 1's region
    [2, 0], [2.2, 0.1], [1.9, -0.2], // leaf 2's region
    [0, 0], // between them: seen, ambiguous
    [0, 30], // far off in y: never seen
  ];
  const X = { data: Float32Array.from(rows.flat()), n: rows.length, dim: 2 };
  const W = [[-1, 0, 0], [1, 0, 0], [0, 0, -5]];
  const M = { data: new Float32Array(rows.length * 4), n: rows.length, nodes: 4 };
  rows.forEach(([a, b], r) => {
    const z = W.map((w) => Math.exp(w[0] * a + w[1] * b + w[2]));
    const sum = z.reduce((s, v) => s + v, 0);
    z.forEach((v, k) => (M.data[r * 4 + 1 + k] = v / sum));
  });
  const e = topTwoGap({ X, M, leaves: [1, 2, 3], labelled: [0, 1, 2, 3, 4, 5, 6], priorPrecision: 1, rows: [6, 7, 0] });
  // the first two sit between leaves 1 and 2: gap 0; the third is sure (gap 4 = 2·2 in logits)
  assert.ok(Math.abs(e.gap[0]) < 1e-6 && Math.abs(e.gap[1]) < 1e-6, `${e.gap}`);
  assert.ok(Math.abs(e.gap[2] - 4) < 1e-4, `${e.gap}`);
  // the unseen direction has far more posterior variance than the seen one
  assert.ok(e.variance[1] > 50 * e.variance[0], `${e.variance}`);
  assert.ok(binaryBald(e.gap[1], e.variance[1]) > binaryBald(e.gap[0], e.variance[0]));
  // the variance is the brute-force one: x̃ᵀ(H₁⁻¹ + H₂⁻¹)x̃ with Hₖ = Σ pₖ(1 − pₖ) x̃x̃ᵀ + I
  const H = [0, 1].map((k) => {
    const h = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    for (let r = 0; r < 7; r++) {
      const p = M.data[r * 4 + 1 + k];
      const x = [...rows[r], 1];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) h[i][j] += p * (1 - p) * x[i] * x[j];
    }
    return h;
  });
  // xᵀH⁻¹x by Cramer's rule on the 3 × 3 matrix
  const quad = (h: number[][], x: number[]) => {
    const det = (m: number[][]) => m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    const d = det(h);
    const y = [0, 1, 2].map((c) => det(h.map((row, i) => row.map((v, j) => (j === c ? x[i] : v)))) / d);
    return x.reduce((s, v, i) => s + v * y[i], 0);
  };
  const x7 = [0, 30, 1];
  const expected = quad(H[0], x7) + quad(H[1], x7);
  assert.ok(Math.abs(e.variance[1] - expected) < 1e-6 * expected, `${e.variance[1]} against ${expected}`);
});

test('laplace: a kept posterior is built again once the labels grow 5 % or lose one, and reuses a row\'s variance only while its two likeliest leaves stay', () => {
  const rand = seededRandom(4);
  const n = 400;
  const X = { data: Float32Array.from({ length: n * 3 }, () => rand() * 2 - 1), n, dim: 3 };
  // leaves at nodes 0, 1, 2
  const M = { data: new Float32Array(n * 3), n, nodes: 3 };
  const setRow = (r: number, p: number[]) => p.forEach((v, k) => (M.data[r * 3 + k] = v));
  for (let r = 0; r < n; r++) setRow(r, r % 2 ? [0.6, 0.3, 0.1] : [0.2, 0.3, 0.5]);
  const post = new LaplacePosterior(X, [0, 1, 2], 1);
  const labelled = Array.from({ length: 100 }, (_, i) => i);
  const rows = Array.from({ length: 300 }, (_, i) => 100 + i);
  assert.ok(post.stale(labelled), 'nothing built yet');
  const first = post.gap(M, labelled, rows);
  assert.ok(!post.stale(labelled));
  // a fresh build gives the same
  assert.deepEqual(Array.from(topTwoGap({ X, M, leaves: [0, 1, 2], labelled, priorPrecision: 1, rows }).variance), Array.from(first.variance));
  // four more labels (4 %): the same posterior; five (5 %): built again
  assert.ok(!post.stale([...labelled, 100, 101, 102, 103]));
  assert.ok(post.stale([...labelled, 100, 101, 102, 103, 104]));
  assert.ok(post.stale(labelled.slice(1)), 'a label taken back (undo)');
  // between builds: the model changed its mind on row 100 (other top two) and a little on row 101 (same top two)
  setRow(100, [0.6, 0.1, 0.3]);
  setRow(101, [0.7, 0.2, 0.1]);
  const more = [...labelled, 102, 103];
  const again = post.gap(M, more, rows);
  const exact = topTwoGap({ X, M, leaves: [0, 1, 2], labelled, priorPrecision: 1, rows });
  assert.equal(again.variance[0], exact.variance[0], 'new top two: computed again');
  assert.equal(again.variance[1], first.variance[1], 'same top two: kept');
  assert.ok(Math.abs(again.gap[1] - Math.log(0.7 / 0.2)) < 1e-6, 'the gap always follows the probabilities');
  assert.notEqual(again.variance[0], first.variance[0]);
  // past the growth threshold the posterior holds the new labels
  const grown = [...labelled, ...rows.slice(0, 10)];
  const built = post.gap(M, grown, rows.slice(10));
  const fresh = topTwoGap({ X, M, leaves: [0, 1, 2], labelled: grown, priorPrecision: 1, rows: rows.slice(10) });
  assert.deepEqual(Array.from(built.variance), Array.from(fresh.variance));
});

test('laplace: a taxonomy with many leaves gets a posterior on the leading directions only, within 128 MB of factors', () => {
  assert.equal(posteriorDims(64, 200), 64);
  assert.equal(posteriorDims(64, 20000), 27);
  assert.equal(posteriorDims(3, 1), 3);
  for (const K of [1, 200, 3000, 5000, 30000, 1e6]) {
    const d = posteriorDims(64, K);
    assert.ok(d >= 1 && (d === 1 || K * (d + 1) ** 2 * 8 <= 128 * 1024 * 1024), `${K} leaves: ${d} dims`);
  }
});

/** n rows of K leaf probabilities (the nodes are the leaves), each row a softmax of K draws of `logit`. */
function randomMarginals(n: number, K: number, logit: () => number): MarginalsMatrix {
  const M = { data: new Float32Array(n * K), n, nodes: K };
  for (let r = 0; r < n; r++) {
    let z = 0;
    for (let k = 0; k < K; k++) z += M.data[r * K + k] = Math.exp(logit());
    for (let k = 0; k < K; k++) M.data[r * K + k] /= z;
  }
  return M;
}

/**
 * 40 leaves in 8-d, peaked random probabilities: 4,000 labelled rows (16 leaves each: 5.2 million
 * multiply-adds for the factors) and 6,000 candidates (12,000 terms of two leaves each): past the
 * thresholds for two threads.
 */
function manyRows(seed: number) {
  const rand = seededRandom(seed);
  const n = 10000;
  const K = 40;
  const X = { data: Float32Array.from({ length: n * 8 }, () => rand() * 2 - 1), n, dim: 8 };
  const M = randomMarginals(n, K, () => 6 * rand() ** 3);
  const leaves = Array.from({ length: K }, (_, k) => k);
  const labelled = Array.from({ length: 4000 }, (_, i) => i);
  const rows = Array.from({ length: n - 4000 }, (_, i) => 4000 + i);
  return { X, M, K, leaves, labelled, rows };
}

/** Runs `body` with TAXON_THREADS set to `threads`, then restores it. */
function withThreads<T>(threads: number, body: () => T): T {
  const saved = process.env.TAXON_THREADS;
  process.env.TAXON_THREADS = String(threads);
  try {
    return body();
  } finally {
    if (saved === undefined) delete process.env.TAXON_THREADS;
    else process.env.TAXON_THREADS = saved;
  }
}

test('laplace: a posterior of many labels and rows, half built and computed on the helper thread, gives the variances of one thread to the bit', () => {
  const { X, M, leaves, labelled, rows } = manyRows(9);
  const one = withThreads(1, () => new LaplacePosterior(X, leaves, 10).gap(M, labelled, rows));
  const two = withThreads(2, () => new LaplacePosterior(X, leaves, 10).gap(M, labelled, rows));
  assert.deepEqual(Array.from(two.variance), Array.from(one.variance));
  assert.deepEqual(Array.from(two.gap), Array.from(one.gap));
  for (const v of one.variance) assert.ok(v > 0 && Number.isFinite(v));
});

test('laplace: the helper thread computes the quadratic forms it is given', () => {
  const rand = seededRandom(3);
  const dims = 5;
  const D = dims + 1;
  const K = 3;
  const n = 50;
  const X = { data: Float32Array.from({ length: n * dims }, () => rand() - 0.5), n, dim: dims };
  // three lower-triangular factors with a positive diagonal
  const F = new Float64Array(new SharedArrayBuffer(K * D * D * 8));
  for (let k = 0; k < K; k++) for (let i = 0; i < D; i++) for (let j = 0; j <= i; j++) F[k * D * D + i * D + j] = i === j ? 1 + rand() : rand() - 0.5;
  // 100 terms: every row once for leaf 0, then leaf 1 (none for leaf 2 would be an empty range)
  const byLeaf = new Int32Array(new SharedArrayBuffer(4 * 2 * n));
  for (let t = 0; t < 2 * n; t++) byLeaf[t] = t % n;
  const start = Int32Array.from([0, n, 2 * n, 2 * n]);
  const out = new Float64Array(new SharedArrayBuffer(8 * 2 * n));
  const job: TermsJob = { type: 'laplace-terms', factors: F, data: X.data, xDim: dims, dims, byLeaf, start, from: 1, to: K, out };
  const helper = onHelper(job, 2);
  assert.ok(helper, 'a helper thread is there');
  quadraticTerms({ ...job, from: 0, to: 1 });
  assert.equal(helper.wait(), true);
  for (let t = 0; t < 2 * n; t++) {
    const k = t < n ? 0 : 1;
    const x = [...X.data.subarray(byLeaf[t] * dims, (byLeaf[t] + 1) * dims), 1];
    let s = 0;
    for (let i = 0; i < D; i++) {
      let v = 0;
      for (let j = 0; j <= i; j++) v += F[k * D * D + i * D + j] * x[j];
      s += v * v;
    }
    assert.ok(Math.abs(out[t] - s) <= 1e-12 * s, `term ${t}: ${out[t]} against ${s}`);
  }
});

test('laplace: a job the helper does not take up in time is withdrawn and never done late; later jobs run on the calling thread', async () => {
  const rand = seededRandom(5);
  // a two-thread fit left open keeps the helper busy (it waits for the fit's next evaluation)
  const n = 2000;
  const dim = 64;
  const K = 40;
  const X = { data: Float32Array.from({ length: n * dim }, () => rand() - 0.5), n, dim };
  const split = openSplit(X, Int32Array.from({ length: n }, (_, i) => i), Int32Array.from({ length: n }, (_, i) => i % K), new Float64Array(n).fill(1), K, 2);
  assert.ok(split, 'the fit runs on two threads');
  const dims = 3;
  const F = new Float64Array(new SharedArrayBuffer(2 * 16 * 8));
  for (let k = 0; k < 2; k++) for (let i = 0; i < 4; i++) F[k * 16 + i * 4 + i] = 1;
  const byLeaf = new Int32Array(new SharedArrayBuffer(4 * 4));
  byLeaf.set([0, 1, 2, 3]);
  const start = Int32Array.from([0, 2, 4]);
  const job = (out: Float64Array): TermsJob => ({ type: 'laplace-terms', factors: F, data: X.data, xDim: dim, dims, byLeaf, start, from: 1, to: 2, out });
  const late = new Float64Array(new SharedArrayBuffer(4 * 8));
  const stuck = onHelper(job(late), 2, 200);
  assert.ok(stuck);
  assert.equal(stuck.wait(), false, 'given up on after 200 ms');
  // the fit ends, which would free the helper for the jobs queued meanwhile: the withdrawn one is
  // never done (the helper is stopped, and would skip it anyway)
  split.close();
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(Array.from(late), [0, 0, 0, 0]);
  // from then on this thread does the posterior's work itself (as when there is one core)
  assert.equal(onHelper(job(new Float64Array(new SharedArrayBuffer(4 * 8))), 2), undefined);
});

test('laplace: BALD over a row\'s four likeliest leaves is the information of independent Gaussian logits (Monte Carlo against many draws), 0 where the weights are known, and two-leaf BALD\'s closed form with two classes', () => {
  const rand = seededRandom(21);
  const n = 40;
  const K = 6;
  const X = { data: Float32Array.from({ length: n * 3 }, () => rand() * 2 - 1), n, dim: 3 };
  const M = randomMarginals(n, K, () => 3 * rand());
  const leaves = Array.from({ length: K }, (_, k) => k);
  const rows = Array.from({ length: n }, (_, i) => i);
  // no labels: Hₖ is the prior, so each leaf's logit variance is ‖x̃‖² / prior
  const prior = 0.5;
  const bald = new LaplacePosterior(X, leaves, prior, 4).bald(M, [], rows);
  const draw = seededRandom(5);
  const normal = () => Math.sqrt(-2 * Math.log(1 - draw())) * Math.cos(2 * Math.PI * draw());
  const H = (p: number[]) => -p.reduce((s, v) => s + (v > 0 ? v * Math.log2(v) : 0), 0);
  let worst = 0;
  for (const r of rows) {
    const p = Array.from(M.data.subarray(r * K, (r + 1) * K));
    const top = leaves.slice().sort((a, b) => p[b] - p[a] || a - b).slice(0, 4);
    const rest = 1 - top.reduce((s, k) => s + p[k], 0);
    const sd = Math.sqrt((1 + X.data[r * 3] ** 2 + X.data[r * 3 + 1] ** 2 + X.data[r * 3 + 2] ** 2) / prior);
    const S = 20000;
    const mean = new Array(5).fill(0);
    let expected = 0;
    for (let s = 0; s < S; s++) {
      const e = [...top.map((k) => p[k] * Math.exp(sd * normal())), rest];
      const z = e.reduce((a, b) => a + b, 0);
      const q = e.map((v) => v / z);
      q.forEach((v, j) => (mean[j] += v / S));
      expected += H(q) / S;
    }
    const reference = H(mean) - expected;
    assert.ok(reference > 0.05, `row ${r}: a doubtful posterior (${reference})`);
    worst = Math.max(worst, Math.abs(bald[r] - reference) / reference);
  }
  // 32 fixed Latin-hypercube draws: 7.5 % here (the first version's 64 independent draws: 15 %)
  assert.ok(worst < 0.1, `fixed draws against 20,000: worst relative error ${worst}`);
  // weights known to within a hair: nothing to learn
  for (const v of new LaplacePosterior(X, leaves, 1e9, 4).bald(M, [], rows)) assert.ok(v >= 0 && v < 1e-3, `${v}`);
  // two classes: the closed form of the top-two decision
  const two = new LaplacePosterior(X, leaves, prior, 2);
  const e = two.gap(M, [], rows);
  assert.deepEqual(Array.from(two.bald(M, [], rows)), Array.from(e.gap, (mu, i) => binaryBald(mu, e.variance[i])));
});

test('laplace: with four classes a kept posterior computes a row\'s terms again when any of its four likeliest leaves changes, and two threads give one thread\'s scores to the bit', () => {
  // 6,000 rows × 4 terms, 6,000 rows of Monte Carlo: past the thresholds for two threads
  const { X, M, K, leaves, labelled, rows } = manyRows(13);
  const one = withThreads(1, () => new LaplacePosterior(X, leaves, 10, 4).bald(M, labelled, rows));
  withThreads(2, () => {
    const kept = new LaplacePosterior(X, leaves, 10, 4);
    const two = kept.bald(M, labelled, rows);
    assert.deepEqual(Array.from(two), Array.from(one));
    for (const v of one) assert.ok(v > 0 && Number.isFinite(v));
    // row 4000's fourth likeliest leaf swaps with its fifth; the same labels, so the posterior is kept
    const r = rows[0];
    const p = Array.from(M.data.subarray(r * K, (r + 1) * K));
    const order = leaves.slice().sort((a, b) => p[b] - p[a] || a - b);
    M.data[r * K + order[3]] = p[order[4]];
    M.data[r * K + order[4]] = p[order[3]];
    const again = kept.bald(M, labelled, rows.slice(0, 2));
    const fresh = new LaplacePosterior(X, leaves, 10, 4).bald(M, labelled, rows.slice(0, 2));
    assert.equal(again[0], fresh[0], 'its terms for the new fourth leaf');
    assert.notEqual(again[0], two[0]);
    assert.equal(again[1], two[1], 'another row: kept');
  });
});
