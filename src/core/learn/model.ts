/**
 * A trained Taxon model: the embedding preprocessing, one of the classifiers (LCPN, flat softmax
 * or kNN) and the decoder with its tuned diffusion α. Plain data in (raw embeddings, labels per
 * row), predictions out.
 */
import type { LabelGroup } from '../dataset';
import type { Taxonomy } from '../taxonomy';
import { FlatSoftmax, NearestNeighbours } from './alternatives';
import { LcpnClassifier, NoLabelsError, type LcpnOptions, type RetrainReport, type RowLabels } from './hierarchy';
import { conditionalsFromLeaves, Decoder, DEFAULT_TAU, type InferenceMode, type Prediction } from './inference';
import { evaluate } from './metrics';
import { DEFAULT_PROJECTION, fitPreprocessing, preprocess, type Features, type FitOptions, type Preprocessing, type ProjectionOptions } from './softmax';
import { isHeldOut } from './split';

export type ClassifierKind = 'lcpn' | 'flat' | 'knn';
export const CLASSIFIER_KINDS: readonly ClassifierKind[] = ['lcpn', 'flat', 'knn'];

/** The α grid searched on the tuning hold-out (0 = plain bottom-up). */
export const ALPHA_GRID = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
/** Used when there are too few labelled items to tune α. */
export const DEFAULT_ALPHA = 0.2;
const TUNE_FRACTION = 0.1;
const TUNE_SALT = 'taxon-alpha:';
const MIN_TUNE_ITEMS = 20;

export interface TrainOptions extends FitOptions, Pick<LcpnOptions, 'localBudget' | 'localPerChild' | 'localIterations' | 'localMaxChanged'> {
  classifier?: ClassifierKind;
  /** Mean-centre the L2-normalised embeddings (default true). */
  center?: boolean;
  /** Whitening projection onto the leading principal directions (default DEFAULT_PROJECTION, used when the embeddings have more dimensions); false: none. */
  projection?: ProjectionOptions | false;
  groups?: readonly LabelGroup[];
  /** Fix α instead of tuning it on a hold-out of the training items. */
  alpha?: number;
  tau?: number;
  /** kNN's k. */
  k?: number;
}

export interface TrainReport {
  seconds: number;
  alpha: number;
  /** How α was chosen. */
  alphaSource: 'tuned' | 'fixed' | 'default';
  labelled: number;
}

export class TaxonModel {
  decoder: Decoder;
  lcpn?: LcpnClassifier;
  flat?: FlatSoftmax;
  knn?: NearestNeighbours;

  constructor(
    readonly taxonomy: Taxonomy,
    readonly kind: ClassifierKind,
    readonly preprocessing: Preprocessing,
    /** The classifiers' input dimension (the projection's, when there is one). */
    readonly dim: number,
    alpha: number,
    tau = DEFAULT_TAU,
  ) {
    this.decoder = new Decoder(taxonomy, { alpha, tau });
  }

  get alpha(): number {
    return this.decoder.alpha;
  }

  /** Trains a model on raw embeddings (row i = images[i]) with labels per row. */
  static train(taxonomy: Taxonomy, raw: Features, labels: RowLabels, images: readonly string[], options: TrainOptions = {}): { model: TaxonModel; X: Features; report: TrainReport } {
    const t0 = performance.now();
    const labelled = labels.filter((l) => l.length > 0).length;
    if (labelled === 0) throw new NoLabelsError();
    const project = options.projection === false ? undefined : (options.projection ?? DEFAULT_PROJECTION);
    const pre = fitPreprocessing(raw, { center: options.center, images, project });
    const X = preprocess(raw, pre, images);
    const kind = options.classifier ?? 'lcpn';
    const model = new TaxonModel(taxonomy, kind, pre, X.dim, options.alpha ?? DEFAULT_ALPHA, options.tau);
    let alphaSource: TrainReport['alphaSource'] = options.alpha !== undefined ? 'fixed' : 'default';
    if (options.alpha === undefined) {
      const tuneRows = labels.map((l, i) => (l.length > 0 && isHeldOut(images[i], TUNE_FRACTION, TUNE_SALT) ? i : -1)).filter((i) => i >= 0);
      if (tuneRows.length >= MIN_TUNE_ITEMS && labelled - tuneRows.length >= MIN_TUNE_ITEMS) {
        const held = new Set(tuneRows);
        model.fit(X, labels.map((l, i) => (held.has(i) ? [] : l)), options);
        model.decoder = new Decoder(taxonomy, { alpha: model.tuneAlpha(X, tuneRows, labels), tau: options.tau });
        alphaSource = 'tuned';
      }
    }
    model.fit(X, labels, options); // warm-started from the tuning fit where there was one
    return { model, X, report: { seconds: (performance.now() - t0) / 1000, alpha: model.alpha, alphaSource, labelled } };
  }

  private fit(X: Features, labels: RowLabels, options: TrainOptions): void {
    const fit: FitOptions = {
      l2: options.l2,
      balanced: options.balanced,
      maxIterations: options.maxIterations,
      gradientTolerance: options.gradientTolerance,
      relativeTolerance: options.relativeTolerance,
      memory: options.memory,
    };
    if (this.kind === 'lcpn') {
      const { localBudget, localPerChild, localIterations, localMaxChanged } = options;
      this.lcpn ??= new LcpnClassifier(this.taxonomy, this.dim, { ...fit, groups: options.groups, localBudget, localPerChild, localIterations, localMaxChanged });
      this.lcpn.train(X, labels);
    } else if (this.kind === 'flat') {
      this.flat ??= new FlatSoftmax(this.taxonomy, this.dim, fit);
      this.flat.train(X, labels);
    } else {
      this.knn ??= new NearestNeighbours(this.taxonomy, options.k);
      this.knn.train(X, labels);
    }
  }

  /** α maximising hF1 (then leaf top-1) on the given rows. */
  private tuneAlpha(X: Features, rows: number[], labels: RowLabels): number {
    const conditionals = rows.map((r) => this.conditionals(X, r));
    let best = { alpha: DEFAULT_ALPHA, hF1: -1, top1: -1 };
    for (const alpha of ALPHA_GRID) {
      const decoder = new Decoder(this.taxonomy, { alpha });
      const judged = rows.map((r, i) => ({ truth: deepest(this.taxonomy, labels[r]), predicted: decoder.decode(conditionals[i].cond, conditionals[i].stop, 'diffusion').node }));
      const m = evaluate(this.taxonomy, judged);
      if (m.hF1 > best.hF1 + 1e-12 || (Math.abs(m.hF1 - best.hF1) <= 1e-12 && m.leafTop1 > best.top1)) best = { alpha, hF1: m.hF1, top1: m.leafTop1 };
    }
    return best.alpha;
  }

  /**
   * Updates the LCPN classifiers of the given parents after labels changed (incremental
   * labelling): a local update in milliseconds where a full fit stands behind the classifier,
   * a full warm-started fit otherwise (see LcpnClassifier.retrain).
   */
  retrain(X: Features, labels: RowLabels, affected: Iterable<number>): RetrainReport {
    return this.lcpnOnly().retrain(X, labels, affected);
  }

  /** Parents updated locally since their last full fit. */
  pendingRefit(): number[] {
    return this.lcpnOnly().pendingRefit();
  }

  /** Full warm-started fits of the given parents (default: those pending), e.g. every N labels or when idle. */
  refit(X: Features, labels: RowLabels, parents?: Iterable<number>): RetrainReport {
    return this.lcpnOnly().refit(X, labels, parents);
  }

  private lcpnOnly(): LcpnClassifier {
    if (!this.lcpn) throw new Error('only the LCPN model retrains per node');
    return this.lcpn;
  }

  /** Raw embeddings → classifier inputs, with the preprocessing fitted at training time. */
  prepare(raw: Features, images?: readonly string[]): Features {
    return preprocess(raw, this.preprocessing, images);
  }

  conditionals(X: Features, row: number): { cond: Float64Array; stop: Uint8Array } {
    const n = this.taxonomy.size;
    const cond = new Float64Array(n);
    const stop = new Uint8Array(n + 1);
    if (this.lcpn) this.lcpn.conditionals(X, row, cond, stop);
    else {
      const leafP = new Float64Array(n);
      (this.flat ?? this.knn)!.leafProbabilities(X, row, leafP);
      conditionalsFromLeaves(this.taxonomy, leafP, cond, stop);
    }
    return { cond, stop };
  }

  predict(X: Features, mode: InferenceMode, rows?: Iterable<number>): Prediction[] {
    const out: Prediction[] = [];
    for (const r of rows ?? range(X.n)) {
      const { cond, stop } = this.conditionals(X, r);
      out.push(this.decoder.decode(cond, stop, mode));
    }
    return out;
  }
}

/** The label an item is judged against: its deepest label (ties: the first). */
export function deepest(t: Taxonomy, labels: readonly number[]): number {
  let best = labels[0];
  let bestDepth = -1;
  for (const l of labels) {
    const d = t.depth(l);
    if (d > bestDepth) {
      best = l;
      bestDepth = d;
    }
  }
  return best;
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}
