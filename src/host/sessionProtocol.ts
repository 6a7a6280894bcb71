/** Messages between the labelling panel's host side and the session worker (dist/sessionWorker.js). */
import type { TextEdit } from '../core/diagnostics';
import type { InferenceMode } from '../core/learn/inference';
import type { SelectionOptions, StrategyName } from '../core/learn/selection';

export interface SessionItem {
  image: string;
  score: number;
  predicted: Array<{ path: string[]; p: number }>;
  confidentDepth: number;
  alternatives: Array<{ path: string[]; p: number }>;
  current?: string[];
}

export type SessionRequest =
  | { id: number; type: 'open'; target: string; modelPath?: string; cacheDir?: string; inference: InferenceMode; strategy?: StrategyName; selection?: SelectionOptions }
  | { id: number; type: 'queue'; under?: string[]; limit: number }
  | { id: number; type: 'details'; images: string[] }
  | { id: number; type: 'label'; image: string; path: string[] | null }
  | { id: number; type: 'skip'; image: string }
  | { id: number; type: 'retrain' }
  /** Journal a label change (it is confirmed once this answers); `flush` also writes it to the file. */
  | { id: number; type: 'write'; image: string; path: string[] | null; flush: boolean }
  /** The text edits that put a label into `text` (the label file's content in an open editor). */
  | { id: number; type: 'edits'; file: string; text: string; image: string; path: string[] | null }
  /** Write every confirmed change still pending to the label file. */
  | { id: number; type: 'flush' }
  /** Re-rank the queue by another strategy or other options (settings changed). */
  | { id: number; type: 'strategy'; strategy: StrategyName; selection?: SelectionOptions };

export type SessionReply =
  | { id: number; type: 'opened'; trained: boolean; unlabelled: number; strategy: StrategyName }
  | { id: number; type: 'queue'; entries: Array<{ image: string; score: number; predicted: string[] }>; total: number }
  | { id: number; type: 'details'; items: SessionItem[] }
  | { id: number; type: 'labelled'; touched: number; pending: number }
  | { id: number; type: 'retrained'; nodes: string[]; millis: number }
  | { id: number; type: 'written'; file: string; pending: number; changedOnDisk: boolean; error?: string }
  | { id: number; type: 'edits'; edits: TextEdit[] }
  | { id: number; type: 'ok' }
  | { id: number; type: 'error'; message: string };
