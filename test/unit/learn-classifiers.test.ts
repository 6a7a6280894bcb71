import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, Taxonomy } from '../../src/core/taxonomy';
import { minimize } from '../../src/core/learn/lbfgs';
import { fitPreprocessing, fitSigmoid, fitSoftmax, NonFiniteEmbeddingError, preprocess, sigmoidProbabilities, softmaxProbabilities, softmaxRows } from '../../src/core/learn/softmax';
import { openSplit, PARALLEL_MIN_WORK, softmaxRowsOnHelper } from '../../src/core/learn/parallel';
import { affectedParents, LcpnClassifier, NoLabelsError } from '../../src/core/learn/hierarchy';
import { TaxonModel } from '../../src/core/learn/model';
import { evaluate } from '../../src/core/learn/metrics';
import { isHeldOut, splitFraction } from '../../src/core/learn/split';
import { hierarchicalClusters, rng } from './learn-synthetic';

test('L-BFGS finds the minimum of the Rosenbrock function', () => {
  const r = minimize(
    (x, g) => {
      const [a, b] = [x[0], x[1]];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    },
    Float64Array.from([-1.2, 1]),
    { gradientTolerance: 1e-8, relativeTolerance: 0 },
  );
  assert.ok(r.converged);
  assert.ok(Math.abs(r.x[0] - 1) < 1e-5 && Math.abs(r.x[1] - 1) < 1e-5, String(r.x));
});

function blobs(n: number, dim: number, K: number, seed: number) {
  const rand = rng(seed);
  const centres = Array.from({ length: K }, () => Array.from({ length: dim }, () => rand() * 4 - 2));
  const data = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % K;
    for (let j = 0; j < dim; j++) data[i * dim + j] = centres[y[i]][j] + (rand() - 0.5) * 2;
  }
  return { X: { data, n, dim }, y };
}

test('softmax regression separates blobs, and a warm start from its own optimum converges at once', () => {
  const { X, y } = blobs(300, 8, 3, 1);
  const rows = Int32Array.from({ length: 300 }, (_, i) => i);
  const r = fitSoftmax(X, rows, y, 3, { l2: 1e-3 });
  assert.ok(r.converged);
  const p = new Float64Array(3);
  let hits = 0;
  for (let i = 0; i < 300; i++) {
    softmaxProbabilities(r.weights, 3, X, i, p);
    if (p.indexOf(Math.max(...p)) === y[i]) hits++;
  }
  assert.ok(hits / 300 > 0.95, `accuracy ${hits / 300}`);
  const warm = fitSoftmax(X, rows, y, 3, { l2: 1e-3, init: r.weights });
  assert.ok(warm.iterations <= 2, `warm start took ${warm.iterations} iterations`);
});

test('sigmoid heads learn independent labels (multi-label)', () => {
  const { X, y } = blobs(200, 6, 4, 2);
  const rows = Int32Array.from({ length: 200 }, (_, i) => i);
  // label 0: class 0 or 1; label 1: class 1 or 2 — an item of class 1 has both.
  const positive = new Uint8Array(200 * 2);
  for (let i = 0; i < 200; i++) {
    positive[i * 2] = y[i] <= 1 ? 1 : 0;
    positive[i * 2 + 1] = y[i] === 1 || y[i] === 2 ? 1 : 0;
  }
  const r = fitSigmoid(X, rows, positive, 2, { l2: 1e-3 });
  const p = new Float64Array(2);
  let right = 0;
  for (let i = 0; i < 200; i++) {
    sigmoidProbabilities(r.weights, 2, X, i, p);
    if (Number(p[0] > 0.5) === positive[i * 2] && Number(p[1] > 0.5) === positive[i * 2 + 1]) right++;
  }
  assert.ok(right / 200 > 0.9, `both labels right on ${right / 200}`);
});

test('a non-finite embedding is refused with the image named', () => {
  const data = Float32Array.from([1, 0, NaN, 1]);
  assert.throws(() => fitPreprocessing({ data, n: 2, dim: 2 }, { images: ['ok.jpg', 'broken.jpg'] }), (e: unknown) => e instanceof NonFiniteEmbeddingError && /broken\.jpg/.test(e.message));
});

function synthetic(n = 2400, seed = 5) {
  const s = hierarchicalClusters({ n, dim: 24, branching: [3, 3, 3], spread: [1.2, 0.9, 0.7], noise: 1, seed });
  const raw = { data: s.data, n: s.n, dim: s.dim };
  const X = preprocess(raw, fitPreprocessing(raw));
  return { ...s, raw, X };
}

function leafAccuracy(t: Taxonomy, model: TaxonModel, X: ReturnType<typeof synthetic>['X'], labels: number[], rows: number[]) {
  const preds = model.predict(X, 'bottomup', rows);
  return evaluate(t, rows.map((r, i) => ({ truth: labels[r], predicted: preds[i].node }))).leafTop1;
}

test('LCPN leaf accuracy is close to a flat softmax on hierarchical clusters', () => {
  const s = synthetic();
  const train = s.labels.map((l, i) => (isHeldOut(s.images[i], 0.25) ? [] : [l]));
  const test_ = s.labels.map((_, i) => i).filter((i) => isHeldOut(s.images[i], 0.25));
  const lcpn = TaxonModel.train(s.taxonomy, s.raw, train, s.images, { classifier: 'lcpn' });
  const flat = TaxonModel.train(s.taxonomy, s.raw, train, s.images, { classifier: 'flat' });
  const knn = TaxonModel.train(s.taxonomy, s.raw, train, s.images, { classifier: 'knn' });
  const a = leafAccuracy(s.taxonomy, lcpn.model, lcpn.X, s.labels, test_);
  const b = leafAccuracy(s.taxonomy, flat.model, flat.X, s.labels, test_);
  const c = leafAccuracy(s.taxonomy, knn.model, knn.X, s.labels, test_);
  assert.ok(a > 0.6, `LCPN ${a}`);
  assert.ok(a >= b - 0.03, `LCPN ${a} vs flat ${b}`);
  assert.ok(c > 0.4, `kNN ${c}`);
});

test('partial labels train only the classifiers above their node', () => {
  const t = new Taxonomy();
  const A = t.add('A');
  const a1 = t.add('a1', A);
  const a2 = t.add('a2', A);
  const B = t.add('B');
  t.add('b1', B);
  const s = synthetic(60);
  const X = { data: s.X.data, n: 6, dim: s.X.dim };
  const lcpn = new LcpnClassifier(t, X.dim);
  lcpn.train(X, [[A], [A], [B], [B], [a1], [a2]]);
  assert.equal(lcpn.classifiers.get(ROOT)!.examples, 6);
  assert.equal(lcpn.classifiers.get(A)!.examples, 2, 'the items labelled "A" say nothing about a1 vs a2');
  assert.equal(lcpn.classifiers.has(B), false, 'B has one child: no classifier');
});

test('a node with zero or one labelled example is marked untrained, and prediction stops at it', () => {
  const s = synthetic(300);
  const t = s.taxonomy;
  const lcpn = new LcpnClassifier(t, s.X.dim);
  const n0 = t.roots[0];
  const starved = t.nodes[n0].children[0];
  // Every label except one under `starved`, which keeps a single example.
  let kept = false;
  const labels = s.labels.map((l) => {
    if (!t.isAncestorOrSelf(starved, l)) return [l];
    if (kept) return [];
    kept = true;
    return [l];
  });
  lcpn.train(s.X, labels);
  assert.equal(lcpn.classifiers.get(starved)!.trained, false);
  assert.equal(lcpn.classifiers.get(n0)!.trained, true);
  const model = new TaxonModel(t, 'lcpn', { mean: new Float32Array(0), scale: 1 }, s.X.dim, 0.2);
  model.lcpn = lcpn;
  for (const p of model.predict(s.X, 'topdown')) if (p.path.includes(starved)) assert.equal(p.node, starved);
});

test('a training set with no labels is refused with a clear message', () => {
  const s = synthetic(50);
  assert.throws(() => TaxonModel.train(s.taxonomy, s.raw, s.labels.map(() => []), s.images), (e: unknown) => e instanceof NoLabelsError && /no labelled items/.test(e.message));
});

test('retrain touches only the classifiers on the changed items\' old and new paths; the others stay bit-identical', () => {
  const s = synthetic(1200);
  const t = s.taxonomy;
  const labels: number[][] = s.labels.map((l) => [l]);
  const { model, X } = TaxonModel.train(t, s.raw, labels, s.images, { alpha: 0.2 });
  const before = new Map([...model.lcpn!.classifiers].map(([p, c]) => [p, { c, weights: Float32Array.from(c.weights) }]));
  const row = 7;
  const old = labels[row];
  const other = t.leaves().find((l) => t.nodes[t.ancestry(l)[0]].id !== t.ancestry(old[0])[0])!;
  labels[row] = [other];
  const affected = affectedParents(t, old, labels[row]);
  const report = model.retrain(X, labels, affected);
  const expected = new Set([ROOT, ...t.ancestry(old[0]).slice(0, -1), ...t.ancestry(other).slice(0, -1)]);
  assert.deepEqual(new Set(report.retrained), expected);
  for (const [p, c] of model.lcpn!.classifiers) {
    const was = before.get(p)!;
    if (expected.has(p)) {
      assert.notEqual(c, was.c, `parent ${p} retrained`);
    } else {
      assert.equal(c, was.c, `parent ${p} untouched`);
      assert.deepEqual(c.weights, was.weights, `parent ${p} bit-identical`);
    }
  }
});

test('one new label is a local update of the touched classifiers, pending until refit() fits them on all rows', () => {
  const s = synthetic(1200);
  const t = s.taxonomy;
  const labels: number[][] = s.labels.map((l, i) => (i % 10 === 0 ? [] : [l]));
  const { model, X } = TaxonModel.train(t, s.raw, labels, s.images, { alpha: 0.2 });
  labels[0] = [s.labels[0]];
  const affected = affectedParents(t, [], labels[0]);
  const report = model.retrain(X, labels, affected);
  assert.deepEqual(report.full, [], 'no full fit for one label');
  assert.deepEqual(new Set(model.pendingRefit()), new Set(affected));
  const refit = model.refit(X, labels);
  assert.deepEqual(new Set(refit.full), new Set(affected));
  assert.deepEqual(model.pendingRefit(), []);
});

test('after a sequence of incremental retrains, accuracy is within 0.5 points of a full retrain', () => {
  const s = synthetic(4000, 9);
  const t = s.taxonomy;
  const testRows = s.labels.map((_, i) => i).filter((i) => isHeldOut(s.images[i], 0.25));
  const pool = s.labels.map((_, i) => i).filter((i) => !isHeldOut(s.images[i], 0.25));
  const labels: number[][] = s.labels.map(() => []);
  const start = 2000;
  for (const i of pool.slice(0, start)) labels[i] = [s.labels[i]];
  // A small sample per child, so that local updates see a small part of each classifier's rows;
  // local updates all the way (the default refits a classifier once 1 % of its rows changed).
  const options = { alpha: 0.2, gradientTolerance: 1e-5, localPerChild: 16, localMaxChanged: 0.25 };
  const { model, X } = TaxonModel.train(t, s.raw, labels, s.images, options);
  // 40 batches of 10 new labels (20 % more labels), each updating only what it touches, never refitted.
  for (let b = 0; b < 40; b++) {
    const affected = new Set<number>();
    for (const i of pool.slice(start + b * 10, start + 10 + b * 10)) {
      labels[i] = [s.labels[i]];
      for (const p of affectedParents(t, [], labels[i])) affected.add(p);
    }
    assert.deepEqual(model.retrain(X, labels, affected).full, [], `batch ${b} was a local update`);
  }
  const before = leafAccuracy(t, TaxonModel.train(t, s.raw, labels.map((l, i) => (pool.indexOf(i) >= start ? [] : l)), s.images, options).model, X, s.labels, testRows);
  const fresh = TaxonModel.train(t, s.raw, labels, s.images, options);
  const incremental = leafAccuracy(t, model, X, s.labels, testRows);
  const retrained = leafAccuracy(t, fresh.model, fresh.X, s.labels, testRows);
  assert.ok(Math.abs(incremental - retrained) <= 0.005, `incremental ${incremental} vs full ${retrained} (before the new labels ${before})`);
});

test('the hold-out split depends only on the image path', () => {
  assert.equal(splitFraction('a/b.jpg'), splitFraction('a/b.jpg'));
  assert.notEqual(splitFraction('a/b.jpg'), splitFraction('a/c.jpg'));
  const images = Array.from({ length: 10000 }, (_, i) => `images/x/${i}.jpg`);
  const held = images.filter((im) => isHeldOut(im, 0.2)).length;
  assert.ok(held > 1800 && held < 2200, `${held} of 10000 held out at 0.2`);
  assert.notEqual(splitFraction('a.jpg', 'salt:'), splitFraction('a.jpg'));
});

test('a large softmax fit on two threads (a helper thread takes half the rows) reaches the one-thread result', () => {
  // 3,000 rows × 8 classes × 200 dims = 4.8 M multiply-adds per evaluation: above PARALLEL_MIN_WORK.
  const s = hierarchicalClusters({ n: 3000, dim: 200, branching: [2, 4], seed: 12 });
  const X = preprocess({ data: s.data, n: s.n, dim: s.dim }, fitPreprocessing({ data: s.data, n: s.n, dim: s.dim }));
  const leaves = s.taxonomy.leaves();
  const index = new Map(leaves.map((l, i) => [l, i]));
  const rows = Int32Array.from({ length: s.n }, (_, i) => i);
  const targets = Int32Array.from(s.labels, (l) => index.get(l)!);
  assert.ok(rows.length * leaves.length * X.dim >= PARALLEL_MIN_WORK);
  const split = openSplit(X, rows, targets, new Float64Array(s.n).fill(1 / s.n), leaves.length, 2);
  assert.ok(split, 'the helper thread started');
  split.close();
  const one = fitSoftmax(X, rows, targets, leaves.length, { threads: 1, maxIterations: 40 });
  const two = fitSoftmax(X, rows, targets, leaves.length, { threads: 2, maxIterations: 40 });
  assert.equal(two.iterations, one.iterations);
  assert.ok(Math.abs(two.loss - one.loss) < 1e-9 * Math.max(1, Math.abs(one.loss)), `loss ${two.loss} vs ${one.loss}`);
  let maxDiff = 0;
  for (let i = 0; i < one.weights.length; i++) maxDiff = Math.max(maxDiff, Math.abs(one.weights[i] - two.weights[i]));
  assert.ok(maxDiff < 1e-4, `weights differ by ${maxDiff}`);
});

test('one head\'s probabilities for many rows on the helper thread equal those computed here', () => {
  const s = hierarchicalClusters({ n: 600, dim: 24, branching: [3, 2], seed: 13 });
  const X = preprocess({ data: s.data, n: s.n, dim: s.dim }, fitPreprocessing({ data: s.data, n: s.n, dim: s.dim }));
  const K = 5;
  const weights = Float32Array.from({ length: K * (X.dim + 1) }, (_, i) => Math.sin(i) * 0.3);
  const rows = Int32Array.from({ length: 301 }, (_, i) => (i * 7) % s.n);
  const here = new Float64Array(rows.length * K);
  softmaxRows(X.data, X.dim, rows, weights, K, here);
  const job = softmaxRowsOnHelper(X, rows, weights, K, 2);
  assert.ok(job, 'the helper thread took the job');
  const there = job.wait();
  assert.equal(there.length, here.length);
  for (let i = 0; i < here.length; i++) assert.ok(Math.abs(here[i] - there[i]) < 1e-12);
  // and each row's probabilities are the single-row softmax
  const one = new Float64Array(K);
  softmaxProbabilities(weights, K, X, rows[300], one);
  for (let k = 0; k < K; k++) assert.ok(Math.abs(one[k] - here[300 * K + k]) < 1e-12);
  assert.equal(softmaxRowsOnHelper(X, rows.subarray(0, 10), weights, K, 2), undefined, 'a few rows stay on this thread');
});

test('LCPN heads add the log share of each child in their training rows to its bias (logit adjustment), also after a local update', () => {
  // Overlapping clusters, and most items of the second top-level node left unlabelled: an imbalanced root head.
  const s = hierarchicalClusters({ n: 1200, dim: 16, branching: [2, 2], spread: [0.6, 0.6], noise: 1.5, seed: 21 });
  const t = s.taxonomy;
  const X = preprocess({ data: s.data, n: s.n, dim: s.dim }, fitPreprocessing({ data: s.data, n: s.n, dim: s.dim }));
  const top = (leaf: number) => t.ancestry(leaf)[0];
  const [first, second] = t.childrenOf(ROOT);
  const labels: number[][] = s.labels.map((l, i) => (top(l) === second && i % 5 !== 0 ? [] : [l]));
  const lcpn = new LcpnClassifier(t, X.dim);
  lcpn.train(X, labels);
  const root = lcpn.classifiers.get(ROOT)!;
  const counts = root.children.map((c) => labels.filter((l) => l.length > 0 && top(l[0]) === c).length);
  const total = counts[0] + counts[1];
  assert.ok(counts[root.children.indexOf(first)] > 3 * counts[root.children.indexOf(second)], `imbalanced: ${counts}`);
  assert.ok(root.logPrior);
  root.children.forEach((_, k) => assert.ok(Math.abs(root.logPrior![k] - Math.log((counts[k] + 1) / (total + 2))) < 1e-6));
  // Mean P(child | root) over the labelled rows: with the prior it moves toward the label shares.
  const meanShare = (weights: Float32Array) => {
    const p = new Float64Array(2);
    const sums = [0, 0];
    labels.forEach((l, row) => {
      if (!l.length) return;
      softmaxProbabilities(weights, 2, X, row, p);
      sums[0] += p[0];
      sums[1] += p[1];
    });
    return sums.map((v) => v / total);
  };
  const D = X.dim + 1;
  const balanced = Float32Array.from(root.weights);
  for (let k = 0; k < 2; k++) balanced[k * D + X.dim] -= root.logPrior![k];
  const major = counts[0] > counts[1] ? 0 : 1;
  const share = counts[major] / total;
  const withPrior = meanShare(root.weights)[major];
  const withoutPrior = meanShare(balanced)[major];
  assert.ok(Math.abs(withPrior - share) < Math.abs(withoutPrior - share), `share ${share}: ${withPrior} with the prior, ${withoutPrior} without`);
  // One more label of the minority: a local update, whose prior follows the new counts.
  const row = labels.findIndex((l, i) => l.length === 0 && top(s.labels[i]) === second);
  labels[row] = [s.labels[row]];
  const report = lcpn.retrain(X, labels, affectedParents(t, [], labels[row]));
  assert.ok(!report.full.includes(ROOT), 'the root head was updated locally');
  const after = lcpn.classifiers.get(ROOT)!;
  const minor = 1 - major;
  assert.ok(Math.abs(after.logPrior![minor] - Math.log((counts[minor] + 2) / (total + 3))) < 1e-6);
});
