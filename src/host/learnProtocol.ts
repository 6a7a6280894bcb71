/** Messages between the extension host and the learning worker (dist/learnWorker.js). */
import type { EmbedProgress } from '../core/model/embed';
import type { Evaluation } from '../core/learn/workflow';
import type { InferenceMode } from '../core/learn/inference';
import type { AuditDiagnostic } from '../core/learn/auditDiagnostics';
import type { TextEdit } from '../core/diagnostics';

export interface AuditSettings {
  /** Near-duplicate threshold (cosine of the centred embeddings). */
  similarity: number;
  /** Score from which a label is a suspect. */
  minScore: number;
  /** Most diagnostics shown; the rest are counted. */
  maxDiagnostics: number;
}

/** Relabel one image (a quick fix): edits against the open editor's text, or an atomic write when there is none. */
export interface RelabelJob {
  kind: 'relabel';
  target: string;
  cacheDir?: string;
  image: string;
  path: string[];
  /** The label file's text in the editor; absent: write the file (journal + atomic write). */
  editorText?: string;
}

export interface AuditSummary {
  labelled: number;
  judged: number;
  unjudged: number;
  suspects: number;
  duplicates: number;
  differentLabelDuplicates: number;
  reviewedHidden: number;
  missingEmbeddings: number;
  seconds: number;
  cacheDir: string;
  /** The file labels are written to (annotation file, or a folder tree's sidecar). */
  labelFile: string;
  diagnostics: AuditDiagnostic[];
  /** Findings beyond the diagnostics cap. */
  omitted: number;
}

export interface LearnJob {
  kind: 'train' | 'evaluate' | 'audit';
  target: string;
  modelPath?: string;
  cacheDir?: string;
  inference: InferenceMode;
  holdout: number;
  batchSize?: number;
  threads?: number;
  audit?: AuditSettings;
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
  | { type: 'audited'; summary: AuditSummary }
  | { type: 'relabelled'; file: string; edits?: TextEdit[]; written?: boolean; changedOnDisk?: boolean }
  | { type: 'error'; message: string };
