/** Messages between the extension host and the embedding worker (dist/embedWorker.js). */
import type { EmbedProgress, EmbedResult } from '../core/model/embed';

export interface EmbedJob {
  /** A dataset folder or annotation file, or a plain folder of images. */
  target: string;
  modelPath?: string;
  batchSize?: number;
  threads?: number;
  cacheDir?: string;
  pixelLimit?: number;
}

export type EmbedWorkerRequest = { type: 'start'; job: EmbedJob } | { type: 'cancel' };

export type EmbedWorkerReply =
  | { type: 'listed'; root: string; total: number }
  | { type: 'progress'; progress: EmbedProgress }
  | { type: 'done'; result: EmbedResult }
  | { type: 'error'; message: string };
