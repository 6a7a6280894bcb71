/**
 * Training speed on synthetic 16,000 × 1280 hierarchical clusters (3 levels, 35 internal nodes):
 * full LCPN train, flat softmax, and retrain latency after 1 and 50 new labels.
 * Run: node --import tsx test/bench/learn-train.ts [--flat] [--n 16000] [--dim 1280]
 */
import { parseArgs } from 'node:util';
import { affectedParents } from '../../src/core/learn/hierarchy';
import { evaluate } from '../../src/core/learn/metrics';
import { TaxonModel } from '../../src/core/learn/model';
import { isHeldOut } from '../../src/core/learn/split';
import { hierarchicalClusters } from '../unit/learn-synthetic';

const { values } = parseArgs({ options: { flat: { type: 'boolean' }, n: { type: 'string' }, dim: { type: 'string' }, gtol: { type: 'string' }, trials: { type: 'string' } } });
const n = Number(values.n ?? 20000);
const dim = Number(values.dim ?? 1280);
const s = hierarchicalClusters({ n, dim, branching: [5, 6, 6], spread: [0.1, 0.08, 0.07], noise: 1, seed: 11 });
const t = s.taxonomy;
const raw = { data: s.data, n: s.n, dim: s.dim };
// 80 % train (16,000 of 20,000), 20 % test, by path hash.
const testRows = s.labels.map((_, i) => i).filter((i) => isHeldOut(s.images[i], 0.2));
const labels: number[][] = s.labels.map((l, i) => (isHeldOut(s.images[i], 0.2) ? [] : [l]));
const trainN = labels.filter((l) => l.length).length;
console.log(`synthetic: ${trainN} train, ${testRows.length} test, dim ${dim}, ${t.size} nodes, ${t.leaves().length} leaves`);
const fit = values.gtol ? { gradientTolerance: Number(values.gtol) } : {};

function report(name: string, model: TaxonModel, X: ReturnType<typeof TaxonModel.train>['X'], seconds: number) {
  const t0 = performance.now();
  const preds = model.predict(X, 'bottomup', testRows);
  const predictSeconds = (performance.now() - t0) / 1000;
  const m = evaluate(t, testRows.map((r, i) => ({ truth: s.labels[r], predicted: preds[i].node })));
  console.log(`${name}: train ${seconds.toFixed(2)} s, predict ${predictSeconds.toFixed(2)} s, leaf top-1 ${(m.leafTop1 * 100).toFixed(2)} %, hF1 ${(m.hF1 * 100).toFixed(2)} %`);
}

let t0 = performance.now();
const fixed = TaxonModel.train(t, raw, labels, s.images, { alpha: 0.2, ...fit });
report('LCPN (α fixed, no tuning fit)', fixed.model, fixed.X, (performance.now() - t0) / 1000);
const iters = [...fixed.model.lcpn!.classifiers.values()].map((c) => c.iterations);
console.log(`  iterations per classifier: max ${Math.max(...iters)}, mean ${(iters.reduce((a, b) => a + b, 0) / iters.length).toFixed(1)}`);
t0 = performance.now();
const tuned = TaxonModel.train(t, raw, labels, s.images, fit);
report(`LCPN (α tuned → ${tuned.model.alpha})`, tuned.model, tuned.X, (performance.now() - t0) / 1000);

// Retrain latency: one new label (a test item becomes labelled), then 50.
const { model, X } = fixed;
const pool = testRows.slice();
const trials = Number(values.trials ?? 40);
const one: number[] = [];
for (let k = 0; k < trials; k++) {
  const i = pool.pop()!;
  labels[i] = [s.labels[i]];
  const t1 = performance.now();
  model.retrain(X, labels, affectedParents(t, [], labels[i]));
  one.push(performance.now() - t1);
}
const fifty: number[] = [];
for (let k = 0; k < 5; k++) {
  const affected = new Set<number>();
  for (let j = 0; j < 50; j++) {
    const i = pool.pop()!;
    labels[i] = [s.labels[i]];
    for (const p of affectedParents(t, [], labels[i])) affected.add(p);
  }
  const t1 = performance.now();
  model.retrain(X, labels, affected);
  fifty.push(performance.now() - t1);
}
const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];
console.log(`retrain after 1 new label (${trials} trials): p50 ${q(one, 0.5).toFixed(0)} ms, p95 ${q(one, 0.95).toFixed(0)} ms`);
console.log(`retrain after 50 new labels (5 trials): p50 ${q(fifty, 0.5).toFixed(0)} ms, p95 ${q(fifty, 0.95).toFixed(0)} ms`);

if (values.flat) {
  t0 = performance.now();
  const flat = TaxonModel.train(t, raw, labels, s.images, { classifier: 'flat', alpha: 0.2, ...fit });
  report('flat softmax', flat.model, flat.X, (performance.now() - t0) / 1000);
}
