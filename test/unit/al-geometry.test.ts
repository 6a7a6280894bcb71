import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../src/core/learn/clustering';
import { GEOMETRY_DIMS, strategyGeometry } from '../../src/core/learn/geometry';

/** 400 rows in 12-d: a common offset, one direction with ten times the spread of the next two, a little noise elsewhere. */
function anisotropic() {
  const rand = seededRandom(5);
  const n = 400;
  const dim = 12;
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) data[i * dim + j] = 0.01 * (rand() - 0.5);
    data[i * dim] += 5; // the offset: centring removes it
    data[i * dim + 1] += 1.0 * (rand() - 0.5);
    data[i * dim + 2] += 0.1 * (rand() - 0.5);
    data[i * dim + 3] += 0.1 * (rand() - 0.5);
  }
  return { data, n, dim };
}

test('the strategies\' geometry whitens the leading directions and puts every row at unit length, the same every time', () => {
  const raw = anisotropic();
  const G = strategyGeometry(raw, undefined, 3);
  assert.equal(G.dim, 3);
  assert.equal(G.n, raw.n);
  for (let i = 0; i < G.n; i++) {
    const sq = G.data[i * 3] ** 2 + G.data[i * 3 + 1] ** 2 + G.data[i * 3 + 2] ** 2;
    assert.ok(Math.abs(sq - 1) < 1e-5, `row ${i}: ${sq}`);
  }
  // whitened: the three directions carry about the same share (a PCA alone: 100 to 1)
  const share = [0, 1, 2].map((c) => {
    let s = 0;
    for (let i = 0; i < G.n; i++) s += G.data[i * 3 + c] ** 2;
    return s / G.n;
  });
  assert.ok(Math.max(...share) / Math.min(...share) < 2, `${share}`);
  assert.deepEqual(Array.from(strategyGeometry(raw, undefined, 3).data), Array.from(G.data));
  assert.equal(GEOMETRY_DIMS, 256);
  // fewer dimensions than asked for: all of them
  assert.equal(strategyGeometry(raw).dim, raw.dim);
});

test('the strategies\' geometry names the image of a non-finite embedding', () => {
  const raw = anisotropic();
  raw.data[5 * raw.dim + 2] = Number.NaN;
  const images = Array.from({ length: raw.n }, (_, i) => `img${i}.jpg`);
  assert.throws(() => strategyGeometry(raw, images, 3), /img5\.jpg/);
});
