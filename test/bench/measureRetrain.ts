/**
 * Retrain latency on real embeddings, in a fresh process: LCPN trained on the training part of the
 * deterministic 0.2 hold-out, then held-out items labelled one at a time (a retrain after each)
 * and in batches of 50; finally leaf top-1 of the incrementally updated model against a full refit.
 *   node --import tsx test/bench/measureRetrain.ts <dataset> <cacheDir>
 * Prints one JSON line.
 */
import { loadDataset } from '../../src/core/formats/index';
import { affectedParents } from '../../src/core/learn/hierarchy';
import { evaluate } from '../../src/core/learn/metrics';
import { deepest, TaxonModel } from '../../src/core/learn/model';
import { isHeldOut } from '../../src/core/learn/split';
import { readEmbeddings } from '../../src/core/model/embed';

const [root, cacheDir] = process.argv.slice(2);
const quantile = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];

void (async () => {
  const ds = loadDataset(root);
  const t = ds.taxonomy;
  const images = ds.items.map((i) => i.image);
  const e = await readEmbeddings({ root: ds.root, images, cacheDir });
  if (e.missing.length) throw new Error(`${e.missing.length} images have no cached embedding`);
  const raw = { data: e.matrix, n: images.length, dim: e.dim };
  const truth = ds.items.map((i) => i.labels);
  const held = images.map((im) => isHeldOut(im, 0.2));
  const labels: (readonly number[])[] = truth.map((l, i) => (held[i] ? [] : l));
  const testRows = images.map((_, i) => i).filter((i) => held[i] && truth[i].length > 0);
  const t0 = performance.now();
  const { model, X } = TaxonModel.train(t, raw, labels, images, { alpha: 0.2 });
  const trainSeconds = (performance.now() - t0) / 1000;
  const accuracy = (m: TaxonModel, rows: number[]) => {
    const p = m.predict(X, 'bottomup', rows);
    return evaluate(t, rows.map((r, i) => ({ truth: deepest(t, truth[r]), predicted: p[i].node }))).leafTop1;
  };
  // Newly labelled items come from the held-out part (every 2nd); the others judge accuracy.
  const pool = testRows.filter((_, i) => i % 2 === 0);
  const judge = testRows.filter((_, i) => i % 2 === 1);
  const before = accuracy(model, judge);
  const one: number[] = [];
  const oneFull: number[] = [];
  for (let k = 0; k < 40; k++) {
    const i = pool.pop()!;
    labels[i] = truth[i];
    const t1 = performance.now();
    const r = model.retrain(X, labels, affectedParents(t, [], truth[i]));
    one.push(performance.now() - t1);
    oneFull.push(r.full.length);
  }
  const fifty: number[] = [];
  for (let k = 0; k < 5; k++) {
    const affected = new Set<number>();
    for (let j = 0; j < 50; j++) {
      const i = pool.pop()!;
      labels[i] = truth[i];
      for (const p of affectedParents(t, [], truth[i])) affected.add(p);
    }
    const t1 = performance.now();
    model.retrain(X, labels, affected);
    fifty.push(performance.now() - t1);
  }
  const incremental = accuracy(model, judge);
  const pending = model.pendingRefit().length;
  const t2 = performance.now();
  const refit = model.refit(X, labels);
  const refitSeconds = (performance.now() - t2) / 1000;
  const afterRefit = accuracy(model, judge);
  console.log(
    JSON.stringify({
      trainSeconds,
      train: labels.filter((l) => l.length).length,
      one: { trials: one.length, p50: quantile(one, 0.5), p95: quantile(one, 0.95), ms: one, fullFits: oneFull.reduce((a, b) => a + b, 0) },
      fifty: { trials: fifty.length, p50: quantile(fifty, 0.5), p95: quantile(fifty, 0.95), ms: fifty },
      accuracy: { judged: judge.length, beforeNewLabels: before, afterIncremental: incremental, afterRefit, pendingParents: pending, refitParents: refit.retrained.length, refitSeconds },
    }),
  );
})();
