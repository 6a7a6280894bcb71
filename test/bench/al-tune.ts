/** Tuning runs of the al-sim core on a hold-out of the dev data's training part (docs/al-tuning.md). */
import * as fs from 'node:fs';
import { labelledEmbeddings } from '../../src/core/learn/workflow';
import { isHeldOut } from '../../src/core/learn/split';
import { deepest } from '../../src/core/learn/model';
import { accuracyAt, checkpoints, simulate } from '../../src/core/learn/simulate';
// usage: node --import tsx test/bench/al-tune.ts '<json options>'   (tuning split: hold-out 0.2 removed, then 0.2 of the rest as the tuning test;
// "salt" draws another tuning split of the same dev part)
(async () => {
  const opts = JSON.parse(process.argv[2] ?? '{}');
  const d = await labelledEmbeddings('/work/shared/datasets/tinyimagenet-wordnet', { cacheDir: process.env.TAXON_TUNE_CACHE ?? '/tmp/taxon-bench-cache' });
  const t = d.ds.taxonomy;
  const poolRows: number[] = [], testRows: number[] = [];
  d.images.forEach((im, i) => {
    if (isHeldOut(im, 0.2)) return; // the real test part: never used for tuning
    if (isHeldOut(im, 0.2, opts.salt ?? 'taxon-al-tune:')) testRows.push(i); else poolRows.push(i);
  });
  const sub = (rows: number[]) => { const data = new Float32Array(rows.length * d.raw.dim); rows.forEach((r, i) => data.set(d.raw.data.subarray(r * d.raw.dim, (r + 1) * d.raw.dim), i * d.raw.dim)); return { data, n: rows.length, dim: d.raw.dim }; };
  // random's runs are wanted in the result too: each strategy's per-repeat difference from it is reported
  const asked: string[] = opts.strategies ?? [];
  const strategies = asked.includes('random') ? asked : [...asked, 'random'];
  const res = simulate({ taxonomy: t, pool: sub(poolRows), poolLeaf: Int32Array.from(poolRows, (r) => d.labels[r].length ? deepest(t, d.labels[r]) : -1), test: sub(testRows), testTruth: Int32Array.from(testRows, (r) => deepest(t, d.labels[r])) },
    { repeats: 1, ...opts, strategies, onProgress: (m: string) => console.error(m) });
  const random = res.strategies.find((s) => s.strategy === 'random')!;
  for (const s of res.strategies) {
    console.log(s.strategy, JSON.stringify(s.labelsToMatchRandom), s.curve.map((p) => (p.leafTop1 * 100).toFixed(1)).join(' '), s.seconds.toFixed(0) + 's');
    if (s === random) continue;
    // leaf top-1 minus random's, repeat by repeat (same seed labels): mean ± standard error at each checkpoint
    const at = checkpoints(res.setup.budget).map((c) => {
      const diffs = s.runs.map((run, r) => 100 * (accuracyAt(run, c) - accuracyAt(random.runs[r], c)));
      const n = diffs.length;
      const mean = diffs.reduce((a, b) => a + b, 0) / n;
      const se = n > 1 ? ` ± ${Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) / n).toFixed(2)}` : ' (one repeat: no standard error)';
      return `${c}: ${mean >= 0 ? '+' : ''}${mean.toFixed(2)}${se}`;
    });
    console.log(`  ${s.strategy} − random, leaf top-1 points (mean ± standard error over ${s.runs.length} repeats): ${at.join(', ')}`);
  }
  console.log(JSON.stringify(res.setup.randomAt));
  if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(res));
})();
