/**
 * The active-learning queue of a dataset (`taxon rank`, the queue view): its unlabelled items
 * ordered by a strategy, with the predicted and the confident path of each. The first batch comes
 * in the order `selectBatch` picks it (for hybrid and typical: diverse, representative); the rest
 * follow by score.
 */
import type { Dataset } from '../dataset';
import { DatasetError } from '../diagnostics';
import { loadDataset } from '../formats';
import { ROOT } from '../taxonomy';
import { pcaProjection } from './clustering';
import { POSTERIOR_DIMS, strategyGeometry } from './geometry';
import type { InferenceMode } from './inference';
import { labelledEmbeddings, predictItems, savedModel, trainDataset, type LearningPaths } from './workflow';
import { datasetStore } from './clusterStore';
import { ClusterCache, queueOrder, type SelectionContext, type SelectionOptions, type StrategyName, STRATEGIES } from './selection';
import { levelStructure, type MarginalsMatrix } from './uncertainty';

export interface QueueItem {
  image: string;
  score: number;
  /** Predicted path (node names from the top level). */
  path: string[];
  /** The part of it the model is confident about (τ). */
  confidentPath: string[];
}

export interface DatasetQueue {
  strategy: StrategyName;
  /** 'saved': the dataset's saved classifiers; 'trained': none were saved, so they were trained (and saved) now. */
  classifiers: 'saved' | 'trained';
  /** Unlabelled items with an embedding (all ranked). */
  unlabelled: number;
  labelled: number;
  items: QueueItem[];
}

export interface QueueOptions {
  strategy: StrategyName;
  /** Items to return (default all). */
  top?: number;
  /** Size of the first, diverse batch (default 200). */
  batch?: number;
  inference?: InferenceMode;
  selection?: SelectionOptions;
  seed?: number;
}


export async function rankDataset(target: string, paths: LearningPaths, options: QueueOptions, ds: Dataset = loadDataset(target)): Promise<DatasetQueue> {
  const info = STRATEGIES.find((s) => s.name === options.strategy);
  if (!info) throw new Error(`unknown strategy ${JSON.stringify(options.strategy)}`);
  let classifiers: DatasetQueue['classifiers'] = 'saved';
  let model;
  let data;
  try {
    model = savedModel(ds, target, paths).model;
    data = await labelledEmbeddings(target, paths, ds);
  } catch (err) {
    if (!(err instanceof DatasetError) || !/no trained classifiers/.test(err.message)) throw err;
    const trained = await trainDataset(target, paths, ds);
    model = trained.model;
    data = trained.data;
    classifiers = 'trained';
  }
  const t = ds.taxonomy;
  const predicted = predictItems(model, data, options.inference ?? 'bottomup');
  const candidates: number[] = [];
  const labelled: number[] = [];
  data.labels.forEach((ls, i) => (ls.length ? labelled : candidates).push(i));
  const N = t.size;
  const M: MarginalsMatrix = { data: new Float32Array(data.images.length * N), n: data.images.length, nodes: N };
  predicted.predictions.forEach((p, i) => M.data.set(p.marginals, i * N));
  const embeddings = info.usesEmbeddings ? strategyGeometry(data.raw, data.images) : undefined;
  let posteriorFeatures;
  if (options.strategy === 'hybrid') {
    const X = model.prepare(data.raw, data.images);
    posteriorFeatures = pcaProjection(X, POSTERIOR_DIMS).project(X);
  }
  // the clusterings and cover graph a labelling session on this pool kept, or kept for the next run
  const clusters = new ClusterCache(datasetStore(ds.root, paths.cacheDir));
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled, embeddings, posteriorFeatures, marginals: M, options: options.selection, levels: levelStructure(t), clusters };
  const ranked = queueOrder(options.strategy, ctx, options.batch ?? 200, options.seed ?? 1);
  const scoreOf = new Map<number, number>(candidates.map((r, i) => [r, ranked.scores[i]]));
  const order = ranked.order.slice(0, options.top ?? candidates.length);
  const names = (nodes: number[]) => nodes.map((n) => t.nodes[n].name);
  return {
    strategy: options.strategy,
    classifiers,
    unlabelled: candidates.length,
    labelled: labelled.length,
    items: order.map((r) => {
      const p = predicted.predictions[r];
      return { image: data.images[r], score: scoreOf.get(r)!, path: names(p.path), confidentPath: p.confident === ROOT ? [] : t.path(p.confident) };
    }),
  };
}
