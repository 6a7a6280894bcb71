import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../src/core/learn/clustering';
import { coverBatch, coverGraph, Coverage } from '../../src/core/learn/coverage';
import type { Features } from '../../src/core/learn/softmax';

/** Three 2-d blobs (60, 30 and 10 points, spread 2) far apart, and 5 lone points; rows interleaved. */
function pool(): { X: Features; blobOf: number[] } {
  const rand = seededRandom(7);
  const centres: Array<[number, number, number]> = [[0, 0, 60], [30, 0, 30], [0, 30, 10]];
  const pts: Array<[number, number, number]> = [];
  for (let c = 0; c < centres.length; c++) for (let i = 0; i < centres[c][2]; i++) pts.push([centres[c][0] + (rand() - 0.5) * 2, centres[c][1] + (rand() - 0.5) * 2, c]);
  for (let i = 0; i < 5; i++) pts.push([-40 - 15 * i, -40, -1]);
  // interleave so that the blobs are not contiguous row ranges
  const order = pts.map((_, i) => i).sort((a, b) => ((a * 37) % 101) - ((b * 37) % 101));
  const data = new Float32Array(order.length * 2);
  const blobOf: number[] = [];
  order.forEach((p, i) => {
    data[2 * i] = pts[p][0];
    data[2 * i + 1] = pts[p][1];
    blobOf.push(pts[p][2]);
  });
  return { X: { data, n: order.length, dim: 2 }, blobOf };
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

test('the δ-ball graph is symmetric, holds exactly the pairs closer than δ, and at purity 1 no ball spans two clusters', () => {
  const { X, blobOf } = pool();
  const rows = all(X.n);
  const g = coverGraph(X, rows, 4, { purity: 1, seed: 2 });
  assert.ok(g.delta2 > 0, 'a radius was learnt');
  let edges = 0;
  for (let i = 0; i < X.n; i++) {
    const ball = new Set(Array.from(g.neighbours.subarray(g.offsets[i], g.offsets[i + 1])));
    for (let j = 0; j < X.n; j++) {
      if (j === i) continue;
      const d2 = (X.data[2 * i] - X.data[2 * j]) ** 2 + (X.data[2 * i + 1] - X.data[2 * j + 1]) ** 2;
      assert.equal(ball.has(j), d2 < g.delta2 - 1e-3 ? true : d2 > g.delta2 + 1e-3 ? false : ball.has(j), `pair ${i},${j}`);
      if (ball.has(j)) {
        edges++;
        assert.equal(blobOf[j], blobOf[i], 'no ball reaches into another blob (k-means finds the 3 blobs and the lone points)');
        assert.ok(g.neighbours.subarray(g.offsets[j], g.offsets[j + 1]).includes(i), 'symmetric');
      }
    }
  }
  assert.equal(edges, g.neighbours.length);
});

test('the coverage gains always equal a recount of the uncovered images in each ball', () => {
  const { X } = pool();
  const g = coverGraph(X, all(X.n), 4, { purity: 0.95, seed: 2 });
  const state = new Coverage(g, [0, 1]);
  for (const p of [5, 17, 42]) state.add(p);
  for (let i = 0; i < X.n; i++) {
    let uncovered = state.covered[i] ? 0 : 1;
    for (let e = g.offsets[i]; e < g.offsets[i + 1]; e++) if (!state.covered[g.neighbours[e]]) uncovered++;
    assert.equal(state.gain[i], uncovered, `ball ${i}`);
  }
});

test('greedy coverage takes the largest uncovered blob first, never a lone point, and skips a blob a label already covers', () => {
  const { X, blobOf } = pool();
  const rows = all(X.n);
  const g = coverGraph(X, rows, 4, { purity: 0.95, seed: 2 });
  const firstThree = coverBatch(g, [], rows, 3).map((p) => blobOf[p]);
  assert.equal(firstThree[0], 0, 'the 60-point blob first');
  assert.ok(!firstThree.includes(-1), 'no lone point while blobs are uncovered');
  assert.deepEqual(new Set(firstThree), new Set([0, 1, 2]), 'each blob once its neighbour is covered');
  // a label at the centre of the big blob: the first pick goes elsewhere
  let centre = 0;
  for (let i = 0; i < X.n; i++) if (blobOf[i] === 0 && g.offsets[i + 1] - g.offsets[i] > g.offsets[centre + 1] - g.offsets[centre]) centre = i;
  const after = coverBatch(g, [centre], rows.filter((r) => r !== centre), 1).map((p) => blobOf[p]);
  assert.equal(after[0], 1, 'the 30-point blob once the big one is covered');
  // lone points gain nothing beyond themselves: the batch stops early for the caller to fill
  assert.ok(coverBatch(g, [], rows, 50).length < 50);
});

test('with class balance a batch turns to another class once one class has had its pick, without it the larger blob of the same class comes first', () => {
  const { X, blobOf } = pool();
  const rows = all(X.n);
  const g = coverGraph(X, rows, 4, { purity: 0.95, seed: 2 });
  // blobs 0 (60 points) and 1 (30) are one predicted class, blob 2 (10) another, lone points none
  const classOf = Int32Array.from(rows, (r) => (blobOf[r] === 2 ? 1 : blobOf[r] >= 0 ? 0 : -1));
  assert.deepEqual(coverBatch(g, [], rows, 2).map((p) => blobOf[p]), [0, 1]);
  assert.deepEqual(coverBatch(g, [], rows, 2, { classOf, power: 2 }).map((p) => blobOf[p]), [0, 2]);
  // power 0 weighs nothing: the plain order
  assert.deepEqual(coverBatch(g, [], rows, 3, { classOf, power: 0 }), coverBatch(g, [], rows, 3));
});
