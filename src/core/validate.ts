/**
 * Dataset-level consistency checks shared by every format. Format-specific problems (syntax,
 * unknown labels, bad parents, groups) are found by the readers and arrive in `ds.diagnostics`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset, Item } from './dataset';
import { type Diagnostic, type QuickFix, type Range, START_OF_FILE } from './diagnostics';
import { identicalFileGroups } from './identical';
import { describeContainmentProblem, RootContainment } from './paths';
import { ROOT, type Taxonomy } from './taxonomy';

export interface ValidateOptions {
  /** Check that image files exist and stay inside the root (default true). */
  checkFiles?: boolean;
  /** Hash images to find byte-identical files with different labels (default true; implies checkFiles). */
  findDuplicateImages?: boolean;
  /** Called now and then with the number of items checked; return false to stop early. */
  progress?: (done: number, total: number) => boolean | void;
}

export function validateDataset(ds: Dataset, options: ValidateOptions = {}): Diagnostic[] {
  const checkFiles = options.checkFiles ?? true;
  const findDuplicates = checkFiles && (options.findDuplicateImages ?? true);
  const out: Diagnostic[] = [...ds.diagnostics];
  out.push(...duplicateSiblings(ds));
  const duplicates = earlierDuplicates(ds.items);
  const existing: Array<{ item: Item; absolute: string }> = [];
  const items = ds.items;
  const containment = new RootContainment(ds.root);
  for (let i = 0; i < items.length; i++) {
    if (options.progress && (i & 4095) === 0 && options.progress(i, items.length) === false) break;
    const item = items[i];
    if (duplicates.size) {
      const first = duplicates.get(i);
      if (first !== undefined) out.push(duplicateItem(ds, item, items[first]));
    }
    const chain = inconsistentLabel(ds.taxonomy, item.labels);
    if (chain !== undefined) out.push(inconsistentPath(ds, item, chain));
    if (checkFiles) {
      const where = containment.resolve(item.image);
      if (where.problem) {
        out.push(
          at(ds, item, 'image', 'error', 'taxon.path-outside-root', `Image path ${JSON.stringify(item.image)} ${describeContainmentProblem(where.problem)}; the file is not opened.`),
        );
      } else if (!fs.existsSync(where.absolute!)) {
        out.push(at(ds, item, 'image', 'error', 'taxon.missing-image', `Image file ${JSON.stringify(item.image)} does not exist.`));
      } else if (findDuplicates) {
        existing.push({ item, absolute: where.absolute! });
      }
    }
  }
  if (findDuplicates) out.push(...identicalImages(ds, existing));
  return out;
}

/**
 * For each item whose id an earlier item already has: its index → the first such item's index.
 * An open-addressing table on FNV-1a hashes of the ids: for a million items about five times
 * faster than a `Map` keyed by id, which dominated validation of large files.
 */
export function earlierDuplicates(items: readonly Item[]): Map<number, number> {
  const found = new Map<number, number>();
  const n = items.length;
  let size = 16;
  while (size < n * 2) size *= 2;
  const mask = size - 1;
  const table = new Int32Array(size); // item index + 1; 0 is empty
  for (let i = 0; i < n; i++) {
    const id = items[i].id;
    let h = 0x811c9dc5;
    for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
    let slot = h & mask;
    for (;;) {
      const v = table[slot];
      if (v === 0) {
        table[slot] = i + 1;
        break;
      }
      if (items[v - 1].id === id) {
        found.set(i, v - 1);
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  return found;
}

/** Index of the first label that is not on one root-to-node chain with the deepest label, if any. */
export function inconsistentLabel(taxonomy: Taxonomy, labels: readonly number[]): number | undefined {
  if (labels.length < 2) return undefined;
  let deepest = 0;
  let deepestDepth = -1;
  for (let i = 0; i < labels.length; i++) {
    const d = taxonomy.depth(labels[i]);
    if (d > deepestDepth) {
      deepestDepth = d;
      deepest = i;
    }
  }
  for (let i = 0; i < labels.length; i++) {
    if (!taxonomy.isAncestorOrSelf(labels[i], labels[deepest])) return i;
  }
  return undefined;
}

function inconsistentPath(ds: Dataset, item: Item, index: number): Diagnostic {
  const t = ds.taxonomy;
  const others = item.labels.filter((_, i) => i !== index).map((l) => t.pathString(l));
  const bad = t.pathString(item.labels[index]);
  const fixes: QuickFix[] = [];
  const del = item.source?.labelDeleteRanges?.[index];
  if (del) fixes.push({ title: `Drop the inconsistent label "${bad}"`, edits: [{ range: del, newText: '' }] });
  return {
    ...locate(ds, item, item.source?.labelRanges?.[index]),
    severity: 'error',
    code: 'taxon.inconsistent-path',
    message: `Item ${JSON.stringify(item.id)} has labels that are not on one path from the root: "${bad}" is not on the path of "${others.join('", "')}".`,
    fixes,
  };
}

function duplicateItem(ds: Dataset, item: Item, first: Item): Diagnostic {
  const fixes: QuickFix[] = [];
  if (item.source?.deleteRange) fixes.push({ title: 'Remove this duplicate item', edits: [{ range: item.source.deleteRange, newText: '' }] });
  const firstLine = first.source ? ` (first at line ${first.source.range.start.line + 1})` : '';
  return {
    ...locate(ds, item, item.source?.idRange ?? item.source?.range),
    severity: 'error',
    code: 'taxon.duplicate-item',
    message: `Item ${JSON.stringify(item.id)} appears more than once${firstLine}.`,
    fixes,
  };
}

function duplicateSiblings(ds: Dataset): Diagnostic[] {
  if (ds.diagnostics.some((d) => d.code === 'taxon.duplicate-sibling')) return []; // the reader has reported them with positions
  const out: Diagnostic[] = [];
  const t = ds.taxonomy;
  for (const parent of [ROOT, ...t.nodes.map((n) => n.id)]) {
    const seen = new Set<string>();
    for (const c of t.childrenOf(parent)) {
      const name = t.nodes[c].name;
      if (seen.has(name)) {
        const where = ds.nodeSources?.[c];
        out.push({
          file: where?.file ?? ds.files[0] ?? ds.root,
          range: where?.range ?? START_OF_FILE,
          severity: 'error',
          code: 'taxon.duplicate-sibling',
          message: `Two nodes named ${JSON.stringify(name)} under "${parent === ROOT ? '(root)' : t.pathString(parent)}".`,
        });
      }
      seen.add(name);
    }
  }
  return out;
}

/** Byte-identical images with different labels. */
function identicalImages(ds: Dataset, files: Array<{ item: Item; absolute: string }>): Diagnostic[] {
  const groups = identicalFileGroups(files.map((f) => f.absolute)).map((g) => g.map((i) => files[i]));
  const out: Diagnostic[] = [];
  const t = ds.taxonomy;
  const labelText = (item: Item) => (item.labels.length ? item.labels.map((l) => t.pathString(l)).join(', ') : '(unlabelled)');
  for (const same of groups) {
    const distinct = new Set(same.map((f) => labelText(f.item)));
    if (distinct.size < 2) continue;
    // One warning per extra copy, on the copy, naming the first: a pair gives one warning.
    const [first, ...copies] = same;
    for (const f of copies) {
      out.push({
        ...locate(ds, f.item, f.item.source?.imageRange ?? f.item.source?.range, f.absolute),
        severity: 'warning',
        code: 'taxon.identical-images',
        message: `Image ${JSON.stringify(f.item.image)} labelled "${labelText(f.item)}" is byte-identical to ${JSON.stringify(first.item.image)} labelled "${labelText(first.item)}".`,
      });
    }
  }
  return out;
}

function at(ds: Dataset, item: Item, what: 'image', severity: Diagnostic['severity'], code: string, message: string): Diagnostic {
  return { ...locate(ds, item, what === 'image' ? (item.source?.imageRange ?? item.source?.range) : item.source?.range), severity, code, message };
}

/** Folder trees have no annotation file: their diagnostics point at the image (or folder) itself. */
function locate(ds: Dataset, item: Item, range: Range | undefined, fallbackFile?: string): { file: string; range: Range } {
  if (item.source && range) return { file: item.source.file, range };
  return { file: fallbackFile ?? path.join(ds.root, ...item.image.split('/')), range: START_OF_FILE };
}
