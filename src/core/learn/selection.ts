/**
 * Which unlabelled images to label next: the strategy registry that the CLI, the settings and the
 * UI share, a per-item score for the queue, and batch selection (design doc, "Uncertainty and
 * selection"; the tuned defaults and how they were found: docs/al-tuning.md).
 */
import type { Taxonomy } from '../taxonomy';
import { drawToFront, farthestFirst, kmeans, seededRandom, typicality, type Clustering } from './clustering';
import { COVER_MAX_ROWS, Coverage, coverBatch, coverGraph, type CoverGraph } from './coverage';
import { dataFingerprint, pack, unpack, type ClusterStore, type Unpacked } from './clusterStore';
import { LaplacePosterior } from './laplace';
import type { Features } from './softmax';
import { levelStructure, levelWeights, measureFunction, UNCERTAINTY_MEASURES, type LevelStructure, type MarginalsMatrix, type UncertaintyMeasure } from './uncertainty';

export type StrategyName = 'hybrid' | 'typical' | 'multilevel-entropy' | 'multilevel-margin' | 'entropy' | 'margin' | 'least-confidence' | 'random';

export interface StrategyInfo {
  name: StrategyName;
  /** One line for pickers and help. */
  description: string;
  /** Needs the model's marginals of the candidates. */
  usesPredictions: boolean;
  /** Needs the candidates' embeddings. */
  usesEmbeddings: boolean;
}

export const STRATEGIES: readonly StrategyInfo[] = [
  { name: 'hybrid', description: 'representative images while labels are few (those that cover the most of the pool no label covers yet), then those a label would teach the model most (BALD, weighed by how typical they are, next to a labelled image first), spread over the clusters of the pool within a batch (default)', usesPredictions: true, usesEmbeddings: true },
  { name: 'typical', description: 'the most typical image of the largest clusters that have the fewest labels (TypiClust)', usesPredictions: false, usesEmbeddings: true },
  { name: 'multilevel-entropy', description: 'weighted sum over tree levels of the normalised entropy of the level distribution, times typicality³; a batch is drawn with odds ∝ that score', usesPredictions: true, usesEmbeddings: true },
  { name: 'multilevel-margin', description: 'weighted sum over tree levels of one minus the gap between the two most likely nodes, times typicality³; a batch is drawn with odds ∝ that score', usesPredictions: true, usesEmbeddings: true },
  { name: 'entropy', description: 'normalised entropy of the leaf distribution', usesPredictions: true, usesEmbeddings: false },
  { name: 'margin', description: 'one minus the gap between the two most likely leaves', usesPredictions: true, usesEmbeddings: false },
  { name: 'least-confidence', description: 'one minus the probability of the most likely leaf', usesPredictions: true, usesEmbeddings: false },
  { name: 'random', description: 'uniformly at random (the baseline)', usesPredictions: false, usesEmbeddings: false },
];
export const STRATEGY_NAMES: readonly StrategyName[] = STRATEGIES.map((s) => s.name);
export const DEFAULT_STRATEGY: StrategyName = 'hybrid';

export function isStrategy(name: string): name is StrategyName {
  return (STRATEGY_NAMES as readonly string[]).includes(name);
}

export interface SelectionOptions {
  /** w_L per level (level 1 first), or leafward γ: w_L ∝ γ^(L−1). Default: uniform. */
  levelWeights?: readonly number[] | { leafward: number };
  /** Hybrid: labels per leaf below which a batch is all typical. */
  hybridSwitchLabelsPerLeaf?: number;
  /** Hybrid: labels per leaf over which the typical share of a batch falls linearly to zero (0: a hard switch). */
  hybridBlendLabelsPerLeaf?: number;
  /** Hybrid: the uncertainty measure after the switch ('bald': what a label would teach the model, its own doubt rather than the data's; laplace.ts). */
  hybridMeasure?: UncertaintyMeasure | 'bald';
  /**
   * Hybrid's 'bald': the decision it is the information of is between an image's this many likeliest
   * leaves and the rest of its mass (2: the top two alone, in closed form; more: Monte Carlo).
   */
  baldClasses?: number;
  /** Hybrid's 'bald': the prior precision of its Laplace posterior (1/C in scikit-learn's terms). */
  baldPriorPrecision?: number;
  /** Hybrid: the batch after the switch is picked among the top (this × batch) most uncertain. */
  hybridCandidates?: number;
  /**
   * Hybrid after the switch: how the batch is thinned from the top (c × batch) by the measure:
   * 'farthest' (farthest-first traversal on the embeddings) or 'clusters' (Cluster-Margin,
   * Citovsky et al. 2021: the candidates grouped by typical's clusters of the pool, the clusters
   * with the fewest candidates give first, each its most uncertain, in rounds).
   */
  hybridDiversity?: 'farthest' | 'clusters';
  /**
   * Hybrid after the switch: the measure times (typicality relative to its cluster's best, typical's
   * clusters)^this, so that an uncertain outlier counts for less than an uncertain typical image
   * (information density; 0: off).
   */
  hybridDensity?: number;
  /**
   * Hybrid after the switch: the score of an image that no labelled image's δ-ball holds (the
   * cover graph's; coverage.ts) is multiplied by this, so that the batch is taken among the uncertain
   * images next to a label first (1: off; only where the pool has a cover graph).
   */
  hybridUncoveredWeight?: number;
  /** Hybrid: farthest-first also keeps away from the labelled items, not only from the batch. */
  hybridAvoidLabelled?: boolean;
  /**
   * Multi-level strategies: below this many labels per leaf a batch (and the queue's order) is the
   * hybrid's representative one: a model that has seen a label or two per leaf makes every
   * uncertainty measure pick outliers (0: the measure from the first label on).
   */
  multilevelWarmStart?: number;
  /** Multi-level strategies: top-(this × batch) by the measure, thinned by farthest-first (1: plain top-K). */
  multilevelCandidates?: number;
  /** Multi-level strategies: the measure times (typicality relative to its cluster's best, typical's clusters)^this (0: off). */
  densityWeight?: number;
  /**
   * Multi-level strategies: pick per cluster of the pool (TypiClust's clusters) instead of the
   * global top-K: 'labels' visits the clusters with the fewest labels first, 'mass' the clusters
   * with the most uncertainty per label; '' (off) is the plain top-K.
   */
  multilevelStratify?: '' | 'labels' | 'mass';
  /** Hybrid after the switch: the same per-cluster picks with the hybrid measure instead of farthest-first over the top (c × batch). */
  hybridStratify?: '' | 'labels' | 'mass';
  /**
   * Multi-level strategies: stochastic picks, each candidate drawn with odds ∝ measure^this
   * (power acquisition, Kirsch et al. 2023; Efraimidis–Spirakis keys), instead of the top by the
   * measure (0: off). With stratification it orders the candidates within each cluster.
   */
  multilevelPower?: number;
  /** Stratified picks: within a cluster, the measure times (typicality relative to the cluster's best)^this. */
  stratifyDensity?: number;
  /** Typical: at most this many clusters (TypiClust caps them too: tiny clusters have no "typical"). */
  typicalMaxClusters?: number;
  /** Typical: clusters smaller than this are never picked from. */
  typicalMinClusterSize?: number;
  /** Typical: k of the k-nearest-neighbour typicality. */
  typicalNeighbours?: number;
  /**
   * Hybrid's representative phase: 'cover' (ProbCover: the image whose δ-ball holds the most
   * images no labelled image covers; coverage.ts; typical for what is left once the dense parts are
   * covered and on pools over COVER_MAX_ROWS) or 'typical' (TypiClust).
   */
  hybridRepresentative?: 'typical' | 'cover';
  /**
   * Cover: a candidate's gain × (1 + the batch's picks so far with its predicted leaf)^−this, so
   * that a batch spreads over the classes the model sees (0: off; needs predictions).
   */
  coverBalance?: number;
  /** Cover: the share of δ-balls that hold one k-means cluster only (sets δ; ProbCover's 0.95 gives balls of a point or two on the dev data). */
  coverPurity?: number;
  /** Seed of the k-means initialisation. */
  clusterSeed?: number;
}

/** The tuned defaults (docs/al-tuning.md). */
export const DEFAULT_SELECTION: Required<Omit<SelectionOptions, 'levelWeights'>> & { levelWeights: readonly number[] | { leafward: number } } = {
  levelWeights: { leafward: 1 },
  hybridSwitchLabelsPerLeaf: 8,
  hybridBlendLabelsPerLeaf: 0,
  hybridMeasure: 'bald',
  baldPriorPrecision: 10,
  baldClasses: 2,
  hybridCandidates: 10,
  hybridAvoidLabelled: false,
  hybridDiversity: 'clusters',
  hybridDensity: 1,
  hybridUncoveredWeight: 0.1,
  multilevelWarmStart: 8,
  multilevelCandidates: 1,
  densityWeight: 3,
  multilevelStratify: '',
  stratifyDensity: 0,
  multilevelPower: 1,
  hybridStratify: '',
  typicalMaxClusters: 500,
  typicalMinClusterSize: 5,
  typicalNeighbours: 10,
  hybridRepresentative: 'cover',
  coverPurity: 0.5,
  coverBalance: 0.5,
  clusterSeed: 1,
};

/** The names under which the VS Code side exposes the queue settings (package.json `contributes.configuration`). */
export const QUEUE_SETTINGS = {
  strategy: 'taxon.queue.strategy',
  levelWeights: 'taxon.queue.levelWeights',
  hybridSwitchLabelsPerLeaf: 'taxon.queue.hybridSwitchLabelsPerLeaf',
  hybridMeasure: 'taxon.queue.hybridMeasure',
  hybridCandidates: 'taxon.queue.hybridCandidates',
  hybridRepresentative: 'taxon.queue.hybridRepresentative',
  hybridDiversity: 'taxon.queue.hybridDiversity',
  hybridDensity: 'taxon.queue.hybridDensity',
  hybridUncoveredWeight: 'taxon.queue.hybridUncoveredWeight',
  multilevelWarmStart: 'taxon.queue.multilevelWarmStartLabelsPerLeaf',
} as const;

/**
 * Every row of the pool in ascending order (ctx.pool, or the labelled rows and the candidates):
 * clusterings and the cover graph are built over it, so that their cache stays valid as labels
 * move rows between the two sets (and, with ctx.pool, as a session skips rows).
 */
function poolOrder(ctx: SelectionContext): Int32Array {
  return ctx.pool ?? Int32Array.from([...Array.from(ctx.labelled), ...Array.from(ctx.candidates)]).sort();
}

/** position[row] = the row's index in `sorted` (ascending rows), by a dense array (a pool of rows is 0 … n−1 or close to it). */
function positions(sorted: Int32Array): Int32Array {
  const out = new Int32Array(sorted.length ? sorted[sorted.length - 1] + 1 : 0).fill(-1);
  for (let i = 0; i < sorted.length; i++) out[sorted[i]] = i;
  return out;
}

/** Which rows (in order): two sets of the same size must not share a cached clustering or graph. */
function fingerprint(rows: ArrayLike<number>): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < rows.length; i++) h = Math.imul(h ^ rows[i], 0x01000193) >>> 0;
  return `${rows.length}:${h.toString(16)}`;
}

/**
 * Clusterings are a pure function of (embeddings, k, seed): kept between rounds and strategies, and
 * with a `store` between sessions too (clusterStore.ts: the same pool opened again reads them).
 */
export class ClusterCache {
  private readonly entries = new Map<string, { clustering: Clustering; typicality: Float64Array }>();
  private readonly graphs = new Map<string, CoverGraph>();
  private readonly prints = new WeakMap<Features, string>();
  constructor(private readonly store?: ClusterStore) {}

  /** The δ-ball graph of `rows` (positions in `rows`), k-means pseudo-classes = `clusters`. */
  cover(X: Features, rows: ArrayLike<number>, clusters: number, seed: number, purity: number): CoverGraph {
    const key = `${clusters}:${seed}:${purity}:${fingerprint(rows)}`;
    let g = this.graphs.get(key);
    if (!g) this.graphs.set(key, (g = this.stored(`cover:${key}`, X, (b) => readGraph(b, rows.length), writeGraph, () => coverGraph(X, rows, clusters, { seed, purity }))));
    return g;
  }

  /** `compute()`, or what the store holds for this key and X (written there after computing). */
  private stored<T>(key: string, X: Features, read: (b: Unpacked) => T | undefined, write: (v: T) => Unpacked, compute: () => T): T {
    if (!this.store) return compute();
    let print = this.prints.get(X);
    if (!print) this.prints.set(X, (print = dataFingerprint(X)));
    const full = `${key}:${print}`;
    const bytes = this.store.read(full);
    const unpacked = bytes && unpack(bytes, full);
    const found = unpacked && read(unpacked);
    if (found) return found;
    const value = compute();
    const { numbers, arrays } = write(value);
    this.store.write(full, pack(full, numbers, arrays));
    return value;
  }
  private readonly posteriors = new WeakMap<Features, LaplacePosterior>();
  /** The Laplace posterior over X's rows (one per geometry; it tracks its labelled rows itself). */
  posterior(X: Features, leaves: ArrayLike<number>, priorPrecision: number, classes = 2): LaplacePosterior {
    let p = this.posteriors.get(X);
    if (!p || p.leaves !== leaves || p.priorPrecision !== priorPrecision || p.classes !== classes) this.posteriors.set(X, (p = new LaplacePosterior(X, leaves, priorPrecision, classes)));
    return p;
  }
  get(X: Features, rows: ArrayLike<number>, k: number, seed: number, neighbours: number): { clustering: Clustering; typicality: Float64Array } {
    const key = `${k}:${seed}:${neighbours}:${fingerprint(rows)}`;
    let e = this.entries.get(key);
    if (!e) {
      e = this.stored(`kmeans:${key}`, X, (b) => readClustering(b, rows.length, X.dim), writeClustering, () => {
        const clustering = kmeans(X, rows, k, { seed });
        return { clustering, typicality: typicality(X, rows, clustering.assignment, clustering.k, neighbours) };
      });
      this.entries.set(key, e);
    }
    return e;
  }
}

function writeGraph(g: CoverGraph): Unpacked {
  return { numbers: [g.delta2], arrays: [g.offsets, g.neighbours] };
}

/** A stored cover graph of n positions, or undefined where it does not check out. */
function readGraph(b: Unpacked, n: number): CoverGraph | undefined {
  const [offsets, neighbours] = b.arrays;
  const delta2 = b.numbers[0];
  if (b.numbers.length !== 1 || !(delta2 >= 0) || !(offsets instanceof Int32Array) || !(neighbours instanceof Int32Array) || offsets.length !== n + 1) return undefined;
  if (offsets[0] !== 0 || offsets[n] !== neighbours.length) return undefined;
  for (let i = 0; i < n; i++) if (offsets[i + 1] < offsets[i]) return undefined;
  for (const v of neighbours) if (!(v >= 0 && v < n)) return undefined;
  return { delta2, offsets, neighbours };
}

function writeClustering(e: { clustering: Clustering; typicality: Float64Array }): Unpacked {
  return { numbers: [e.clustering.k, e.clustering.iterations], arrays: [e.clustering.assignment, e.clustering.centres, e.typicality] };
}

/** A stored clustering of n rows in d dimensions with its typicality, or undefined where it does not check out. */
function readClustering(b: Unpacked, n: number, d: number): { clustering: Clustering; typicality: Float64Array } | undefined {
  const [k, iterations] = b.numbers;
  const [assignment, centres, typ] = b.arrays;
  if (b.numbers.length !== 2 || !Number.isInteger(k) || k < 1 || !(assignment instanceof Int32Array) || !(centres instanceof Float32Array) || !(typ instanceof Float64Array)) return undefined;
  if (assignment.length !== n || centres.length !== k * d || typ.length !== n) return undefined;
  for (const a of assignment) if (!(a >= 0 && a < k)) return undefined;
  for (const t of typ) if (!(t >= 0)) return undefined;
  return { clustering: { k, iterations, assignment, centres }, typicality: typ };
}

/** What a strategy looks at. Rows index `embeddings` and `marginals` (the whole pool). */
export interface SelectionContext {
  taxonomy: Taxonomy;
  /** The unlabelled rows to choose from. */
  candidates: ArrayLike<number>;
  /** The labelled rows of the same pool. */
  labelled: ArrayLike<number>;
  /** The strategies' geometry per row (geometry.ts: typicality, clusters, coverage, farthest-first). */
  embeddings?: Features;
  /**
   * The classifier inputs per row on a few principal directions, on which BALD's Laplace posterior
   * of a linear softmax is built (geometry.ts POSTERIOR_DIMS); default: `embeddings`.
   */
  posteriorFeatures?: Features;
  /** Per-row marginals (the uncertainty strategies, hybrid). */
  marginals?: MarginalsMatrix;
  options?: SelectionOptions;
  /** Reused k-means results (the simulation shares one across rounds, strategies and repeats). */
  clusters?: ClusterCache;
  levels?: LevelStructure;
  /**
   * Scores already computed in this ranking (the queue's scores and its first batch use the same
   * measure): the caller makes a new map per ranking, since marginals change between rankings.
   */
  memo?: Map<string, { candidates: ArrayLike<number>; scores: Float64Array }>;
  /**
   * Every row of the pool in ascending order, labelled and candidates included (a labelling
   * session's skipped rows too): the cover graph is built over these, so that skipping an image
   * does not build it again. Default: the labelled rows and the candidates.
   */
  pool?: Int32Array;
}

function resolved(ctx: SelectionContext) {
  const o = { ...DEFAULT_SELECTION, ...ctx.options };
  if (o.hybridRepresentative !== 'cover' && o.hybridRepresentative !== 'typical') throw new Error(`unknown representative phase ${JSON.stringify(o.hybridRepresentative)} (setting taxon.queue.hybridRepresentative); it is cover or typical`);
  if (o.hybridDiversity !== 'farthest' && o.hybridDiversity !== 'clusters') throw new Error(`unknown hybrid diversity ${JSON.stringify(o.hybridDiversity)} (setting taxon.queue.hybridDiversity); it is clusters or farthest`);
  if (o.hybridMeasure !== 'bald' && !UNCERTAINTY_MEASURES.includes(o.hybridMeasure)) throw new Error(`unknown hybrid measure ${JSON.stringify(o.hybridMeasure)} (setting taxon.queue.hybridMeasure); it is bald or one of ${UNCERTAINTY_MEASURES.join(', ')}`);
  if (!(Number.isInteger(o.baldClasses) && o.baldClasses >= 2)) throw new Error(`BALD's classes ${o.baldClasses} is not a whole number ≥ 2`);
  if (!(o.baldPriorPrecision > 0)) throw new Error(`BALD's prior precision ${o.baldPriorPrecision} is not a number > 0`);
  if (!(o.hybridDensity >= 0)) throw new Error(`hybrid density ${o.hybridDensity} is not a number ≥ 0 (setting taxon.queue.hybridDensity)`);
  if (!(o.hybridUncoveredWeight >= 0 && o.hybridUncoveredWeight <= 1)) throw new Error(`hybrid uncovered weight ${o.hybridUncoveredWeight} is not a number from 0 to 1 (setting taxon.queue.hybridUncoveredWeight)`);
  if (!(o.multilevelWarmStart >= 0)) throw new Error(`multi-level warm start ${o.multilevelWarmStart} is not a number ≥ 0 (setting taxon.queue.multilevelWarmStartLabelsPerLeaf)`);
  if (!(o.coverBalance >= 0)) throw new Error(`cover balance ${o.coverBalance} is not a number ≥ 0`);
  if (!(o.coverPurity > 0 && o.coverPurity <= 1)) throw new Error(`cover purity ${o.coverPurity} is outside (0, 1]`);
  const levels = ctx.levels ?? levelStructure(ctx.taxonomy);
  return { o, levels, weights: levelWeights(levels, o.levelWeights) };
}

function need<T>(value: T | undefined, strategy: StrategyName, what: string): T {
  if (value === undefined) throw new Error(`the ${strategy} strategy needs ${what}`);
  return value;
}

/** Per-candidate scores kept in ctx.memo under `key` for as long as the candidates are the same array. */
function remembered(ctx: SelectionContext, key: string, compute: () => Float64Array): Float64Array {
  const known = ctx.memo?.get(key);
  if (known && known.candidates === ctx.candidates) return known.scores;
  const scores = compute();
  ctx.memo?.set(key, { candidates: ctx.candidates, scores });
  return scores;
}

/**
 * Information density: scores[i] × (candidates[i]'s typicality relative to its cluster's best)^beta
 * (an uncertain outlier is worth less than an uncertain typical image); `scores` itself when off.
 */
function weighDensity(scores: Float64Array, ctx: SelectionContext, beta: number): Float64Array {
  if (!(beta > 0) || !ctx.embeddings) return scores;
  const typ = typicalScores(ctx, false);
  return Float64Array.from(scores, (v, i) => v * Math.pow(typ[i], beta));
}

/** The uncertainty of each candidate (out[i] for candidates[i]). */
function uncertainty(measure: UncertaintyMeasure, ctx: SelectionContext): Float64Array {
  return remembered(ctx, `${measure}:${ctx.options?.densityWeight ?? ''}`, () => measured(measure, ctx));
}

function measured(measure: UncertaintyMeasure, ctx: SelectionContext): Float64Array {
  const { o, levels, weights } = resolved(ctx);
  const M = need(ctx.marginals, measure as StrategyName, 'predictions (marginals)');
  const f = measureFunction(measure, levels, weights);
  const out = new Float64Array(ctx.candidates.length);
  for (let i = 0; i < out.length; i++) out[i] = f(M.data, ctx.candidates[i] * M.nodes);
  return measure.startsWith('multilevel') ? weighDensity(out, ctx, o.densityWeight) : out;
}

/**
 * Hybrid's uncertainty after the switch (out[i] for candidates[i]): its measure (without the
 * multi-level strategies' own density factor) times (typicality relative to its cluster's
 * best)^hybridDensity, times hybridUncoveredWeight where no labelled image's δ-ball holds the image.
 */
function hybridScores(ctx: SelectionContext): Float64Array {
  const { o } = resolved(ctx);
  return remembered(ctx, `hybrid:${o.hybridMeasure}:${o.baldClasses}:${o.hybridDensity}:${o.hybridUncoveredWeight}`, () =>
    weighUncovered(weighDensity(plainScores(o.hybridMeasure, ctx), ctx, o.hybridDensity), ctx, o.hybridUncoveredWeight),
  );
}

/**
 * `scores` (scores[i] for candidates[i]) times `weight` for the candidates that no labelled image's
 * δ-ball holds. Under a Laplace posterior BALD is largest where a linear model's weights are least
 * pinned down, away from the labelled images; on the dev data's tuning splits the uncertain images
 * next to a label taught the model more (docs/al-tuning.md, session 17). Unchanged where the pool
 * has no cover graph.
 */
function weighUncovered(scores: Float64Array, ctx: SelectionContext, weight: number): Float64Array {
  if (weight === 1) return scores;
  const c = coverInputs(ctx);
  if (!c) return scores;
  const covered = new Coverage(c.graph, c.labelled).covered;
  return Float64Array.from(scores, (v, i) => (covered[c.candidates[i]] ? v : v * weight));
}

/** A measure's scores without the multi-level strategies' density factor (out[i] for candidates[i]). */
function plainScores(measure: UncertaintyMeasure | 'bald', ctx: SelectionContext): Float64Array {
  return measure === 'bald' ? baldScores(ctx) : uncertainty(measure, { ...ctx, options: { ...ctx.options, densityWeight: 0 } });
}

/** BALD of each candidate's decision among its likeliest leaves (baldClasses; laplace.ts): what a label would teach a linear softmax on the posterior's features (the classifier inputs' leading directions) with the model's probabilities. */
function baldScores(ctx: SelectionContext): Float64Array {
  const X = ctx.posteriorFeatures ?? need(ctx.embeddings, 'hybrid', 'embeddings');
  const M = need(ctx.marginals, 'hybrid', 'predictions (marginals)');
  return posteriorOf(ctx, X).bald(M, ctx.labelled, ctx.candidates);
}

/** The pool's Laplace posterior, kept in the cluster cache between rankings (it is rebuilt as labels grow, laplace.ts). */
function posteriorOf(ctx: SelectionContext, X: Features): LaplacePosterior {
  const { o, levels } = resolved(ctx);
  return (ctx.clusters ?? new ClusterCache()).posterior(X, levels.leaves, o.baldPriorPrecision, o.baldClasses);
}

/** Whether the hybrid's next ranking reads the labelled rows' predictions (BALD after the switch, when its posterior is built again): a caller that lets them go stale refreshes them first. */
export function hybridReadsLabelled(ctx: SelectionContext): boolean {
  const { o } = resolved(ctx);
  return o.hybridMeasure === 'bald' && ctx.marginals !== undefined && ctx.embeddings !== undefined && hybridTypicalShare(ctx) < 1 && posteriorOf(ctx, ctx.posteriorFeatures ?? ctx.embeddings).stale(ctx.labelled);
}

/** Whether hybrid is still in its representative phase, and the typical share of a batch. */
export function hybridTypicalShare(ctx: SelectionContext): number {
  const { o } = resolved(ctx);
  const perLeaf = labelsPerLeaf(ctx);
  if (perLeaf < o.hybridSwitchLabelsPerLeaf) return 1;
  if (o.hybridBlendLabelsPerLeaf <= 0) return 0;
  return Math.max(0, 1 - (perLeaf - o.hybridSwitchLabelsPerLeaf) / o.hybridBlendLabelsPerLeaf);
}

/** Whether a multi-level strategy is still in its warm start (the hybrid's representative picks). */
function multilevelWarming(ctx: SelectionContext): boolean {
  const { o } = resolved(ctx);
  return labelsPerLeaf(ctx) < o.multilevelWarmStart;
}

/** Labels so far per leaf of the taxonomy: where the hybrid's switch and the multi-level warm start stand. */
function labelsPerLeaf(ctx: SelectionContext): number {
  return ctx.labelled.length / Math.max(1, (ctx.levels ?? levelStructure(ctx.taxonomy)).leaves.length);
}

/**
 * The per-item score the queue is sorted by (higher first), out[i] for candidates[i]. For the
 * uncertainty strategies it is the measure; for typical, the item's typicality relative to its
 * cluster's most typical, divided by 1 + the labels already in its cluster; for hybrid, typical's
 * score in the representative phase and the hybrid measure after (the multi-level strategies: the
 * same representative score during their warm start); for random, a seeded draw.
 */
export function scoreItems(strategy: StrategyName, ctx: SelectionContext, rand: () => number = seededRandom(1)): Float64Array {
  switch (strategy) {
    case 'random':
      return Float64Array.from({ length: ctx.candidates.length }, () => rand());
    case 'typical':
      return typicalScores(ctx);
    case 'hybrid': {
      // With no predictions yet (cold start) the queue can only be representative.
      return ctx.marginals === undefined || hybridTypicalShare(ctx) >= 1 ? representativeScores(ctx) : hybridScores(ctx);
    }
    case 'multilevel-entropy':
    case 'multilevel-margin':
      return multilevelWarming(ctx) ? representativeScores(ctx) : uncertainty(strategy, ctx);
    default:
      return uncertainty(strategy, ctx);
  }
}

/**
 * The queue's order (what `taxon rank` prints and the labelling session shows): the strategy's
 * first batch of `batch`, then every other candidate by score, ties in candidate order. Both draws
 * start from `seed`. `scores[i]` is candidates[i]'s score.
 */
export function queueOrder(strategy: StrategyName, ctx: SelectionContext, batch: number, seed = 1): { order: number[]; scores: Float64Array } {
  const memoised = { ...ctx, memo: ctx.memo ?? new Map() };
  const scores = scoreItems(strategy, memoised, seededRandom(seed));
  const first = selectBatch(strategy, memoised, Math.min(batch, ctx.candidates.length), seededRandom(seed));
  const inFirst = new Set(first);
  // a packed native sort rather than a comparator's (100,000 items in milliseconds)
  const rest = sortedIndices(scores)
    .map((i) => ctx.candidates[i])
    .filter((r) => !inFirst.has(r));
  return { order: [...first, ...rest], scores };
}

/** Picks `batchSize` candidate rows, in the order a curator should see them. */
export function selectBatch(strategy: StrategyName, ctx: SelectionContext, batchSize: number, rand: () => number = seededRandom(1)): number[] {
  const B = Math.min(batchSize, ctx.candidates.length);
  if (B <= 0) return [];
  switch (strategy) {
    case 'random': {
      const pool = Array.from(ctx.candidates);
      drawToFront(pool, B, rand);
      return pool.slice(0, B);
    }
    case 'typical':
      return typicalBatch(ctx, B);
    case 'hybrid':
      return hybridBatch(ctx, B);
    case 'multilevel-entropy':
    case 'multilevel-margin': {
      const { o } = resolved(ctx);
      if (multilevelWarming(ctx)) return representativeBatch(ctx, B);
      if (o.multilevelStratify && ctx.embeddings) return stratifiedBatch(strategy, ctx, B, o.multilevelStratify, o.stratifyDensity, o.multilevelPower, rand);
      if (o.multilevelPower > 0) return topK(ctx.candidates, powerKeys(uncertainty(strategy, ctx), o.multilevelPower, rand), B);
      return o.multilevelCandidates > 1 && ctx.embeddings ? diverseTop(strategy, uncertainty(strategy, ctx), ctx, B, o.multilevelCandidates, []) : topK(ctx.candidates, uncertainty(strategy, ctx), B);
    }
    default:
      return topK(ctx.candidates, uncertainty(strategy, ctx), B);
  }
}

/** The top-(c·B) candidates by `u` (u[i] for candidates[i]), thinned to B by farthest-first traversal (ties to the more uncertain). */
function diverseTop(strategy: StrategyName, u: Float64Array, ctx: SelectionContext, B: number, c: number, anchors: ArrayLike<number>): number[] {
  const X = need(ctx.embeddings, strategy, 'embeddings');
  const pool = topIndices(u, Math.max(B, Math.round(c * B)));
  return farthestFirst(
    X,
    pool.map((i) => ctx.candidates[i]),
    B,
    anchors,
    pool.map((i) => u[i]),
  );
}

/** The k candidates with the highest scores, highest first (ties: the earlier candidate). */
export function topK(candidates: ArrayLike<number>, scores: Float64Array, k: number): number[] {
  const order = topIndices(scores, k);
  return order.map((i) => candidates[i]);
}

/** Indices of the k largest scores, largest first (stable). */
export function topIndices(scores: ArrayLike<number>, k: number): number[] {
  const n = scores.length;
  k = Math.min(k, n);
  if (k <= 0) return [];
  if (k * 8 < n) {
    // Threshold from a partial sort of a copy, then a stable sort of the survivors.
    const copy = Float64Array.from(scores as ArrayLike<number>);
    const kth = quickselect(copy, n - k);
    const above: number[] = [];
    const equal: number[] = [];
    for (let i = 0; i < n; i++) {
      if (scores[i] > kth) above.push(i);
      else if (scores[i] === kth) equal.push(i);
    }
    const picked = above.concat(equal.slice(0, k - above.length));
    return picked.sort((a, b) => scores[b] - scores[a] || a - b);
  }
  return sortedIndices(scores).slice(0, k);
}

/**
 * Every index, by score descending (ties: the lower index). Scores in [0, 1] (all of Taxon's)
 * are packed with their index into one double, quantised to 2⁻³² (closer scores count as ties),
 * and sorted natively: 100,000 items in milliseconds instead of a comparator sort's hundreds.
 */
export function sortedIndices(scores: ArrayLike<number>): number[] {
  const n = scores.length;
  let packable = n <= 1 << 20;
  for (let i = 0; i < n && packable; i++) if (!(scores[i] >= 0 && scores[i] <= 1)) packable = false;
  if (!packable) {
    const idx = Array.from({ length: n }, (_, i) => i);
    return idx.sort((a, b) => scores[b] - scores[a] || a - b);
  }
  const keys = new Float64Array(n);
  const top = 4294967295;
  for (let i = 0; i < n; i++) keys[i] = (top - Math.round(scores[i] * top)) * 1048576 + i;
  keys.sort();
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = keys[i] % 1048576;
  return out;
}

/** The value that would sit at index `k` of the ascending sort (rearranges `a`). */
function quickselect(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

interface TypicalState {
  /** All rows of the pool (labelled first, then candidates). */
  rows: number[];
  clusterOf: Int32Array;
  typ: Float64Array;
  size: Int32Array;
  labelledIn: Int32Array;
  k: number;
}

function typicalState(ctx: SelectionContext, batchSize: number): TypicalState {
  const { o } = resolved(ctx);
  const X = need(ctx.embeddings, 'typical', 'embeddings');
  const rows = [...Array.from(ctx.labelled), ...Array.from(ctx.candidates)];
  // TypiClust: |labelled| + B clusters, capped (clusters of a handful of images have no typical
  // member), rounded up to a multiple of 100 so that one clustering serves the next hundred labels
  // of a curator instead of being redone after each (batches of 100 or 200 are unaffected).
  // On a small pool, at most one cluster per typicalMinClusterSize images: singleton clusters have
  // no neighbours, so no typicality (every score would be 0).
  const perCluster = Math.max(1, o.typicalMinClusterSize);
  const k = Math.max(1, Math.min(Math.ceil((ctx.labelled.length + batchSize) / CLUSTER_STEP) * CLUSTER_STEP, o.typicalMaxClusters, Math.floor(rows.length / perCluster)));
  const sorted = poolOrder(ctx);
  const cache = ctx.clusters ?? new ClusterCache();
  const { clustering, typicality: typ } = cache.get(X, sorted, k, o.clusterSeed, o.typicalNeighbours);
  const position = positions(sorted);
  const clusterOf = new Int32Array(rows.length);
  const typOf = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    const p = position[r];
    clusterOf[i] = clustering.assignment[p];
    typOf[i] = typ[p];
  });
  const size = new Int32Array(clustering.k);
  const labelledIn = new Int32Array(clustering.k);
  for (let i = 0; i < rows.length; i++) {
    size[clusterOf[i]]++;
    if (i < ctx.labelled.length) labelledIn[clusterOf[i]]++;
  }
  return { rows, clusterOf, typ: typOf, size, labelledIn, k: clustering.k };
}

/** Typical's queue score; without `scarcity`, the plain typicality relative to the cluster's best (the multi-level strategies' density factor). */
function typicalScores(ctx: SelectionContext, scarcity = true): Float64Array {
  const s = typicalState(ctx, DEFAULT_BATCH_FOR_SCORES);
  const best = new Float64Array(s.k);
  for (let i = 0; i < s.rows.length; i++) if (s.typ[i] > best[s.clusterOf[i]]) best[s.clusterOf[i]] = s.typ[i];
  const L = ctx.labelled.length;
  const out = new Float64Array(ctx.candidates.length);
  for (let i = 0; i < out.length; i++) {
    const c = s.clusterOf[L + i];
    out[i] = best[c] > 0 ? s.typ[L + i] / best[c] / (scarcity ? 1 + s.labelledIn[c] : 1) : 0;
  }
  return out;
}
const DEFAULT_BATCH_FOR_SCORES = 200;
const CLUSTER_STEP = 100;

/**
 * TypiClust's batch: repeatedly take the cluster with the fewest labels (and picks so far), the
 * largest among those, and pick its most typical unpicked candidate. Clusters: |labelled| + the
 * batch, at least |labelled| + 200.
 */
function typicalBatch(ctx: SelectionContext, B: number): number[] {
  const { o } = resolved(ctx);
  // a small batch (the queue's first 50) clusters as the queue's scores do, so one clustering serves both
  const s = typicalState(ctx, Math.max(B, DEFAULT_BATCH_FOR_SCORES));
  const L = ctx.labelled.length;
  const byCluster: number[][] = Array.from({ length: s.k }, () => []);
  for (let i = L; i < s.rows.length; i++) byCluster[s.clusterOf[i]].push(i);
  for (const list of byCluster) list.sort((a, b) => s.typ[b] - s.typ[a] || a - b);
  const next = new Int32Array(s.k);
  const taken = s.labelledIn.slice();
  const out: number[] = [];
  let minSize = o.typicalMinClusterSize;
  while (out.length < B) {
    let best = -1;
    for (let c = 0; c < s.k; c++) {
      if (next[c] >= byCluster[c].length || s.size[c] < minSize) continue;
      if (best < 0 || taken[c] < taken[best] || (taken[c] === taken[best] && s.size[c] > s.size[best])) best = c;
    }
    if (best < 0) {
      if (minSize <= 1) break;
      minSize = 1; // only small clusters are left: take from them too
      continue;
    }
    out.push(s.rows[byCluster[best][next[best]++]]);
    taken[best]++;
  }
  return out;
}

/**
 * Hybrid's representative picks: typical's, or with `hybridRepresentative: 'cover'` greedy
 * coverage of the pool's δ-balls first and typical's for the rest.
 */
function representativeBatch(ctx: SelectionContext, B: number): number[] {
  const c = coverInputs(ctx);
  if (!c) return typicalBatch(ctx, B);
  const picked = coverBatch(c.graph, c.labelled, c.candidates, B, coverBalance(ctx)).map((p) => c.sorted[p]);
  if (picked.length >= B) return picked;
  const taken = new Set(picked);
  return picked.concat(typicalBatch({ ...ctx, candidates: Array.from(ctx.candidates).filter((r) => !taken.has(r)), labelled: [...Array.from(ctx.labelled), ...picked] }, B - picked.length));
}

/** Cover's per-batch class balance: each candidate's predicted leaf (where predictions exist and coverBalance > 0). */
function coverBalance(ctx: SelectionContext): { classOf: Int32Array; power: number } | undefined {
  const { o, levels } = resolved(ctx);
  const M = ctx.marginals;
  if (!M || o.coverBalance <= 0) return undefined;
  const leaves = levels.leaves;
  const classOf = Int32Array.from(ctx.candidates, (r) => {
    let best = -1;
    let p = 0;
    for (let k = 0; k < leaves.length; k++) {
      const v = M.data[r * M.nodes + leaves[k]];
      if (v > p) {
        p = v;
        best = k;
      }
    }
    return best;
  });
  return { classOf, power: o.coverBalance };
}

/** The cover graph of the whole pool and the labelled rows and candidates as its positions; undefined where the hybrid is not set to cover (or the pool is too large for it). */
function coverInputs(ctx: SelectionContext): { graph: CoverGraph; sorted: Int32Array; labelled: number[]; candidates: number[] } | undefined {
  const { o, levels } = resolved(ctx);
  const X = ctx.embeddings;
  const n = ctx.pool?.length ?? ctx.labelled.length + ctx.candidates.length;
  if (o.hybridRepresentative !== 'cover' || !X || n > COVER_MAX_ROWS) return undefined;
  const sorted = poolOrder(ctx);
  const position = positions(sorted);
  const graph = (ctx.clusters ?? new ClusterCache()).cover(X, sorted, levels.leaves.length, o.clusterSeed, o.coverPurity);
  return { graph, sorted, labelled: Array.from(ctx.labelled, (r) => position[r]), candidates: Array.from(ctx.candidates, (r) => position[r]) };
}

/**
 * The hybrid's queue score in the representative phase, in the order its batch takes them: with
 * cover, an item whose ball gains more than itself scores 0.5–1 by its gain relative to the best
 * ball's, the others below 0.5 (half the best's share: 0 for a covered item); where no ball gains
 * more than itself (a small or covered pool), typical's score. (Typical's clustering is not
 * computed for the tail: it changes with the labels and costs seconds on a large pool.)
 */
function representativeScores(ctx: SelectionContext): Float64Array {
  const c = coverInputs(ctx);
  if (!c) return typicalScores(ctx);
  const gain = new Coverage(c.graph, c.labelled).gain;
  let best = 1;
  for (const p of c.candidates) best = Math.max(best, gain[p]);
  if (best <= 1) return typicalScores(ctx);
  return Float64Array.from(c.candidates, (p) => (gain[p] > 1 ? 0.5 + (0.5 * (gain[p] - 1)) / (best - 1) : (0.5 * gain[p]) / best));
}

/** Efraimidis–Spirakis keys: the top k by key are a weighted draw without replacement, weights score^power. */
function powerKeys(scores: Float64Array, power: number, rand: () => number): Float64Array {
  const keys = new Float64Array(scores.length);
  for (let i = 0; i < keys.length; i++) keys[i] = Math.log(Math.max(rand(), 1e-300)) / Math.max(Math.pow(scores[i], power), 1e-300);
  return keys;
}

/**
 * Uncertainty per cluster: the clusters of typical (|labelled| + B, capped) are visited in turn
 * and each gives its most uncertain unpicked candidate (times its typicality^β). 'labels': the
 * cluster with the fewest labels and picks so far first (the largest among ties), as TypiClust;
 * 'mass': the cluster whose summed uncertainty per (1 + labels + picks) is highest.
 */
function stratifiedBatch(measure: UncertaintyMeasure | 'bald', ctx: SelectionContext, B: number, order: 'labels' | 'mass', beta: number, power = 0, rand: () => number = seededRandom(1)): number[] {
  const s = typicalState(ctx, B);
  const u = plainScores(measure, ctx);
  const L = ctx.labelled.length;
  const best = new Float64Array(s.k);
  for (let i = 0; i < s.rows.length; i++) if (s.typ[i] > best[s.clusterOf[i]]) best[s.clusterOf[i]] = s.typ[i];
  const score = new Float64Array(u.length);
  const mass = new Float64Array(s.k);
  const byCluster: number[][] = Array.from({ length: s.k }, () => []);
  for (let i = 0; i < u.length; i++) {
    const c = s.clusterOf[L + i];
    score[i] = u[i] * (beta > 0 && best[c] > 0 ? Math.pow(s.typ[L + i] / best[c], beta) : 1);
    mass[c] += u[i];
    byCluster[c].push(i);
  }
  if (power > 0) score.set(powerKeys(score, power, rand));
  for (const list of byCluster) list.sort((a, b) => score[b] - score[a] || a - b);
  const next = new Int32Array(s.k);
  const taken = s.labelledIn.slice();
  const out: number[] = [];
  while (out.length < B) {
    let pick = -1;
    let pickKey = -Infinity;
    for (let c = 0; c < s.k; c++) {
      if (next[c] >= byCluster[c].length) continue;
      const key = order === 'mass' ? mass[c] / (1 + taken[c]) : -taken[c] * 1e9 + s.size[c];
      if (key > pickKey) {
        pick = c;
        pickKey = key;
      }
    }
    if (pick < 0) break;
    out.push(ctx.candidates[byCluster[pick][next[pick]++]]);
    taken[pick]++;
  }
  return out;
}

/**
 * Hybrid: a representative share of the batch (all of it while labels are few), the rest the
 * top-(c·B) candidates by the hybrid measure, spread by Cluster-Margin over the pool's clusters
 * (or thinned by farthest-first traversal on the embeddings) so that a batch holds no
 * near-duplicates.
 */
function hybridBatch(ctx: SelectionContext, B: number): number[] {
  const { o } = resolved(ctx);
  const share = ctx.marginals === undefined ? 1 : hybridTypicalShare(ctx);
  const nTypical = Math.round(share * B);
  const out = nTypical > 0 ? representativeBatch(ctx, nTypical) : [];
  if (out.length >= B) return out;
  const picked = new Set(out);
  const rest = out.length ? Array.from(ctx.candidates).filter((r) => !picked.has(r)) : ctx.candidates;
  const anchors = o.hybridAvoidLabelled ? [...Array.from(ctx.labelled), ...out] : out;
  if (o.hybridStratify && ctx.embeddings) {
    return out.concat(stratifiedBatch(o.hybridMeasure, { ...ctx, candidates: rest, labelled: [...Array.from(ctx.labelled), ...out] }, B - out.length, o.hybridStratify, o.stratifyDensity));
  }
  const restCtx = { ...ctx, candidates: rest };
  const n = B - out.length;
  const c = o.hybridCandidates;
  if (o.hybridDiversity === 'clusters') {
    const clusterCtx = { ...restCtx, labelled: [...Array.from(ctx.labelled), ...out] };
    return out.concat(clusterMarginTop(hybridScores(clusterCtx), clusterCtx, n, c));
  }
  return out.concat(diverseTop('hybrid', hybridScores(restCtx), restCtx, n, c, anchors));
}

/** Cluster-Margin: the top-(c·B) candidates by `u` (u[i] for candidates[i]) grouped by typical's clusters of the pool; the clusters with the fewest candidates give first, each its most uncertain, in rounds. */
function clusterMarginTop(u: Float64Array, ctx: SelectionContext, B: number, c: number): number[] {
  // the clustering the queue's scores and typical's batches use (one k-means serves them all)
  const s = typicalState(ctx, Math.max(B, DEFAULT_BATCH_FOR_SCORES));
  const pool = topIndices(u, Math.max(B, Math.round(c * B)));
  const L = ctx.labelled.length;
  const groups = new Map<number, number[]>();
  for (const i of pool) {
    const k = s.clusterOf[L + i];
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  }
  const lists = [...groups.values()].sort((a, b) => a.length - b.length || a[0] - b[0]);
  const out: number[] = [];
  for (let round = 0; out.length < B; round++) {
    let any = false;
    for (const g of lists) {
      if (round >= g.length) continue;
      any = true;
      out.push(ctx.candidates[g[round]]);
      if (out.length >= B) break;
    }
    if (!any) break;
  }
  return out;
}
