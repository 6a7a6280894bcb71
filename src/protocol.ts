/**
 * Every message between the extension host and the labelling webview, as discriminated unions.
 * Both bundles import this file; the host validates what the webview sends (`parseWebviewMessage`)
 * because a webview is untrusted input like any other.
 */

/** One level of a prediction: the node chosen at that depth and its marginal probability. */
export interface LevelView {
  level: number;
  node: string;
  p: number;
}

export interface AlternativeView {
  /** Node names from the top level down. */
  path: string[];
  p: number;
}

/** An image from the queue, ready to show. */
export interface QueueItemView {
  /** Dataset-relative image path (the item's identity). */
  image: string;
  /** A webview URI for the image. */
  src: string;
  /** The queue's score under the current strategy (higher = more useful to label). */
  score: number;
  /** The predicted path with a confidence per level. */
  predicted: LevelView[];
  /** How many levels of the predicted path reach the confidence threshold. */
  confidentDepth: number;
  /** The top alternative paths (the prediction first). */
  alternatives: AlternativeView[];
  /** The current label, when the image has one (e.g. after undo or when revisiting). */
  current?: string[];
}

export interface RetrainedNodeView {
  /** Full path of the parent node whose classifier retrained ('(root)' for the top level). */
  node: string;
  /** Hold-out accuracy of that node before and after, when there are held-out items under it. */
  before?: number;
  after?: number;
}

export type HostMessage =
  | { type: 'init'; paths: string[][]; datasetName: string; strategy: string; keys: KeyHelp[]; theme?: string }
  /** `upcoming`: the next item in full, so that accepting can show it before the host answers. */
  | { type: 'show'; item: QueueItemView; index: number; total: number; next?: string; upcoming?: QueueItemView }
  | { type: 'empty'; message: string }
  | { type: 'labelled'; image: string; path: string[] | null; count: number }
  | { type: 'retrained'; nodes: RetrainedNodeView[]; millis: number }
  | { type: 'notice'; level: 'info' | 'warning' | 'error'; text: string };

export interface KeyHelp {
  keys: string;
  action: string;
}

export type WebviewMessage =
  | { type: 'ready' }
  /** Accept the predicted path (down to the confident depth when `confidentOnly`). */
  | { type: 'accept'; image: string; confidentOnly?: boolean }
  /** Label with a chosen path; a path that stops at an internal node is a partial label. */
  | { type: 'label'; image: string; path: string[] }
  | { type: 'skip'; image: string }
  | { type: 'undo' }
  | { type: 'navigate'; direction: 'next' | 'previous' }
  | { type: 'retrain' }
  /** The webview reports how long the image took to appear after the curator's key press. */
  | { type: 'shown'; image: string; millis: number };

const MAX_PATH_DEPTH = 10_000;

/** Validates a message from the webview; undefined when its shape is wrong. */
export function parseWebviewMessage(raw: unknown): WebviewMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const isImage = typeof m.image === 'string' && m.image.length > 0 && m.image.length < 4096;
  switch (m.type) {
    case 'ready':
    case 'undo':
    case 'retrain':
      return { type: m.type };
    case 'accept':
      return isImage && (m.confidentOnly === undefined || typeof m.confidentOnly === 'boolean')
        ? { type: 'accept', image: m.image as string, confidentOnly: m.confidentOnly as boolean | undefined }
        : undefined;
    case 'skip':
      return isImage ? { type: 'skip', image: m.image as string } : undefined;
    case 'label':
      return isImage && isPath(m.path) ? { type: 'label', image: m.image as string, path: m.path } : undefined;
    case 'navigate':
      return m.direction === 'next' || m.direction === 'previous' ? { type: 'navigate', direction: m.direction } : undefined;
    case 'shown':
      return isImage && typeof m.millis === 'number' && Number.isFinite(m.millis) ? { type: 'shown', image: m.image as string, millis: m.millis } : undefined;
    default:
      return undefined;
  }
}

function isPath(p: unknown): p is string[] {
  return Array.isArray(p) && p.length > 0 && p.length <= MAX_PATH_DEPTH && p.every((s) => typeof s === 'string' && s.length > 0 && s.length < 1024);
}
