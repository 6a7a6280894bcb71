/**
 * Dataset-level learning operations shared by the `taxon` CLI and the VS Code host: gather a
 * dataset's cached embeddings, train and save its classifiers, predict every item, and evaluate
 * on a deterministic hold-out with per-node accuracy and the worst confusions.
 */
import * as path from 'node:path';
import type { Dataset } from '../dataset';
import { DatasetError } from '../diagnostics';
import { loadDataset } from '../formats';
import { defaultModelPath } from '../model/backbone';
import { readEmbeddings, resolveCacheDir } from '../model/embed';
import { ROOT, type Taxonomy } from '../taxonomy';
import type { InferenceMode, Prediction } from './inference';
import { evaluate, type HierarchicalMetrics, type Judged, treeDistance } from './metrics';
import { type ClassifierKind, deepest, TaxonModel, type TrainReport } from './model';
import { fileSha256, loadClassifiers, saveClassifiers } from './store';
import { isHeldOut } from './split';

export interface LearningPaths {
  /** The ONNX backbone; default the bundled model. */
  modelPath?: string;
  /** The cache folder; default `<dataset root>/.taxon`. */
  cacheDir?: string;
}

export interface LabelledEmbeddings {
  ds: Dataset;
  raw: { data: Float32Array; n: number; dim: number };
  /** Row i's image (items without a cached embedding are left out). */
  images: string[];
  labels: number[][];
  /** Items left out for want of a cached embedding. */
  missing: number;
}

/** A dataset's items with their cached embeddings; throws when none is cached. */
export async function labelledEmbeddings(target: string, paths: LearningPaths = {}, ds: Dataset = loadDataset(target)): Promise<LabelledEmbeddings> {
  const images = ds.items.map((item) => item.image);
  if (images.length === 0) throw new DatasetError(target, 'has no items');
  const e = await readEmbeddings({ root: ds.root, images, modelPath: paths.modelPath, cacheDir: paths.cacheDir });
  if (e.missing.length === images.length) {
    throw new DatasetError(target, `has no cached embeddings for model ${path.basename(paths.modelPath ?? defaultModelPath())}: run inference ("taxon embed") on it first`);
  }
  const missing = new Set(e.missing);
  const keep = images.map((_, i) => i).filter((i) => !missing.has(i));
  const data = new Float32Array(keep.length * e.dim);
  keep.forEach((row, i) => data.set(e.matrix.subarray(row * e.dim, (row + 1) * e.dim), i * e.dim));
  return { ds, raw: { data, n: keep.length, dim: e.dim }, images: keep.map((i) => images[i]), labels: keep.map((i) => ds.items[i].labels), missing: missing.size };
}

export interface TrainedDataset {
  data: LabelledEmbeddings;
  model: TaxonModel;
  report: TrainReport;
  /** Where the classifiers were saved. */
  saved: string;
  classifiers: number;
  /** Paths of the node classifiers left untrained (too few examples); predictions stop at them. */
  untrained: string[];
}

export async function trainDataset(target: string, paths: LearningPaths = {}, ds?: Dataset): Promise<TrainedDataset> {
  const data = await labelledEmbeddings(target, paths, ds);
  const { model, report } = TaxonModel.train(data.ds.taxonomy, data.raw, data.labels, data.images, { groups: data.ds.groups });
  const { dir } = resolveCacheDir(data.ds.root, paths.cacheDir);
  const saved = saveClassifiers(dir, model, fileSha256(paths.modelPath ?? defaultModelPath()));
  const all = [...(model.lcpn?.classifiers.values() ?? [])];
  const untrained = all.filter((c) => !c.trained).map((c) => (c.parent === ROOT ? '(root)' : data.ds.taxonomy.pathString(c.parent)));
  return { data, model, report, saved, classifiers: all.length, untrained };
}

/** The saved classifiers of a dataset, refusing missing, corrupt or foreign ones with the reason. */
export function savedModel(ds: Dataset, target: string, paths: LearningPaths = {}): { model: TaxonModel; stale: number } {
  const { dir } = resolveCacheDir(ds.root, paths.cacheDir);
  const loaded = loadClassifiers(dir, ds.taxonomy, fileSha256(paths.modelPath ?? defaultModelPath()));
  if (loaded.status === 'missing') throw new DatasetError(target, 'has no trained classifiers: train them first ("taxon train")');
  if (loaded.status === 'rejected') throw new DatasetError(target, `${loaded.reason.replace(/; the classifiers will be retrained$/, '')}: train again`);
  return { model: loaded.model, stale: loaded.stale.length };
}

export interface DatasetPredictions {
  /** Row i's image. */
  images: string[];
  predictions: Prediction[];
  /** Per node: items predicted at or under it. */
  predictedCounts: Int32Array;
}

/** Predicts every item of the dataset that has a cached embedding. */
export function predictItems(model: TaxonModel, data: LabelledEmbeddings, mode: InferenceMode): DatasetPredictions {
  const X = model.prepare(data.raw, data.images);
  const rows = data.images.map((_, i) => i);
  const predictions = model.predict(X, mode, rows);
  const t = model.taxonomy;
  const predictedCounts = new Int32Array(t.size);
  for (const p of predictions) for (let n = p.node; n !== ROOT; n = t.nodes[n].parent) predictedCounts[n]++;
  return { images: data.images, predictions, predictedCounts };
}

export interface NodeAccuracy {
  node: number;
  /** Test items whose truth is at or under the node. */
  n: number;
  /** The fraction of them predicted at or under the node. */
  accuracy: number;
}

export interface Confusion {
  truth: number;
  predicted: number;
  count: number;
  treeDistance: number;
}

export interface Evaluation {
  classifier: ClassifierKind;
  inference: InferenceMode;
  train: number;
  test: number;
  metrics: HierarchicalMetrics;
  perNode: NodeAccuracy[];
  confusions: Confusion[];
  alpha: number;
  tau: number;
  trainSeconds: number;
  predictSeconds: number;
}

export interface HoldoutOptions {
  holdout?: number;
  classifier?: ClassifierKind;
  inference?: InferenceMode;
  alpha?: number;
}

/** Trains on the items outside a deterministic hold-out (by image path) and evaluates on it. */
export async function evaluateHoldout(target: string, paths: LearningPaths = {}, options: HoldoutOptions = {}, ds?: Dataset): Promise<Evaluation> {
  const holdout = options.holdout ?? 0.2;
  const classifier = options.classifier ?? 'lcpn';
  const inference = options.inference ?? 'bottomup';
  const data = await labelledEmbeddings(target, paths, ds);
  const t = data.ds.taxonomy;
  const testRows = data.images.map((im, i) => (data.labels[i].length > 0 && isHeldOut(im, holdout) ? i : -1)).filter((i) => i >= 0);
  if (testRows.length === 0) throw new DatasetError(target, `has no labelled items in the ${holdout} hold-out`);
  const trainLabels = data.labels.map((ls, i) => (isHeldOut(data.images[i], holdout) ? [] : ls));
  const t0 = performance.now();
  const { model } = TaxonModel.train(t, data.raw, trainLabels, data.images, { classifier, groups: data.ds.groups, alpha: options.alpha });
  const trainSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const X = model.prepare(data.raw, data.images);
  const preds = model.predict(X, inference, testRows);
  const predictSeconds = (performance.now() - t1) / 1000;
  const judged: Judged[] = testRows.map((r, i) => ({ truth: deepest(t, data.labels[r]), predicted: preds[i].node, confident: preds[i].confident }));
  return {
    classifier,
    inference,
    train: trainLabels.filter((l) => l.length > 0).length,
    test: testRows.length,
    metrics: evaluate(t, judged),
    perNode: accuracyPerNode(t, judged),
    confusions: worstConfusions(t, judged),
    alpha: model.alpha,
    tau: model.decoder.tau,
    trainSeconds,
    predictSeconds,
  };
}

/** For every node with test items at or under it: how many of them the model put at or under it. */
export function accuracyPerNode(t: Taxonomy, judged: readonly Judged[]): NodeAccuracy[] {
  const n = new Int32Array(t.size);
  const hit = new Int32Array(t.size);
  for (const j of judged) {
    for (let node = j.truth; node !== ROOT; node = t.nodes[node].parent) {
      n[node]++;
      if (j.predicted !== ROOT && t.isAncestorOrSelf(node, j.predicted)) hit[node]++;
    }
  }
  const out: NodeAccuracy[] = [];
  for (let node = 0; node < t.size; node++) if (n[node] > 0) out.push({ node, n: n[node], accuracy: hit[node] / n[node] });
  return out;
}

/** The most frequent (truth, prediction) mistakes, most frequent first. */
export function worstConfusions(t: Taxonomy, judged: readonly Judged[], limit = 15): Confusion[] {
  const depths = t.depths();
  const counts = new Map<string, Confusion>();
  for (const j of judged) {
    if (j.predicted === j.truth || (j.predicted !== ROOT && t.isAncestorOrSelf(j.truth, j.predicted))) continue;
    const key = `${j.truth}:${j.predicted}`;
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { truth: j.truth, predicted: j.predicted, count: 1, treeDistance: j.predicted === ROOT ? depths[j.truth] : treeDistance(t, j.truth, j.predicted, depths) });
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || b.treeDistance - a.treeDistance).slice(0, limit);
}
