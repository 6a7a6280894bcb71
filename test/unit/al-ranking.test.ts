import { test } from 'node:test';
import assert from 'node:assert/strict';
import { affectedParents, LcpnClassifier } from '../../src/core/learn/hierarchy';
import { QueueRanking, lcpnSource } from '../../src/core/learn/ranking';
import { topIndices } from '../../src/core/learn/selection';
import { Decoder } from '../../src/core/learn/inference';
import { levelStructure, measureFunction, uniformLevelWeights } from '../../src/core/learn/uncertainty';
import { hierarchicalClusters } from './learn-synthetic';

function setup() {
  const s = hierarchicalClusters({ n: 900, dim: 12, branching: [3, 3, 3], spread: [1.2, 0.9, 0.7], noise: 1, seed: 4 });
  const t = s.taxonomy;
  const X = { data: s.data, n: s.n, dim: s.dim };
  const labels: number[][] = s.labels.map((l, i) => (i % 6 === 0 ? [l] : []));
  const lcpn = new LcpnClassifier(t, X.dim, { maxIterations: 40 });
  lcpn.train(X, labels);
  const levels = levelStructure(t);
  const score = measureFunction('multilevel-margin', levels, uniformLevelWeights(levels));
  return { s, t, X, labels, lcpn, score };
}

/** Labels ten more items of one top-level subtree and retrains only the parents they touch. */
function labelMore(ctx: ReturnType<typeof setup>): number[] {
  const { s, t, X, labels, lcpn } = ctx;
  const top = t.roots[0];
  const touched = new Set<number>();
  let added = 0;
  for (let i = 0; i < s.n && added < 10; i++) {
    if (labels[i].length || !t.isAncestorOrSelf(top, s.labels[i])) continue;
    labels[i] = [s.labels[i]];
    for (const p of affectedParents(t, [], [s.labels[i]])) touched.add(p);
    added++;
  }
  return lcpn.retrain(X, labels, touched).retrained;
}

test('the queue marginals are the decoder\'s marginals', () => {
  const { t, X, lcpn, score } = setup();
  const q = new QueueRanking(t, X.n, lcpnSource(lcpn, X), score);
  const decoder = new Decoder(t);
  const cond = new Float64Array(t.size);
  const stop = new Uint8Array(t.size + 1);
  lcpn.conditionals(X, 7, cond, stop);
  const m = decoder.decode(cond, stop, 'bottomup').marginals;
  for (let v = 0; v < t.size; v++) assert.ok(Math.abs(q.marginals[7 * t.size + v] - m[v]) < 1e-6);
});

test('incremental re-rank with ε = 0 equals a full re-rank exactly', () => {
  const ctx = setup();
  const q = new QueueRanking(ctx.t, ctx.X.n, lcpnSource(ctx.lcpn, ctx.X), ctx.score, 0);
  const retrained = labelMore(ctx);
  assert.ok(retrained.length >= 2 && retrained.length < ctx.lcpn.classifiers.size, 'only some classifiers retrained');
  q.update(retrained);
  const full = new QueueRanking(ctx.t, ctx.X.n, lcpnSource(ctx.lcpn, ctx.X), ctx.score, 0);
  assert.deepEqual(q.scores, full.scores);
  assert.deepEqual(q.marginals, full.marginals);
});

test('incremental re-rank with a small ε skips items without mass on the retrained nodes and keeps the ranking', () => {
  const ctx = setup();
  const q = new QueueRanking(ctx.t, ctx.X.n, lcpnSource(ctx.lcpn, ctx.X), ctx.score, 1e-4);
  const recomputed = q.update(labelMore(ctx));
  const full = new QueueRanking(ctx.t, ctx.X.n, lcpnSource(ctx.lcpn, ctx.X), ctx.score, 0);
  // ROOT retrains after every label, so every item's top-level conditionals are refreshed…
  assert.equal(recomputed, ctx.X.n);
  let worst = 0;
  for (let i = 0; i < ctx.X.n; i++) worst = Math.max(worst, Math.abs(q.scores[i] - full.scores[i]));
  // …and what a skipped subtree can move is bounded by its mass (≤ ε per node).
  assert.ok(worst < 1e-3, `largest score difference ${worst}`);
  assert.deepEqual(topIndices(q.scores, 50), topIndices(full.scores, 50));
});

test('only the rows with mass on a retrained deep parent are recomputed', () => {
  const ctx = setup();
  const q = new QueueRanking(ctx.t, ctx.X.n, lcpnSource(ctx.lcpn, ctx.X), ctx.score, 1e-3);
  const deep = ctx.t.nodes[ctx.t.roots[0]].children[0];
  const expected = Array.from({ length: ctx.X.n }, (_, r) => r).filter((r) => q.marginals[r * ctx.t.size + deep] > 1e-3).length;
  assert.ok(expected < ctx.X.n);
  assert.equal(q.update([deep]), expected);
});
