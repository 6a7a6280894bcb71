/**
 * Where training time goes on the dev embeddings: preprocessing fit (with its projection),
 * preprocessing, and each classifier's fit, with iteration counts. Not part of `npm run bench`;
 * run: node --import tsx test/bench/profileTrain.ts <dataset> <cache> [lcpn|flat] [dims] [shrinkage] [l2]
 */
import { labelledEmbeddings } from '../../src/core/learn/workflow';
import { isHeldOut } from '../../src/core/learn/split';
import { FlatSoftmax } from '../../src/core/learn/alternatives';
import { LcpnClassifier } from '../../src/core/learn/hierarchy';
import { fitPreprocessing, preprocess } from '../../src/core/learn/softmax';
import { conditionalsFromLeaves, Decoder } from '../../src/core/learn/inference';
import { evaluate } from '../../src/core/learn/metrics';
import { deepest } from '../../src/core/learn/model';


async function main() {
  const [dataset, cache, kind = 'flat', dimsArg = '384', shrinkArg = '0.25', l2Arg = '0.01'] = process.argv.slice(2);
  const data = await labelledEmbeddings(dataset, { cacheDir: cache });
  const t = data.ds.taxonomy;
  const train = data.labels.map((l, i) => (isHeldOut(data.images[i], 0.2) ? [] : l));
  const test = data.labels.map((l, i) => (isHeldOut(data.images[i], 0.2) && l.length ? i : -1)).filter((i) => i >= 0);
  let t0 = performance.now();
  const dims = Number(dimsArg);
  const pre = fitPreprocessing(data.raw, { images: data.images, project: dims > 0 ? { dims, shrinkage: Number(shrinkArg) } : undefined });
  const fitPre = performance.now() - t0;
  t0 = performance.now();
  const X = preprocess(data.raw, pre, data.images);
  const prep = performance.now() - t0;
  t0 = performance.now();
  const l2 = Number(l2Arg);
  const decoder = new Decoder(t, { alpha: 0 });
  let judged;
  let iterations = '';
  if (kind === 'flat') {
    const flat = new FlatSoftmax(t, X.dim, { l2 });
    flat.train(X, train);
    iterations = String(flat.iterations);
    judged = test.map((r) => {
      const leafP = new Float64Array(t.size);
      flat.leafProbabilities(X, r, leafP);
      const cond = new Float64Array(t.size);
      const stop = new Uint8Array(t.size + 1);
      conditionalsFromLeaves(t, leafP, cond, stop);
      return { truth: deepest(t, data.labels[r]), predicted: decoder.decode(cond, stop, 'bottomup').node };
    });
  } else {
    const lcpn = new LcpnClassifier(t, X.dim, { l2 });
    lcpn.train(X, train);
    const its = [...lcpn.classifiers.values()].map((c) => c.iterations);
    iterations = `max ${Math.max(...its)}, sum ${its.reduce((a, b) => a + b, 0)}`;
    judged = test.map((r) => {
      const cond = new Float64Array(t.size);
      const stop = new Uint8Array(t.size + 1);
      lcpn.conditionals(X, r, cond, stop);
      return { truth: deepest(t, data.labels[r]), predicted: decoder.decode(cond, stop, 'bottomup').node };
    });
  }
  const fit = performance.now() - t0;
  const m = evaluate(t, judged);
  console.log(JSON.stringify({ kind, dims, shrinkage: Number(shrinkArg), l2, fitPreprocessingMs: Math.round(fitPre), preprocessMs: Math.round(prep), fitMs: Math.round(fit), iterations, leafTop1: m.leafTop1, hF1: m.hF1 }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
