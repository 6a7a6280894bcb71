/**
 * The labelling loop's latency on real embeddings, in a fresh process: a session on the dev
 * dataset with the 0.2 hold-out part labelled (≈4,000 items) and the rest (≈16,000) in the queue;
 * then, 20 times: one new label → retrain the affected classifiers → re-rank the queue → read its
 * head, timed together; the same for batches of 50 labels. TAXON_EARLY=1 labels one item per leaf
 * instead (a curator's start); TAXON_TRIALS sets the number of single labels; TAXON_HYBRID_MEASURE
 * sets the hybrid's measure after the switch (default: the setting's default).
 *   node --import tsx test/bench/measureSession.ts <dataset> <cacheDir> [strategy]
 * Prints one JSON line.
 */
import { loadDataset } from '../../src/core/formats/index';
import { LabelingSession } from '../../src/core/learn/session';
import type { SelectionOptions, StrategyName } from '../../src/core/learn/selection';
import { isHeldOut } from '../../src/core/learn/split';

const [root, cacheDir, strategyArg] = process.argv.slice(2);
const strategy = (strategyArg ?? 'hybrid') as StrategyName;
const TRIALS = Number(process.env.TAXON_TRIALS ?? 20);
const quantile = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];

void (async () => {
  const ds = loadDataset(root);
  const truth = new Map(ds.items.map((i) => [i.image, i.labels]));
  // the labelled part is the 0.2 hold-out (or, with TAXON_EARLY=1, one item per leaf: a curator's
  // start, the hybrid in its typical phase); the rest is the queue
  const early = process.env.TAXON_EARLY === '1';
  const seen = new Set<string>();
  for (const item of ds.items) {
    const key = JSON.stringify(item.labels);
    if (early ? seen.has(key) : !isHeldOut(item.image, 0.2)) item.labels = [];
    seen.add(key);
  }
  const t0 = performance.now();
  const measure = process.env.TAXON_HYBRID_MEASURE as SelectionOptions['hybridMeasure'] | undefined;
  const { session, trained } = await LabelingSession.open(root, { cacheDir, strategy, selection: measure ? { hybridMeasure: measure } : undefined }, ds);
  const openSeconds = (performance.now() - t0) / 1000;
  const queued = session.queue().length;
  const deepestOf = (labels: readonly number[]) => labels.reduce((a, b) => (ds.taxonomy.depth(b) > ds.taxonomy.depth(a) ? b : a));
  const one: number[] = [];
  const retrainOnly: number[] = [];
  const phases: Array<{ retrainMs: number; predictMs: number; rankMs: number }> = [];
  for (let k = 0; k < TRIALS; k++) {
    const t1 = performance.now();
    const [next] = session.queue(undefined, 1);
    session.label(next.image, deepestOf(truth.get(next.image)!));
    const r = session.retrainAffected();
    session.queue(undefined, 500); // what the Queue view reads
    one.push(performance.now() - t1);
    retrainOnly.push(r.millis);
    if (r.phases) phases.push(r.phases);
  }
  // What the refresh's tolerances cost (heads skipped where a row reaches them with < 1 %, rows
  // decoded again only after 3e-3 of drift): the queue's marginals against the model's exact ones.
  const inside = session as unknown as { X: Parameters<typeof session.model.predict>[0]; marginals: { data: Float64Array; nodes: number }; data: { labels: number[][] }; mode: Parameters<typeof session.model.predict>[1] };
  const exact = session.model.predict(inside.X, inside.mode);
  let maxError = 0;
  let sumError = 0;
  let counted = 0;
  const N = inside.marginals.nodes;
  exact.forEach((p, row) => {
    if (inside.data.labels[row].length) return;
    let e = 0;
    for (let v = 0; v < N; v++) e = Math.max(e, Math.abs(inside.marginals.data[row * N + v] - p.marginals[v]));
    maxError = Math.max(maxError, e);
    sumError += e;
    counted++;
  });
  const staleness = { rows: counted, maxMarginalError: maxError, meanMaxMarginalError: sumError / counted };
  const fifty: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t1 = performance.now();
    for (const next of session.queue(undefined, 50)) session.label(next.image, deepestOf(truth.get(next.image)!));
    session.retrainAffected();
    session.queue(undefined, 500);
    fifty.push(performance.now() - t1);
  }
  console.log(
    JSON.stringify({
      strategy,
      queued,
      labelled: ds.items.length - queued,
      trained,
      openSeconds,
      one: {
        trials: one.length,
        p50: quantile(one, 0.5),
        p95: quantile(one, 0.95),
        ms: one,
        phasesP50: {
          retrainMs: quantile(phases.map((p) => p.retrainMs), 0.5),
          predictMs: quantile(phases.map((p) => p.predictMs), 0.5),
          rankMs: quantile(phases.map((p) => p.rankMs), 0.5),
        },
      },
      staleness,
      fifty: { trials: fifty.length, p50: quantile(fifty, 0.5), p95: quantile(fifty, 0.95), ms: fifty },
    }),
  );
})();
