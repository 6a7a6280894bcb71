/**
 * A label change as the curator makes it: "this image is now `a > b > c`" (or unlabelled).
 * Changes are idempotent: applying one twice gives the same file as applying it once.
 */
import * as path from 'node:path';
import type { Dataset } from '../dataset';
import { DatasetError } from '../diagnostics';
import { LABEL_SIDECAR } from '../formats/folder';
import { describeContainmentProblem, resolveInsideRoot } from '../paths';

export interface LabelChange {
  /** Image path relative to the dataset root, '/'-separated. */
  image: string;
  /** Node names from the top level down; `null` makes the image unlabelled. */
  path: string[] | null;
  /** When the curator made the change (ms since the epoch). */
  at: number;
}

/** A change that cannot be written (unknown label, bad image path, a name the format cannot hold). */
export class LabelError extends DatasetError {
  constructor(file: string, message: string) {
    super(file, message);
    this.name = 'LabelError';
  }
}

/** The file a dataset's labels are written to: its annotation file, or a folder tree's sidecar. */
export function labelFile(ds: Dataset): string {
  if (ds.format === 'folder') return path.join(ds.root, LABEL_SIDECAR);
  if (!ds.files.length) throw new DatasetError(ds.root, 'has no annotation file to write labels to');
  return ds.files[0];
}

export function showPath(p: readonly string[] | null): string {
  return p === null ? '(unlabelled)' : `'${p.join(' > ')}'`;
}

/** Shape checks every format shares: a relative image inside the root, a path of non-empty names. */
export function checkChange(ds: Dataset, file: string, change: LabelChange): void {
  if (typeof change.image !== 'string') throw new LabelError(file, 'a label change needs an image path');
  const inside = resolveInsideRoot(ds.root, change.image, false);
  if (inside.problem) throw new LabelError(file, `cannot label image ${JSON.stringify(change.image)}: it ${describeContainmentProblem(inside.problem)}`);
  if (change.path === null) return;
  if (!Array.isArray(change.path) || change.path.length === 0) {
    throw new LabelError(file, `cannot label ${change.image}: a path needs at least one node name (use null to make it unlabelled)`);
  }
  for (const name of change.path) {
    if (typeof name !== 'string' || name.trim() === '') {
      throw new LabelError(file, `cannot label ${change.image} as ${JSON.stringify(change.path)}: every node name must be a non-empty string`);
    }
  }
}

/** The last change per image, in order of first appearance (later changes win). */
export function lastChangePerImage<T extends LabelChange>(changes: readonly T[]): T[] {
  const last = new Map<string, T>();
  for (const c of changes) {
    last.delete(c.image);
    last.set(c.image, c);
  }
  return [...last.values()];
}
