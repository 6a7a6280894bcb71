/**
 * What the node gallery shows: the images at and under a taxonomy node (labelled there, or
 * unlabelled and predicted there), narrowed by a filter and put in order. Built once per dataset
 * load; selecting a node, a filter and an order is one pass over the items, so that 100,000 images
 * answer in milliseconds. The list is item indices; tiles are made only for the rows on screen.
 */
import type { Dataset } from '../dataset';
import type { AuditFindings, DuplicatePair, Suspect } from '../learn/auditStore';
import type { Prediction } from '../learn/inference';
import { ROOT } from '../taxonomy';

export const GALLERY_FILTERS = ['all', 'labelled', 'predicted', 'disagreeing', 'suspicious', 'duplicates'] as const;
export type GalleryFilter = (typeof GALLERY_FILTERS)[number];
export const GALLERY_SORTS = ['file', 'name', 'confidence-asc', 'confidence-desc', 'suspicion'] as const;
export type GallerySort = (typeof GALLERY_SORTS)[number];

export const AUDIT_MISSING = 'No audit findings for this dataset yet. Run Taxon: Audit Labels first.';
export const PREDICTIONS_MISSING = 'No predictions for this dataset yet. Run Taxon: Train Classifiers first.';

/**
 * The model's predictions for the dataset's images, kept small (the full marginals of 100,000
 * items over a few hundred nodes would be hundreds of megabytes), or why there are none.
 */
export type GalleryPredictions = { images: readonly string[]; nodes: Int32Array; confidences: Float64Array } | { unavailable: string };

/** Row i of `predictItems`: the predicted node and its marginal; nothing else is kept. */
export function compactPredictions(images: readonly string[], predictions: readonly Prediction[]): GalleryPredictions {
  const nodes = new Int32Array(predictions.length);
  const confidences = new Float64Array(predictions.length);
  predictions.forEach((p, i) => {
    nodes[i] = p.node;
    confidences[i] = p.node === ROOT ? Number.NaN : p.marginals[p.node];
  });
  return { images, nodes, confidences };
}

export interface GallerySelection {
  /** Item indices (into `dataset.items`), in the order shown. */
  items: Int32Array;
  /** Why the filter or order cannot be applied (the list is then empty, or in file order). */
  unavailable?: string;
  /** How many images each filter would show at this node. */
  counts: Record<GalleryFilter, number>;
}

/** What one tile says about its image. Paths are node names joined with ` > `. */
export interface TileInfo {
  image: string;
  /** The item's labels; empty when unlabelled. */
  labels: string[];
  predicted?: string;
  /** The marginal probability of the predicted node. */
  confidence?: number;
  /** Labelled, predicted, and the two paths part (neither is an ancestor of the other). */
  disagrees?: boolean;
  suspect?: { suggested: string; score: number };
  duplicate?: { other: string; similarity: number; identical: boolean };
}

export class Gallery {
  /** Per item: the predicted node (ROOT when none) and its marginal (NaN when none). */
  private readonly predictedNode: Int32Array;
  private readonly confidence: Float64Array;
  private readonly suspects = new Map<string, Suspect>();
  private readonly duplicates = new Map<string, { other: string; pair: DuplicatePair }>();
  readonly predictionsUnavailable: string | undefined;
  readonly auditAvailable: boolean;

  /** The node predicted for item i (ROOT when there is no prediction). */
  predictedOf(i: number): number {
    return this.predictedNode[i];
  }

  constructor(
    readonly ds: Dataset,
    predictions: GalleryPredictions,
    audit: AuditFindings | undefined,
  ) {
    const n = ds.items.length;
    this.predictedNode = new Int32Array(n).fill(ROOT);
    this.confidence = new Float64Array(n).fill(Number.NaN);
    if ('unavailable' in predictions) this.predictionsUnavailable = predictions.unavailable;
    else {
      const rowOf = new Map<string, number>();
      predictions.images.forEach((image, row) => rowOf.set(image, row));
      for (let i = 0; i < n; i++) {
        const row = rowOf.get(ds.items[i].image);
        if (row === undefined || predictions.nodes[row] === ROOT) continue;
        this.predictedNode[i] = predictions.nodes[row];
        this.confidence[i] = predictions.confidences[row];
      }
    }
    this.auditAvailable = audit !== undefined;
    for (const s of audit?.suspects ?? []) {
      const known = this.suspects.get(s.image);
      if (!known || known.score < s.score) this.suspects.set(s.image, s);
    }
    for (const d of audit?.duplicates ?? []) {
      for (const [image, other] of [[d.a, d.b], [d.b, d.a]]) {
        const known = this.duplicates.get(image);
        if (!known || known.pair.similarity < d.similarity) this.duplicates.set(image, { other, pair: d });
      }
    }
  }

  get hasPredictions(): boolean {
    return this.predictionsUnavailable === undefined;
  }

  /** The images at and under `node` (ROOT: the whole dataset) that pass `filter`, in `sort` order. */
  select(node: number, filter: GalleryFilter, sort: GallerySort = 'file'): GallerySelection {
    const t = this.ds.taxonomy;
    const items = this.ds.items;
    const counts: Record<GalleryFilter, number> = { all: 0, labelled: 0, predicted: 0, disagreeing: 0, suspicious: 0, duplicates: 0 };
    const under = (n: number) => node === ROOT || t.isAncestorOrSelf(node, n);
    const picked: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const labels = items[i].labels;
      const p = this.predictedNode[i];
      let labelled = false;
      for (const l of labels) if (under(l)) labelled = true;
      const predicted = labels.length === 0 && p !== ROOT && under(p);
      const inNode = labelled || predicted || (node === ROOT && labels.length === 0);
      if (!inNode) continue;
      const image = items[i].image;
      const disagreeing = labelled && p !== ROOT && !labels.some((l) => t.isAncestorOrSelf(l, p) || t.isAncestorOrSelf(p, l));
      const suspicious = this.suspects.has(image);
      const duplicate = this.duplicates.has(image);
      counts.all++;
      if (labelled) counts.labelled++;
      if (predicted) counts.predicted++;
      if (disagreeing) counts.disagreeing++;
      if (suspicious) counts.suspicious++;
      if (duplicate) counts.duplicates++;
      const pass =
        filter === 'all' ||
        (filter === 'labelled' && labelled) ||
        (filter === 'predicted' && predicted) ||
        (filter === 'disagreeing' && disagreeing) ||
        (filter === 'suspicious' && suspicious) ||
        (filter === 'duplicates' && duplicate);
      if (pass) picked.push(i);
    }
    let unavailable: string | undefined;
    if ((filter === 'predicted' || filter === 'disagreeing') && !this.hasPredictions) unavailable = this.predictionsUnavailable;
    else if ((filter === 'suspicious' || filter === 'duplicates') && !this.auditAvailable) unavailable = AUDIT_MISSING;
    if (unavailable) return { items: new Int32Array(0), unavailable, counts };
    const out = Int32Array.from(picked);
    if ((sort === 'confidence-asc' || sort === 'confidence-desc') && !this.hasPredictions) return { items: out, unavailable: this.predictionsUnavailable, counts };
    if (sort === 'suspicion' && !this.auditAvailable) return { items: out, unavailable: AUDIT_MISSING, counts };
    this.order(out, sort);
    return { items: out, counts };
  }

  /** Sorts item indices in place; ties (and images without a value) keep file order, missing values last. */
  private order(list: Int32Array, sort: GallerySort): void {
    if (sort === 'file') return;
    const items = this.ds.items;
    if (sort === 'name') {
      list.sort((a, b) => (items[a].image < items[b].image ? -1 : items[a].image > items[b].image ? 1 : a - b));
      return;
    }
    // one key per listed item, read once (not once per comparison); missing values sort last
    const direction = sort === 'confidence-asc' ? 1 : -1;
    const keys = new Float64Array(this.ds.items.length);
    for (const i of list) {
      const v = sort === 'suspicion' ? (this.suspects.get(items[i].image)?.score ?? Number.NaN) : this.confidence[i];
      keys[i] = Number.isNaN(v) ? Number.POSITIVE_INFINITY : v * direction;
    }
    list.sort((a, b) => keys[a] - keys[b] || a - b);
  }

  /** What the tile of item `i` shows. */
  tile(i: number): TileInfo {
    const t = this.ds.taxonomy;
    const item = this.ds.items[i];
    const info: TileInfo = { image: item.image, labels: item.labels.map((l) => t.pathString(l)) };
    const p = this.predictedNode[i];
    if (p !== ROOT) {
      info.predicted = t.pathString(p);
      info.confidence = this.confidence[i];
      if (item.labels.length > 0) info.disagrees = !item.labels.some((l) => t.isAncestorOrSelf(l, p) || t.isAncestorOrSelf(p, l));
    }
    const s = this.suspects.get(item.image);
    if (s) info.suspect = { suggested: s.suggested, score: s.score };
    const d = this.duplicates.get(item.image);
    if (d) info.duplicate = { other: d.other, similarity: d.pair.similarity, identical: d.pair.identical === true };
    return info;
  }
}
