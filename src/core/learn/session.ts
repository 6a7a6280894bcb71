/**
 * A labelling session on one dataset: embeddings, the classifiers, a prediction for every item
 * and the queue of unlabelled items, kept in memory so that a new label retrains only the
 * classifiers it touches and re-ranks without reloading anything. Runs in a worker thread.
 *
 * The queue is ordered by a selection strategy (`taxon.queue.strategy`, default hybrid), like
 * `taxon rank`: its first batch in the order `selectBatch` picks it (diverse, representative for
 * hybrid and typical), the rest by score.
 */
import type { Dataset } from '../dataset';
import { DatasetError } from '../diagnostics';
import { loadDataset } from '../formats';
import { ROOT, type Taxonomy } from '../taxonomy';
import { affectedParents } from './hierarchy';
import { pcaProjection } from './clustering';
import { POSTERIOR_DIMS, strategyGeometry } from './geometry';
import type { InferenceMode, Prediction } from './inference';
import { deepest, TaxonModel } from './model';
import { datasetStore } from './clusterStore';
import { ClusterCache, DEFAULT_STRATEGY, hybridReadsLabelled, queueOrder, type SelectionContext, type SelectionOptions, type StrategyName, STRATEGIES } from './selection';
import { softmaxRows, type Features } from './softmax';
import { softmaxRowsOnHelper } from './parallel';
import { levelStructure, type LevelStructure, type MarginalsMatrix } from './uncertainty';
import { labelledEmbeddings, type LabelledEmbeddings, type LearningPaths, savedModel } from './workflow';

export interface QueueEntry {
  row: number;
  image: string;
  score: number;
}

export interface ItemDetails {
  image: string;
  score: number;
  /** Predicted path: node id per level with its marginal. */
  predicted: Array<{ node: number; p: number }>;
  /** Levels of the predicted path whose marginal reaches τ. */
  confidentDepth: number;
  /** Top alternative nodes (leaves, or nodes where prediction stops) by marginal, best first. */
  alternatives: Array<{ node: number; p: number }>;
  /** The item's current label (deepest), if any. */
  current?: number;
}

export interface RetrainOutcome {
  /** Parents whose classifiers were refitted (ROOT = the top level). */
  retrained: number[];
  millis: number;
  /** Where the time went: refitting the classifiers, refreshing the predictions, ranking the queue. */
  phases?: { retrainMs: number; predictMs: number; rankMs: number };
}

export interface SessionOptions extends LearningPaths {
  inference?: InferenceMode;
  /** How the queue is ordered (default hybrid). */
  strategy?: StrategyName;
  selection?: SelectionOptions;
  /** Size of the queue's first, diverse batch (default 50). */
  batch?: number;
}

function checkedStrategy(strategy: string): StrategyName {
  if (!STRATEGIES.some((s) => s.name === strategy)) throw new Error(`unknown queue strategy ${JSON.stringify(strategy)} (setting taxon.queue.strategy); it is one of ${STRATEGIES.map((s) => s.name).join(', ')}`);
  return strategy as StrategyName;
}

/** A retrained head is recomputed for a row that reaches it with at least this probability (later, if it gets there). */
const REACH = 1e-2;

/** A row's prediction is decoded again once its classifiers' outputs have moved this much probability mass. */
const REDECODE_MASS = 3e-3;


export class LabelingSession {
  private readonly X: Features;
  private predictions: Prediction[];
  /** Every row's marginals (rows × taxonomy nodes), what the uncertainty strategies read. */
  private readonly marginals: MarginalsMatrix & { data: Float64Array };
  /** Each row's score under the strategy at the last ranking. */
  private readonly scores: Float64Array;
  /** Unlabelled rows in queue order at the last ranking (rows labelled or skipped since are passed over). */
  private order: number[] = [];
  private readonly rowOf = new Map<string, number>();
  private readonly skipped = new Set<number>();
  /** Parents touched by labels since the last retrain. */
  private readonly pending = new Set<number>();
  private readonly levels: LevelStructure;
  /** The pool's clusterings and cover graph, kept in `<cache folder>/selection/` for the next session on the same pool. */
  private readonly clusters: ClusterCache;
  private poolRows?: Int32Array;
  /** Every row's classifier outputs P(child | parent) and untrained-parent flags, kept so a retrain recomputes only the heads it changed. */
  private readonly cond: Float64Array[];
  private readonly stop: Uint8Array[];
  /** LCPN: the retrain count each head of each row was computed at (heads × rows, head-major), against `headVersion`. */
  private readonly rowHeadVersion: Int32Array;
  private readonly headVersion: Int32Array;
  private readonly headIndex = new Map<number, number>();
  /** Parent per node id (−1 for a top-level node), for the reach walks of a refresh. */
  private readonly parentOf: Int32Array;
  /** Probability mass the row's heads have moved since its prediction was last decoded. */
  private readonly drift: Float64Array;
  private geometryCache?: Features;
  private posteriorCache?: Features;
  private currentStrategy: StrategyName;

  private constructor(
    readonly ds: Dataset,
    private readonly data: LabelledEmbeddings,
    readonly model: TaxonModel,
    private readonly mode: InferenceMode,
    private options: SessionOptions = {},
    /** The rows as the model sees them, when its training already prepared them. */
    prepared?: Features,
  ) {
    this.currentStrategy = checkedStrategy(options.strategy ?? DEFAULT_STRATEGY);
    this.clusters = new ClusterCache(datasetStore(ds.root, options.cacheDir));
    this.X = prepared ?? model.prepare(data.raw, data.images);
    data.images.forEach((image, row) => this.rowOf.set(image, row));
    this.levels = levelStructure(ds.taxonomy);
    this.parentOf = Int32Array.from(ds.taxonomy.nodes, (node) => node.parent);
    const n = data.images.length;
    this.cond = new Array(n);
    this.stop = new Array(n);
    this.predictions = new Array(n);
    for (let row = 0; row < n; row++) {
      const { cond, stop } = model.conditionals(this.X, row);
      this.cond[row] = cond;
      this.stop[row] = stop;
    }
    const N = ds.taxonomy.size;
    // one matrix holds every row's marginals: predictions view their row of it (no per-row arrays to collect)
    this.marginals = { data: new Float64Array(n * N), n, nodes: N };
    for (let row = 0; row < n; row++) this.predictions[row] = model.decoder.decode(this.cond[row], this.stop[row], mode, this.marginalsOf(row));
    const heads = model.lcpn?.topDown() ?? [];
    heads.forEach((p, i) => this.headIndex.set(p, i));
    this.headVersion = new Int32Array(heads.length);
    this.rowHeadVersion = new Int32Array(n * heads.length);
    this.drift = new Float64Array(n);
    this.scores = new Float64Array(this.predictions.length);
    this.rank();
  }

  /** Opens a session: the saved classifiers when they fit this dataset, else a fresh training. */
  static async open(target: string, options: SessionOptions = {}, ds: Dataset = loadDataset(target)): Promise<{ session: LabelingSession; trained: boolean }> {
    const data = await labelledEmbeddings(target, options, ds);
    if (!data.labels.some((l) => l.length > 0)) throw new DatasetError(target, 'has no labelled images yet: label a few (at least two per category) before the queue can rank');
    let model: TaxonModel;
    let prepared: Features | undefined;
    let trained = false;
    try {
      model = savedModel(ds, target, options).model;
    } catch {
      ({ model, X: prepared } = TaxonModel.train(ds.taxonomy, data.raw, data.labels, data.images, { groups: ds.groups }));
      trained = true;
    }
    return { session: new LabelingSession(ds, data, model, options.inference ?? 'bottomup', options, prepared), trained };
  }

  get strategy(): StrategyName {
    return this.currentStrategy;
  }

  /** Orders the queue by another strategy (or the same with other options) from now on. */
  setStrategy(strategy: StrategyName, selection?: SelectionOptions): void {
    const previous = { strategy: this.currentStrategy, options: this.options };
    this.currentStrategy = checkedStrategy(strategy);
    this.options = { ...this.options, strategy, selection };
    try {
      this.rank();
    } catch (err) {
      // a bad option (say, an unknown measure) leaves the queue as it was
      this.currentStrategy = previous.strategy;
      this.options = previous.options;
      throw err;
    }
  }

  get taxonomy(): Taxonomy {
    return this.ds.taxonomy;
  }

  /** Unlabelled, not skipped items in queue order; optionally only those predicted under `under`. */
  queue(under?: number, limit = Infinity): QueueEntry[] {
    const out: QueueEntry[] = [];
    const t = this.taxonomy;
    for (const row of this.order) {
      if (out.length >= limit) break;
      if (this.data.labels[row].length > 0 || this.skipped.has(row)) continue;
      if (under !== undefined && !(this.predictions[row].node !== ROOT && t.isAncestorOrSelf(under, this.predictions[row].node))) continue;
      out.push({ row, image: this.data.images[row], score: this.scores[row] });
    }
    return out;
  }

  /**
   * Recomputes the heads retrained since a row last saw them, head by head top-down, for the queued
   * rows whose probability of reaching the head is above 1 % (elsewhere the head's output moves
   * the row's marginals by less than that; the row stays marked stale and is recomputed exactly
   * when it is looked at, `fresh`). A new label retrains every head on its path, the top one included, so this
   * visits every row, but it computes a handful of small heads, not the whole model.
   */
  private refreshHeads(lcpn: NonNullable<TaxonModel['lcpn']>): void {
    const heads = lcpn.topDown();
    const t = this.taxonomy;
    const H = heads.length;
    const n = this.predictions.length;
    // the queue's rows only: a labelled or skipped row catches up when it is looked at (`fresh`)
    const queued: number[] = [];
    for (let row = 0; row < this.predictions.length; row++) if (this.data.labels[row].length === 0 && !this.skipped.has(row)) queued.push(row);
    const moved = new Float64Array(this.predictions.length);
    const touched = new Uint8Array(this.predictions.length);
    // Head by head, top-down (a head's rows are known once the heads above it are fresh); a
    // trained softmax head's probabilities for its rows in one pass, half of them on the helper
    // thread where there is one (parallel.ts).
    // Each refreshed head's reach per row (NaN: not computed), so that a head below it multiplies
    // on from there instead of walking every row up to the root again.
    const reachAt = new Map<number, Float64Array>();
    const parent = this.parentOf;
    for (let h = 0; h < H; h++) {
      const p = heads[h];
      const version = this.headVersion[h];
      // head-major: one head's versions lie side by side, so the scan over the queue reads them in order
      const versions = this.rowHeadVersion.subarray(h * n, (h + 1) * n);
      const kids = t.childrenOf(p);
      const batch: number[] = [];
      const reach: number[] = [];
      // the nodes from p up to the nearest head refreshed above it (their P(node | parent) are fresh)
      const segment: number[] = [];
      let known: Float64Array | undefined;
      for (let v = p; v !== ROOT; v = parent[v]) {
        known = v === p ? undefined : reachAt.get(v);
        if (known) break;
        segment.push(v);
      }
      let mine: Float64Array | undefined;
      for (const row of queued) {
        if (versions[row] === version) continue;
        let r: number;
        const from = known ? known[row] : NaN;
        if (from === from) {
          const cond = this.cond[row];
          r = from;
          for (let i = 0; i < segment.length; i++) r *= cond[segment[i]];
        } else {
          r = this.reach(row, p);
        }
        (mine ??= new Float64Array(this.predictions.length).fill(NaN))[row] = r;
        if (r > REACH || p === ROOT) {
          batch.push(row);
          reach.push(r);
        }
      }
      if (mine) reachAt.set(p, mine);
      if (batch.length === 0) continue;
      const head = lcpn.softmaxHead(p);
      let probs: Float64Array | undefined;
      if (head) {
        const K = head.children.length;
        const rows = Int32Array.from(batch);
        const mid = batch.length >> 1;
        const helper = softmaxRowsOnHelper(this.X, rows.subarray(mid), head.weights, K);
        probs = new Float64Array(batch.length * K);
        softmaxRows(this.X.data, this.X.dim, rows, head.weights, K, probs, 0, helper ? mid : batch.length);
        if (helper) probs.set(helper.wait(), mid * K);
      }
      for (let i = 0; i < batch.length; i++) {
        const row = batch[i];
        const cond = this.cond[row];
        const stop = this.stop[row];
        const stopped = stop[p + 1];
        // the probability mass this head's new output moves below it
        let delta = 0;
        if (head && probs) {
          const K = head.children.length;
          stop[p + 1] = 0;
          if (stopped) delta = 1;
          for (let k = 0; k < K; k++) {
            const c = head.children[k];
            const v = probs[i * K + k];
            delta = Math.max(delta, Math.abs(v - cond[c]));
            cond[c] = v;
          }
        } else {
          const before = kids.map((c) => cond[c]);
          lcpn.headConditionals(this.X, row, p, cond, stop);
          if (stop[p + 1] !== stopped) delta = 1;
          kids.forEach((c, k) => (delta = Math.max(delta, Math.abs(cond[c] - before[k]))));
        }
        versions[row] = version;
        moved[row] += reach[i] * delta;
        touched[row] = 1;
      }
    }
    // A retrain moves most rows' outputs by a hair: their prediction is decoded again only once
    // the mass moved since their last decoding adds up to something a ranking can see.
    for (const row of queued) if (touched[row]) this.redecode(row, moved[row], REDECODE_MASS);
  }

  /** Adds `moved` to the row's drift, and decodes its prediction again once the drift reaches `threshold`. */
  private redecode(row: number, moved: number, threshold: number): void {
    const total = this.drift[row] + moved;
    if (total < threshold) {
      this.drift[row] = total;
      return;
    }
    this.drift[row] = 0;
    this.predictions[row] = this.model.decoder.decode(this.cond[row], this.stop[row], this.mode, this.marginalsOf(row));
  }

  /** The row's slice of the marginals matrix. */
  private marginalsOf(row: number): Float64Array {
    const N = this.marginals.nodes;
    return this.marginals.data.subarray(row * N, (row + 1) * N);
  }

  /** The probability that a row's prediction reaches node p: Π P(node | parent) from p up to the root. */
  private reach(row: number, p: number): number {
    const parent = this.parentOf;
    const cond = this.cond[row];
    let r = 1;
    for (let v = p; v !== ROOT; v = parent[v]) r *= cond[v];
    return r;
  }

  /** One row: recomputes, top-down, every head retrained since the row last saw it, and decodes its prediction again if anything moved. */
  private refreshRow(lcpn: NonNullable<TaxonModel['lcpn']>, row: number): void {
    const heads = lcpn.topDown();
    const cond = this.cond[row];
    const stop = this.stop[row];
    const n = this.predictions.length;
    let recomputed = false;
    for (let h = 0; h < heads.length; h++) {
      if (this.rowHeadVersion[h * n + row] === this.headVersion[h]) continue;
      lcpn.headConditionals(this.X, row, heads[h], cond, stop);
      this.rowHeadVersion[h * n + row] = this.headVersion[h];
      recomputed = true;
    }
    if (recomputed || this.drift[row] > 0) this.redecode(row, 0, 0);
  }

  /** A row's prediction with every retrained head applied (labelled and skipped rows are not kept up to date on every retrain). */
  private fresh(row: number): Prediction {
    const lcpn = this.model.lcpn;
    if (lcpn) this.refreshRow(lcpn, row);
    return this.predictions[row];
  }


  /** Orders the unlabelled, not skipped rows by the strategy. */
  private rank(): void {
    const candidates: number[] = [];
    const labelled: number[] = [];
    this.data.labels.forEach((ls, row) => {
      if (ls.length) labelled.push(row);
      else if (!this.skipped.has(row)) candidates.push(row);
    });
    const info = STRATEGIES.find((s) => s.name === this.currentStrategy)!;
    const ctx: SelectionContext = {
      taxonomy: this.taxonomy,
      candidates,
      labelled,
      embeddings: info.usesEmbeddings ? this.geometry() : undefined,
      posteriorFeatures: this.currentStrategy === 'hybrid' ? this.posteriorFeatures() : undefined,
      marginals: this.marginals,
      options: this.options.selection,
      clusters: this.clusters,
      levels: this.levels,
      // the whole pool, skipped rows included: a skip must not rebuild the cover graph
      pool: (this.poolRows ??= Int32Array.from({ length: this.predictions.length }, (_, i) => i)),
    };
    // BALD's posterior is made of the labelled rows' predictions, which retrains do not keep fresh
    if (this.currentStrategy === 'hybrid' && hybridReadsLabelled(ctx)) for (const row of labelled) this.fresh(row);
    const { order, scores } = queueOrder(this.currentStrategy, ctx, this.options.batch ?? 50);
    candidates.forEach((row, i) => (this.scores[row] = scores[i]));
    this.order = order;
  }

  /** The strategies' geometry of the embeddings (geometry.ts; computed once). */
  private geometry(): Features {
    return (this.geometryCache ??= strategyGeometry(this.data.raw, this.data.images));
  }

  /** The classifier inputs on their leading principal directions, for BALD's posterior (computed once). */
  private posteriorFeatures(): Features {
    return (this.posteriorCache ??= pcaProjection(this.X, POSTERIOR_DIMS).project(this.X));
  }

  details(image: string): ItemDetails | undefined {
    const row = this.rowOf.get(image);
    if (row === undefined) return undefined;
    const p = this.fresh(row);
    const predicted = p.path.map((node) => ({ node, p: p.marginals[node] }));
    let confidentDepth = 0;
    for (const level of predicted) {
      if (level.p >= this.model.decoder.tau) confidentDepth++;
      else break;
    }
    const t = this.taxonomy;
    const candidates: Array<{ node: number; p: number }> = [];
    for (const node of t.nodes) if (node.children.length === 0) candidates.push({ node: node.id, p: p.marginals[node.id] });
    candidates.sort((a, b) => b.p - a.p);
    const alternatives = [{ node: p.node, p: p.node === ROOT ? 0 : p.marginals[p.node] }, ...candidates.filter((c) => c.node !== p.node)].slice(0, 9);
    const labels = this.data.labels[row];
    return { image, score: this.scores[row], predicted, confidentDepth, alternatives, current: labels.length ? deepest(t, labels) : undefined };
  }

  /** Records a label (node id, or null to clear); returns the parents whose classifiers it touches. */
  label(image: string, node: number | null): number[] {
    const row = this.rowOf.get(image);
    if (row === undefined) throw new DatasetError(image, 'is not an item of this dataset (or has no embedding)');
    const before = this.data.labels[row];
    const after = node === null ? [] : [node];
    const touched = affectedParents(this.taxonomy, before, after);
    this.data.labels[row] = after;
    this.skipped.delete(row);
    for (const p of touched) this.pending.add(p);
    return touched;
  }

  skip(image: string): void {
    const row = this.rowOf.get(image);
    if (row !== undefined) this.skipped.add(row);
  }

  labelOf(image: string): number | undefined {
    const row = this.rowOf.get(image);
    if (row === undefined) return undefined;
    const labels = this.data.labels[row];
    return labels.length ? deepest(this.taxonomy, labels) : undefined;
  }

  get pendingParents(): number[] {
    return [...this.pending];
  }

  /** Retrains the classifiers touched since the last retrain and re-scores the items they can change. */
  retrainAffected(): RetrainOutcome {
    const t0 = performance.now();
    const parents = [...this.pending];
    this.pending.clear();
    if (parents.length === 0) return { retrained: [], millis: 0 };
    const report = this.model.retrain(this.X, this.data.labels, parents);
    const t1 = performance.now();
    const lcpn = this.model.lcpn;
    if (lcpn) {
      for (const p of report.retrained) {
        const h = this.headIndex.get(p);
        if (h !== undefined) this.headVersion[h]++;
      }
      this.refreshHeads(lcpn);
    } else {
      // other classifiers have no heads to refresh one by one: every row is predicted again
      for (let row = 0; row < this.predictions.length; row++) {
        const { cond, stop } = this.model.conditionals(this.X, row);
        this.cond[row] = cond;
        this.stop[row] = stop;
        this.predictions[row] = this.model.decoder.decode(cond, stop, this.mode, this.marginalsOf(row));
      }
    }
    const t2 = performance.now();
    this.rank();
    const t3 = performance.now();
    return { retrained: report.retrained, millis: t3 - t0, phases: { retrainMs: t1 - t0, predictMs: t2 - t1, rankMs: t3 - t2 } };
  }
}
