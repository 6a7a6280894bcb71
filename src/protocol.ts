/**
 * Every message between the extension host and the labelling and gallery webviews, as
 * discriminated unions. Both bundles import this file; the host validates what a webview sends
 * (`parseWebviewMessage`, `parseGalleryMessage`) because a webview is untrusted input like any other.
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

// ---------------------------------------------------------------- the node gallery

export const GALLERY_FILTER_NAMES = ['all', 'labelled', 'predicted', 'disagreeing', 'suspicious', 'duplicates'] as const;
export type GalleryFilterName = (typeof GALLERY_FILTER_NAMES)[number];
export const GALLERY_SORT_NAMES = ['file', 'name', 'confidence-asc', 'confidence-desc', 'suspicion'] as const;
export type GallerySortName = (typeof GALLERY_SORT_NAMES)[number];

/** One image of the gallery. Paths are node names joined with ` > `. */
export interface GalleryTile {
  /** Position in the current list. */
  index: number;
  /** Dataset-relative image path. */
  image: string;
  labels: string[];
  predicted?: string;
  confidence?: number;
  disagrees?: boolean;
  suspect?: { suggested: string; score: number };
  duplicate?: { other: string; similarity: number; identical: boolean };
  /** The thumbnail as a data: URL, once made. */
  thumb?: string;
  /** Why the image has no thumbnail (corrupt, missing, outside the root…), naming it. */
  error?: string;
}

/** A thumbnail made after its tile was sent. */
export interface GalleryThumb {
  index: number;
  thumb?: string;
  error?: string;
}

/** A list of the gallery: what the worker answers and the host passes on to the webview. */
export interface GalleryListReply {
  version: number;
  total: number;
  filter: GalleryFilterName;
  sort: GallerySortName;
  counts: Record<GalleryFilterName, number>;
  /** Why the filter or order cannot apply (e.g. no audit has run yet). */
  unavailable?: string;
  /** Filters that cannot apply to this dataset yet, with the reason (no predictions, no audit). */
  notAvailable?: Partial<Record<GalleryFilterName, string>>;
}

export type GalleryHostMessage =
  | { type: 'init'; datasetName: string; title: string; paths: string[][]; keys: KeyHelp[] }
  /** A new list (first open, another filter or order, or the labels changed): `version` tags its indices. */
  | ({ type: 'list'; /** Keep the scroll position and focus (the same list after a label change). */ keepPosition?: boolean } & GalleryListReply)
  | { type: 'tiles'; version: number; start: number; tiles: GalleryTile[] }
  | { type: 'thumbs'; version: number; thumbs: GalleryThumb[] }
  | { type: 'moved'; count: number; path: string[] | null; undo: boolean; text: string }
  | { type: 'notice'; level: 'info' | 'warning' | 'error'; text: string };

export type GalleryWebviewMessage =
  | { type: 'ready' }
  | { type: 'view'; filter: GalleryFilterName; sort: GallerySortName }
  /** The tiles [start, start + count) of list `version`. */
  | { type: 'tiles'; version: number; start: number; count: number }
  /** Move the selected tiles (index ranges [start, end) of list `version`) to a path. */
  | { type: 'move'; version: number; ranges: Array<[number, number]>; path: string[] }
  /** Label each selected tile with the path the model predicts for it (the batch view). */
  | { type: 'confirm'; version: number; ranges: Array<[number, number]> }
  | { type: 'undo' }
  /** Open tile `index` of list `version` in the labelling panel. */
  | { type: 'open'; version: number; index: number };

const MAX_TILES_PER_REQUEST = 1000;
const MAX_RANGES = 100_000;

/** Validates a message from the gallery webview; undefined when its shape is wrong. */
export function parseGalleryMessage(raw: unknown): GalleryWebviewMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31;
  switch (m.type) {
    case 'ready':
    case 'undo':
      return { type: m.type };
    case 'view':
      return (GALLERY_FILTER_NAMES as readonly unknown[]).includes(m.filter) && (GALLERY_SORT_NAMES as readonly unknown[]).includes(m.sort)
        ? { type: 'view', filter: m.filter as GalleryFilterName, sort: m.sort as GallerySortName }
        : undefined;
    case 'tiles':
      return isIndex(m.version) && isIndex(m.start) && isIndex(m.count) && m.count > 0 && m.count <= MAX_TILES_PER_REQUEST
        ? { type: 'tiles', version: m.version, start: m.start, count: m.count }
        : undefined;
    case 'move':
    case 'confirm': {
      const ranges = m.ranges;
      const okRanges =
        Array.isArray(ranges) &&
        ranges.length > 0 &&
        ranges.length <= MAX_RANGES &&
        ranges.every((r) => Array.isArray(r) && r.length === 2 && isIndex(r[0]) && isIndex(r[1]) && r[0] < r[1]);
      if (!isIndex(m.version) || !okRanges) return undefined;
      if (m.type === 'confirm') return { type: 'confirm', version: m.version, ranges: ranges as Array<[number, number]> };
      return isPath(m.path) ? { type: 'move', version: m.version, ranges: ranges as Array<[number, number]>, path: m.path } : undefined;
    }
    case 'open':
      return isIndex(m.version) && isIndex(m.index) ? { type: 'open', version: m.version, index: m.index } : undefined;
    default:
      return undefined;
  }
}
