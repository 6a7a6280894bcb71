/**
 * Queue ranking bench (`npm run bench -- --suite queue`): score and order 100,000 unlabelled items
 * from synthetic predictions over the dev taxonomy, per strategy; target ≤ 1 s.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDataset } from '../../src/core/formats';
import { seededRandom } from '../../src/core/learn/clustering';
import { scoreItems, STRATEGIES, topIndices, type SelectionContext } from '../../src/core/learn/selection';
import { levelStructure, marginalsFromLeaves, type MarginalsMatrix } from '../../src/core/learn/uncertainty';

const DEV = path.resolve(__dirname, '../../../shared/datasets/tinyimagenet-wordnet');

export function queueSuite(quick: boolean): Record<string, unknown> {
  const n = quick ? 20_000 : 100_000;
  const t = loadDataset(DEV).taxonomy;
  const leaves = t.leaves();
  const rand = seededRandom(11);
  // Peaked leaf distributions (a few likely leaves per item), like a trained classifier's.
  const M: MarginalsMatrix = { data: new Float32Array(n * t.size), n, nodes: t.size };
  for (let i = 0; i < n; i++) {
    const o = i * t.size;
    let z = 0;
    for (const l of leaves) z += M.data[o + l] = Math.exp(8 * Math.pow(rand(), 4));
    for (const l of leaves) M.data[o + l] /= z;
  }
  marginalsFromLeaves(t, M);
  const candidates = Int32Array.from({ length: n }, (_, i) => i);
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled: [], marginals: M, levels: levelStructure(t), options: { hybridSwitchLabelsPerLeaf: 0 } };
  // Wall time on a shared machine counts other people's work: CPU time of this process is reported beside it.
  const results: Record<string, { ms: number; cpuMs: number; runs: number[] }> = {};
  for (const s of STRATEGIES.filter((x) => !x.usesEmbeddings || x.name === 'hybrid')) {
    const runs: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const scores = scoreItems(s.name, ctx, seededRandom(r));
      topIndices(scores, n); // the whole queue in order
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      runs.push(performance.now() - t0);
    }
    const ms = [...runs].sort((a, b) => a - b)[1];
    const cpuMs = [...cpu].sort((a, b) => a - b)[1];
    results[s.name] = { ms, cpuMs, runs };
    console.log(`rank ${n.toLocaleString()} items by ${s.name}: ${ms.toFixed(0)} ms (CPU ${cpuMs.toFixed(0)} ms)`);
  }
  return {
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
    date: new Date().toISOString(),
    items: n,
    taxonomy: { nodes: t.size, leaves: leaves.length },
    note: 'hybrid after its switch (multi-level margin); typical is excluded: it ranks by k-means on embeddings, not by predictions',
    rank: results,
    targets: { ms: 1000 },
  };
}
