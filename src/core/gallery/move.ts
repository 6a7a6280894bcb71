/**
 * "Move to another path" in the gallery: the label changes that put the chosen images under a new
 * path, and the changes that undo them. Both go through the label writer like any other label
 * (journal first, atomic write), so a move survives a crash and an undo is just another change.
 */
import type { Dataset } from '../dataset';
import { LabelError, labelFile, type LabelChange } from '../labels';
import { ROOT } from '../taxonomy';

export interface Move {
  /** One change per image: its label becomes the target path. */
  changes: LabelChange[];
  /** One change per image that puts back the label it had (null: it was unlabelled). */
  undo: LabelChange[];
  /** Images already at exactly the target path (left out of `changes`). */
  unchanged: string[];
}

/**
 * The changes that move `images` to `target` (node names from the top level down). Refuses, naming
 * the label file, a target that is not a node of the taxonomy and an image that is not an item of
 * the dataset. An item with several labels is moved to the one path; its undo puts back its
 * deepest label (the label writer's change holds one path per image).
 */
export function moveImages(ds: Dataset, images: readonly string[], target: readonly string[], at = Date.now()): Move {
  const file = labelFile(ds);
  const t = ds.taxonomy;
  const node = t.find(target);
  if (target.length === 0 || node === undefined) {
    throw new LabelError(file, `cannot move images to '${target.join(' > ')}': that path is not a node of the taxonomy`);
  }
  const labelsOf = new Map<string, number[]>();
  for (const item of ds.items) if (!labelsOf.has(item.image)) labelsOf.set(item.image, item.labels);
  const move: Move = { changes: [], undo: [], unchanged: [] };
  const seen = new Set<string>();
  for (const image of images) {
    if (seen.has(image)) continue;
    seen.add(image);
    const labels = labelsOf.get(image);
    if (labels === undefined) throw new LabelError(file, `cannot move ${image}: it is not an item of this dataset`);
    if (labels.length === 1 && labels[0] === node) {
      move.unchanged.push(image);
      continue;
    }
    const deepest = labels.reduce((best, l) => (best === ROOT || t.depth(l) > t.depth(best) ? l : best), ROOT);
    move.changes.push({ image, path: [...target], at });
    move.undo.push({ image, path: deepest === ROOT ? null : t.path(deepest), at });
  }
  return move;
}

/**
 * "Confirm" in the gallery, the batch view of the labelling loop: each chosen image gets the path
 * the model predicts for it (images may have different predictions; each keeps its own). Images
 * with no prediction are left out and counted; an image already labelled exactly there is
 * unchanged. Undo puts back what each image had.
 */
export function confirmPredictions(ds: Dataset, chosen: ReadonlyArray<{ image: string; predicted: number }>, at = Date.now()): Move & { unpredicted: string[] } {
  const file = labelFile(ds);
  const t = ds.taxonomy;
  const labelsOf = new Map<string, number[]>();
  for (const item of ds.items) if (!labelsOf.has(item.image)) labelsOf.set(item.image, item.labels);
  const out: Move & { unpredicted: string[] } = { changes: [], undo: [], unchanged: [], unpredicted: [] };
  const seen = new Set<string>();
  for (const { image, predicted } of chosen) {
    if (seen.has(image)) continue;
    seen.add(image);
    const labels = labelsOf.get(image);
    if (labels === undefined) throw new LabelError(file, `cannot label ${image}: it is not an item of this dataset`);
    if (predicted === ROOT || predicted < 0 || predicted >= t.size) {
      out.unpredicted.push(image);
      continue;
    }
    if (labels.length === 1 && labels[0] === predicted) {
      out.unchanged.push(image);
      continue;
    }
    const deepest = labels.reduce((best, l) => (best === ROOT || t.depth(l) > t.depth(best) ? l : best), ROOT);
    out.changes.push({ image, path: t.path(predicted), at });
    out.undo.push({ image, path: deepest === ROOT ? null : t.path(deepest), at });
  }
  return out;
}
