/**
 * Simulated labelling (`taxon al-sim`): a curator who labels, with the pool's true labels, what
 * each strategy picks, batch after batch; the accuracy curve per strategy and how many labels each
 * needs to reach random sampling's accuracy at a quarter, a half and all of the budget.
 *
 * Every strategy is judged with the same classifier and the same seed labels per repeat (paired
 * comparison): a flat softmax over the leaves on a PCA projection of the embeddings, warm-started
 * from round to round. It is the issue's reference setting, and it is what keeps 20 rounds × 8
 * strategies × 3 repeats within minutes on two cores (LCPN on 1280-d inputs would take hours).
 */
import { DatasetError } from '../diagnostics';
import { ROOT, type Taxonomy } from '../taxonomy';
import { FlatSoftmax } from './alternatives';
import { drawToFront, pcaProjection, seededRandom } from './clustering';
import { evaluate } from './metrics';
import { GEOMETRY_DIMS, strategyGeometry } from './geometry';
import { deepest } from './model';
import { ClusterCache, selectBatch, STRATEGIES, type SelectionOptions, type StrategyName } from './selection';
import { DEFAULT_LBFGS, fitPreprocessing, preprocess, softmaxProbabilities, type Features, type FitOptions } from './softmax';
import { isHeldOut } from './split';
import { levelStructure, marginalsFromLeaves, type MarginalsMatrix } from './uncertainty';
import { labelledEmbeddings, type LearningPaths } from './workflow';

export interface SimulationData {
  taxonomy: Taxonomy;
  /** Raw embeddings of the pool. */
  pool: Features;
  /** True leaf per pool row. */
  poolLeaf: Int32Array;
  test: Features;
  /** True node per test row (a leaf or, for a partial label, an internal node). */
  testTruth: Int32Array;
}

export interface SimulationOptions {
  /** Strategy names; `name#variant` runs `name` with `selectionFor['name#variant']` (tuning). */
  strategies: readonly string[];
  seedPerLeaf?: number;
  batch?: number;
  /** Total labels (seed labels included) at which a run stops. */
  budget?: number;
  repeats?: number;
  /** Base seed; repeat r uses seed + r. */
  seed?: number;
  /** Dimensions of the PCA projection the classifier works on. */
  dims?: number;
  /**
   * The strategies' geometry (k-means, typicality, coverage): the embeddings whitened on this many
   * principal directions, rows at unit length, as the product's queue has it (geometry.ts). BALD's
   * posterior is built on the classifier's own features.
   */
  geometryDims?: number;
  /** Whiten the projection with this shrinkage (projection.ts); undefined: a plain PCA projection. */
  whiten?: number;
  /**
   * L2 strength of the softmax: a fixed λ, or `{ perLabel: c }` for λ = c / (labels so far) each
   * round (a constant C = 1/c on the summed loss, as scikit-learn's LogisticRegression has it).
   */
  l2?: L2Schedule;
  /** At most this many L-BFGS iterations per round (warm-started; the fit stops earlier at the tolerances of the product's own fits). */
  maxIterations?: number;
  selection?: SelectionOptions;
  /** Per-strategy selection options (tuning runs). */
  selectionFor?: Partial<Record<string, SelectionOptions>>;
  onProgress?: (message: string) => void;
}

export type L2Schedule = number | { perLabel: number };

/** The L2 strength of a round with `labels` labels. */
export function l2At(l2: L2Schedule, labels: number): number {
  return typeof l2 === 'number' ? l2 : l2.perLabel / Math.max(1, labels);
}

export interface CurvePoint {
  labels: number;
  leafTop1: number;
  hF1: number;
}

export interface StrategyResult {
  strategy: string;
  repeats: number;
  /** Mean over repeats. */
  curve: CurvePoint[];
  /** Per checkpoint ("1000" for a quarter of a 4,000 budget, …): labels to reach random's mean leaf top-1 there; null if never. */
  labelsToMatchRandom: Record<string, number | null>;
  /** Each repeat's curve, for spread. */
  runs: CurvePoint[][];
  seconds: number;
}

export interface SimulationResult {
  strategies: StrategyResult[];
  setup: {
    pool: number;
    test: number;
    leaves: number;
    seedPerLeaf: number;
    batch: number;
    budget: number;
    repeats: number;
    classifier: string;
    dims: number;
    geometryDims: number;
    l2: L2Schedule;
    maxIterations: number;
    /** random's mean leaf top-1 at each checkpoint. */
    randomAt: Record<string, number>;
  };
  seconds: number;
}

/**
 * The protocol. The classifier is fitted to convergence each round, as the product fits its own
 * (until session 8 it was capped at 25 iterations for speed: an under-fitted classifier, which
 * cost the uncertainty strategies more than random sampling; docs/al-tuning.md, session 9), with
 * an L2 strength that falls as labels grow, λ = 10 / labels (until session 9 a fixed 1e-3: too
 * weak for every label count, 2–2.5 points of random sampling's accuracy lost at 1,000 and 2,000
 * labels; chosen by random sampling's accuracy on the tuning split, docs/al-tuning.md, session 10).
 */
export const SIMULATION_DEFAULTS = { seedPerLeaf: 1, batch: 200, budget: 4000, repeats: 3, seed: 1, dims: 64, geometryDims: GEOMETRY_DIMS, l2: { perLabel: 10 } as L2Schedule, maxIterations: DEFAULT_LBFGS.maxIterations };

/** The first (interpolated) number of labels at which the curve reaches `target`; null if it never does. */
export function labelsToReach(curve: readonly CurvePoint[], target: number): number | null {
  for (let i = 0; i < curve.length; i++) {
    if (curve[i].leafTop1 < target) continue;
    if (i === 0) return curve[0].labels;
    const a = curve[i - 1];
    const b = curve[i];
    const f = (target - a.leafTop1) / (b.leafTop1 - a.leafTop1);
    return a.labels + f * (b.labels - a.labels);
  }
  return null;
}

/** The curve's leaf top-1 at `labels`, linearly interpolated (clamped to the ends). */
export function accuracyAt(curve: readonly CurvePoint[], labels: number): number {
  if (curve.length === 0) return 0;
  if (labels <= curve[0].labels) return curve[0].leafTop1;
  for (let i = 1; i < curve.length; i++) {
    if (curve[i].labels >= labels) {
      const a = curve[i - 1];
      const b = curve[i];
      return a.leafTop1 + ((labels - a.labels) / (b.labels - a.labels)) * (b.leafTop1 - a.leafTop1);
    }
  }
  return curve[curve.length - 1].leafTop1;
}

/** A quarter, a half and all of the budget. */
export function checkpoints(budget: number): number[] {
  return [Math.round(budget / 4), Math.round(budget / 2), budget];
}

/** labelsToMatchRandom for every curve against random's curve. */
export function matchRandom(curve: readonly CurvePoint[], random: readonly CurvePoint[], budget: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const c of checkpoints(budget)) {
    const n = labelsToReach(curve, accuracyAt(random, c));
    out[String(c)] = n === null ? null : Math.round(n);
  }
  return out;
}

/** The pool and test embeddings as the classifier sees them: L2-normalised, centred on the pool, PCA-projected, unit variance per dimension on average. */
export function simulationFeatures(data: SimulationData, dims: number, whiten?: number): { pool: Features; test: Features } {
  if (whiten !== undefined && dims < data.pool.dim) {
    const white = fitPreprocessing(data.pool, { project: { dims, shrinkage: whiten } });
    return { pool: preprocess(data.pool, white), test: preprocess(data.test, white) };
  }
  const pre = fitPreprocessing(data.pool);
  const pool = preprocess(data.pool, pre);
  const test = preprocess(data.test, pre);
  const pca = pcaProjection(pool, dims);
  const P = pca.project(pool);
  const T = pca.project(test);
  let sq = 0;
  for (let i = 0; i < P.data.length; i++) sq += P.data[i] * P.data[i];
  const scale = 1 / Math.sqrt(sq / P.data.length || 1);
  for (let i = 0; i < P.data.length; i++) P.data[i] *= scale;
  for (let i = 0; i < T.data.length; i++) T.data[i] *= scale;
  return { pool: P, test: T };
}

/** The seed labels of one repeat: `perLeaf` pool rows of every leaf that has them, drawn with the repeat's seed. */
export function seedRows(poolLeaf: Int32Array, perLeaf: number, seed: number): number[] {
  const byLeaf = new Map<number, number[]>();
  poolLeaf.forEach((leaf, row) => {
    if (leaf < 0) return;
    let l = byLeaf.get(leaf);
    if (!l) byLeaf.set(leaf, (l = []));
    l.push(row);
  });
  const rand = seededRandom(seed * 7919 + 17);
  const out: number[] = [];
  for (const leaf of [...byLeaf.keys()].sort((a, b) => a - b)) {
    const rows = byLeaf.get(leaf)!;
    drawToFront(rows, perLeaf, rand);
    out.push(...rows.slice(0, perLeaf));
  }
  return out;
}

export function simulate(data: SimulationData, options: SimulationOptions): SimulationResult {
  const t0 = performance.now();
  const o = { ...SIMULATION_DEFAULTS, ...options };
  const t = data.taxonomy;
  const log = options.onProgress ?? (() => undefined);
  const { pool, test } = simulationFeatures(data, o.dims, options.whiten);
  const geometry = strategyGeometry(data.pool, undefined, o.geometryDims);
  log(`features: ${pool.n} pool and ${test.n} test rows, PCA ${pool.dim}-d, geometry ${geometry.dim}-d (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const levels = levelStructure(t);
  const clusters = new ClusterCache();
  const leaves = t.leaves();
  const leafIndex = new Int32Array(t.size).fill(-1);
  leaves.forEach((l, k) => (leafIndex[l] = k));
  const strategies = [...new Set(options.strategies)];
  // random is always simulated: every other strategy is measured against it.
  if (!strategies.includes('random')) strategies.push('random');
  const runs = new Map<string, CurvePoint[][]>(strategies.map((s) => [s, []]));
  const seconds = new Map<string, number>(strategies.map((s) => [s, 0]));
  const usable = Array.from(data.poolLeaf, (l, r) => (l >= 0 ? r : -1)).filter((r) => r >= 0);
  for (let rep = 0; rep < o.repeats; rep++) {
    const seeds = seedRows(data.poolLeaf, o.seedPerLeaf, o.seed + rep);
    for (const strategy of strategies) {
      const s0 = performance.now();
      const base = strategy.split('#')[0] as StrategyName;
      const info = STRATEGIES.find((s) => s.name === base);
      if (!info) throw new Error(`unknown strategy ${JSON.stringify(strategy)}`);
      // Seeded by name, so that a strategy's run does not depend on which others run beside it.
      const rand = seededRandom((o.seed + rep) * 1000003 + nameHash(strategy));
      // the classifier reads its options at each fit: the round's L2 strength is set just before it
      const fit: FitOptions = { maxIterations: o.maxIterations };
      const classifier = new FlatSoftmax(t, pool.dim, fit);
      const isLabelled = new Uint8Array(pool.n);
      const labelled: number[] = [];
      const rowLabels: number[][] = Array.from({ length: pool.n }, () => []);
      const add = (rows: number[]) => {
        for (const r of rows) {
          if (isLabelled[r]) continue;
          isLabelled[r] = 1;
          labelled.push(r);
          rowLabels[r] = [data.poolLeaf[r]];
        }
      };
      add(seeds);
      const curve: CurvePoint[] = [];
      for (;;) {
        fit.l2 = l2At(o.l2, labelled.length);
        classifier.train(pool, rowLabels);
        curve.push({ labels: labelled.length, ...judge(classifier, test, data.testTruth, t, leaves) });
        if (labelled.length >= o.budget) break;
        const candidates = usable.filter((r) => !isLabelled[r]);
        if (candidates.length === 0) break;
        // the labelled rows' too: the hybrid's Laplace posterior is made of them
        const marginals = info.usesPredictions ? poolMarginals(classifier, pool, [...labelled, ...candidates], t, leaves) : undefined;
        const batch = selectBatch(
          base,
          {
            taxonomy: t,
            candidates,
            labelled,
            embeddings: geometry,
            posteriorFeatures: pool,
            marginals,
            options: { ...o.selection, ...options.selectionFor?.[strategy] },
            clusters,
            levels,
          },
          Math.min(o.batch, o.budget - labelled.length),
          rand,
        );
        if (batch.length === 0) break;
        add(batch);
      }
      runs.get(strategy)!.push(curve);
      const secs = (performance.now() - s0) / 1000;
      seconds.set(strategy, seconds.get(strategy)! + secs);
      log(`repeat ${rep + 1}/${o.repeats} ${strategy}: ${curve.map((p) => `${p.labels}:${(p.leafTop1 * 100).toFixed(1)}`).join(' ')} (${secs.toFixed(0)} s)`);
    }
  }
  const mean = (curves: CurvePoint[][]): CurvePoint[] =>
    curves[0].map((p, i) => ({
      labels: p.labels,
      leafTop1: curves.reduce((s, c) => s + (c[i]?.leafTop1 ?? c[c.length - 1].leafTop1), 0) / curves.length,
      hF1: curves.reduce((s, c) => s + (c[i]?.hF1 ?? c[c.length - 1].hF1), 0) / curves.length,
    }));
  const randomCurve = mean(runs.get('random')!);
  const results: StrategyResult[] = strategies
    .filter((s) => options.strategies.includes(s))
    .map((s) => {
      const curve = mean(runs.get(s)!);
      return { strategy: s, repeats: o.repeats, curve, labelsToMatchRandom: matchRandom(curve, randomCurve, o.budget), runs: runs.get(s)!, seconds: seconds.get(s)! };
    });
  const randomAt: Record<string, number> = {};
  for (const c of checkpoints(o.budget)) randomAt[String(c)] = accuracyAt(randomCurve, c);
  return {
    strategies: results,
    setup: { pool: usable.length, test: test.n, leaves: leaves.length, seedPerLeaf: o.seedPerLeaf, batch: o.batch, budget: o.budget, repeats: o.repeats, classifier: 'flat softmax (PCA)', dims: pool.dim, geometryDims: geometry.dim, l2: o.l2, maxIterations: o.maxIterations, randomAt },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Leaf top-1 and hF1 of the leaf argmax on the test rows. */
function judge(classifier: FlatSoftmax, test: Features, truth: Int32Array, t: Taxonomy, leaves: number[]): { leafTop1: number; hF1: number } {
  const p = new Float64Array(leaves.length);
  const judged = [];
  for (let r = 0; r < test.n; r++) {
    if (truth[r] < 0) continue;
    softmaxProbabilities(classifier.weights, leaves.length, test, r, p);
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
    judged.push({ truth: truth[r], predicted: leaves[best] });
  }
  const m = evaluate(t, judged);
  return { leafTop1: m.leafTop1, hF1: m.hF1 };
}

/** Marginals of the given rows (other rows stay zero). */
function poolMarginals(classifier: FlatSoftmax, pool: Features, rows: number[], t: Taxonomy, leaves: number[]): MarginalsMatrix {
  const N = t.size;
  const M: MarginalsMatrix = { data: new Float32Array(pool.n * N), n: pool.n, nodes: N };
  const p = new Float64Array(leaves.length);
  for (const r of rows) {
    softmaxProbabilities(classifier.weights, leaves.length, pool, r, p);
    const o = r * N;
    for (let k = 0; k < leaves.length; k++) M.data[o + leaves[k]] = p[k];
  }
  marginalsFromLeaves(t, M);
  return M;
}

/**
 * The simulation's data from datasets: the pool's items with a leaf label (the simulated curator
 * knows them), and the test items from another dataset (matched by path of names) or from a
 * deterministic hold-out of the pool (by image path, as `taxon eval` splits).
 */
export async function simulationData(poolTarget: string, paths: LearningPaths, test: { target: string } | { holdout: number }): Promise<SimulationData & { notes: string[] }> {
  const notes: string[] = [];
  const pool = await labelledEmbeddings(poolTarget, paths);
  const t = pool.ds.taxonomy;
  if (pool.missing) notes.push(`${pool.missing} pool images have no cached embedding and are left out`);
  const leafOf = (ls: readonly number[]) => {
    const d = ls.length ? deepest(t, ls) : ROOT;
    return d !== ROOT && t.isLeaf(d) ? d : -1;
  };
  const rows = (keep: (i: number) => boolean) => pool.images.map((_, i) => i).filter(keep);
  const subset = (raw: Features, r: number[]): Features => {
    const data = new Float32Array(r.length * raw.dim);
    r.forEach((row, i) => data.set(raw.data.subarray(row * raw.dim, (row + 1) * raw.dim), i * raw.dim));
    return { data, n: r.length, dim: raw.dim };
  };
  if ('holdout' in test) {
    const held = pool.images.map((im) => isHeldOut(im, test.holdout));
    const poolRows = rows((i) => !held[i]);
    const testRows = rows((i) => held[i] && pool.labels[i].length > 0);
    if (testRows.length === 0) throw new DatasetError(poolTarget, `has no labelled items in the ${test.holdout} hold-out`);
    return {
      taxonomy: t,
      pool: subset(pool.raw, poolRows),
      poolLeaf: Int32Array.from(poolRows, (i) => leafOf(pool.labels[i])),
      test: subset(pool.raw, testRows),
      testTruth: Int32Array.from(testRows, (i) => deepest(t, pool.labels[i])),
      notes,
    };
  }
  const te = await labelledEmbeddings(test.target, paths);
  if (te.raw.dim !== pool.raw.dim) throw new DatasetError(test.target, `embeddings have ${te.raw.dim} dimensions, the pool's ${pool.raw.dim}`);
  let unknown = 0;
  const truth = te.labels.map((ls) => {
    if (ls.length === 0) return -1;
    const node = t.find(te.ds.taxonomy.path(deepest(te.ds.taxonomy, ls)));
    if (node === undefined) unknown++;
    return node ?? -1;
  });
  if (unknown) notes.push(`${unknown} test items have labels that are not in the pool's taxonomy and are left out`);
  const testRows = truth.map((n, i) => (n >= 0 ? i : -1)).filter((i) => i >= 0);
  if (testRows.length === 0) throw new DatasetError(test.target, 'has no labelled test items');
  return {
    taxonomy: t,
    pool: pool.raw,
    poolLeaf: Int32Array.from(pool.labels, (ls) => leafOf(ls)),
    test: subset(te.raw, testRows),
    testTruth: Int32Array.from(testRows, (i) => truth[i]),
    notes,
  };
}

function nameHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h % 1000003;
}
