import { test } from 'node:test';
import assert from 'node:assert/strict';
import { principalDirections, symmetricEigen, whiteningMatrix } from '../../src/core/learn/projection';
import { fitPreprocessing, outputDim, preprocess, type Features } from '../../src/core/learn/softmax';
import { seededRandom } from '../../src/core/learn/clustering';

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

function randomSymmetric(n: number, seed: number): Float64Array {
  const rand = seededRandom(seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) A[i * n + j] = A[j * n + i] = rand() - 0.5;
  return A;
}

const repeated = (n: number) => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? (i < (n * n) / 2 ? 2 : 1) : 0));

for (const [name, n, A] of [
  ['a random 9 × 9', 9, randomSymmetric(9, 3)],
  ['a random 60 × 60', 60, randomSymmetric(60, 4)],
  ['a diagonal one with repeated values', 7, repeated(7)],
  ['a zero one', 5, new Float64Array(25)],
] as const) checkEigen(name, n, A);

function checkEigen(name: string, n: number, A: Float64Array): void {
  test(`symmetricEigen on ${name}: A v = λ v for every pair, orthonormal vectors, trace kept`, () => {
  const original = Float64Array.from(A);
  const { values, vectors: V } = symmetricEigen(A, n);
  for (let e = 0; e < n; e++) {
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += original[i * n + j] * V[j * n + e];
      assert.ok(Math.abs(av - values[e] * V[i * n + e]) < 1e-9, `row ${i} of A v${e}`);
    }
    for (let f = 0; f < n; f++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += V[i * n + e] * V[i * n + f];
      assert.ok(Math.abs(d - (e === f ? 1 : 0)) < 1e-9);
    }
  }
  // The trace is kept.
  let trace = 0;
  for (let i = 0; i < n; i++) trace += original[i * n + i];
  assert.ok(Math.abs(values.reduce((a, b) => a + b, 0) - trace) < 1e-9);
  assert.deepEqual(A, original, 'the input is left as it was');
  });
}

/** Rows with variance σ_c² = (c+1)² / 4 along the axes of a random rotation (known principal directions). */
function anisotropic(n: number, dim: number, seed: number): { X: Features; axes: Float64Array; sigma: number[] } {
  const rand = seededRandom(seed);
  const axes = new Float64Array(dim * dim);
  for (let i = 0; i < axes.length; i++) axes[i] = gaussian(rand);
  // Gram–Schmidt on the rows.
  for (let c = 0; c < dim; c++) {
    for (let p = 0; p < c; p++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += axes[c * dim + j] * axes[p * dim + j];
      for (let j = 0; j < dim; j++) axes[c * dim + j] -= s * axes[p * dim + j];
    }
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += axes[c * dim + j] ** 2;
    for (let j = 0; j < dim; j++) axes[c * dim + j] /= Math.sqrt(norm);
  }
  const sigma = Array.from({ length: dim }, (_, c) => (dim - c) / 2);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < dim; c++) {
      const z = gaussian(rand) * sigma[c];
      for (let j = 0; j < dim; j++) data[i * dim + j] += z * axes[c * dim + j];
    }
  }
  return { X: { data, n, dim }, axes, sigma };
}

test('principalDirections finds the leading axes and their variances', () => {
  const { X, axes, sigma } = anisotropic(4000, 12, 5);
  const p = principalDirections(X, 4, { oversample: 4 });
  assert.equal(p.dims, 4);
  for (let c = 0; c < 4; c++) {
    let cos = 0;
    for (let j = 0; j < X.dim; j++) cos += p.vectors[c * X.dim + j] * axes[c * X.dim + j];
    assert.ok(Math.abs(cos) > 0.99, `direction ${c}: |cos| ${Math.abs(cos)}`);
    const expected = sigma[c] ** 2;
    assert.ok(Math.abs(p.variances[c] - expected) / expected < 0.1, `variance ${c}: ${p.variances[c]} vs ${expected}`);
  }
  for (let c = 1; c < 4; c++) assert.ok(p.variances[c] <= p.variances[c - 1]);
});

test('whitening: full whitening gives unit variance per direction, the projected rows have squared length dims on average', () => {
  const { X } = anisotropic(3000, 10, 8);
  const p = principalDirections(X, 6, { oversample: 4 });
  const W = whiteningMatrix(p, X.dim, 0);
  for (let c = 0; c < 6; c++) {
    let sq = 0;
    for (let i = 0; i < X.n; i++) {
      let y = 0;
      for (let j = 0; j < X.dim; j++) y += W[c * X.dim + j] * X.data[i * X.dim + j];
      sq += y * y;
    }
    assert.ok(Math.abs(sq / X.n - 1) < 0.02, `direction ${c}: variance ${sq / X.n}`);
  }
  // Shrinkage 1 only rotates: gains are equal.
  const R = whiteningMatrix(p, X.dim, 1);
  const norms = Array.from({ length: 6 }, (_, c) => Math.hypot(...R.subarray(c * X.dim, (c + 1) * X.dim)));
  for (const v of norms) assert.ok(Math.abs(v - norms[0]) < 1e-5);
});

test('preprocessing with a projection: k-d rows, the training rows at squared length k on average, same rows give the same output', () => {
  const { X } = anisotropic(1500, 24, 9);
  const pre = fitPreprocessing(X, { project: { dims: 8, shrinkage: 0.25 } });
  assert.ok(pre.projection);
  assert.equal(outputDim(pre, 24), 8);
  const Y = preprocess(X, pre);
  assert.equal(Y.dim, 8);
  assert.equal(Y.data.length, 1500 * 8);
  let sq = 0;
  for (const v of Y.data) sq += v * v;
  assert.ok(Math.abs(sq / 1500 / 8 - 1) < 0.15, `mean squared length ${sq / 1500}`);
  // An odd number of rows (the last block of four is short) projects the same.
  const some: Features = { data: X.data.slice(0, 7 * 24), n: 7, dim: 24 };
  const Z = preprocess(some, pre);
  for (let i = 0; i < Z.data.length; i++) assert.ok(Math.abs(Z.data[i] - Y.data[i]) < 1e-6);
  // No projection when the embeddings are not wider than it keeps.
  assert.equal(fitPreprocessing(X, { project: { dims: 24, shrinkage: 0.25 } }).projection, undefined);
  // A projection fitted for other embeddings is refused.
  assert.throws(() => preprocess({ data: new Float32Array(10 * 5), n: 10, dim: 5 }, pre), /does not fit 5-d embeddings/);
});
