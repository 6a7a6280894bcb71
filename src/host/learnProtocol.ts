/** Messages between the extension host and the learning worker (dist/learnWorker.js). */
import type { EmbedProgress } from '../core/model/embed';
import type { Evaluation } from '../core/learn/workflow';
import type { InferenceMode } from '../core/learn/inference';

export interface LearnJob {
  kind: 'train' | 'evaluate';
  target: string;
  modelPath?: string;
  cacheDir?: string;
  inference: InferenceMode;
  holdout: number;
  batchSize?: number;
  threads?: number;
}

export interface TrainSummary {
  labelled: number;
  classifiers: number;
  untrained: string[];
  seconds: number;
  alpha: number;
  saved: string;
  /** Full paths (' > ') with the number of items predicted at or under each node. */
  predicted: Array<[string, number]>;
  /** Items left out for want of an embedding (skipped images). */
  missing: number;
}

export type LearnWorkerReply =
  | { type: 'stage'; message: string }
  | { type: 'embedding'; progress: EmbedProgress }
  | { type: 'trained'; summary: TrainSummary }
  | { type: 'evaluated'; evaluation: Evaluation; paths: string[]; datasetName: string }
  | { type: 'error'; message: string };
