/**
 * What the worker computes for one dataset and sends back to the host: a compact taxonomy with
 * counts for the tree view, and the diagnostics for the Problems panel. No `vscode` here: the
 * worker imports it too.
 */
import * as path from 'node:path';
import type { FormatName } from '../core/dataset';
import { type Diagnostic, type Range, DatasetError, START_OF_FILE } from '../core/diagnostics';
import { loadDataset, parseAnnotationText, detectFormat, taxonomyFileFor } from '../core/formats';
import { readTaxonomyOutline, type TaxonomyOutline } from '../core/formats/jsonl';
import { countsPerNode, datasetStats } from '../core/stats';
import { validateDataset } from '../core/validate';
import { readTextFile } from '../core/textInput';
import { folderTreeTop } from '../core/formats/folder';

export interface NodeSummary {
  name: string;
  parent: number;
  children: number[];
  description?: string;
  /** Images labelled at or under the node. */
  count: number;
  source?: { file: string; range: Range };
}

export interface DatasetSummary {
  /** The dataset's detected target (annotation file, or folder for a folder tree). */
  target: string;
  format: FormatName;
  root: string;
  files: string[];
  nodes: NodeSummary[];
  roots: number[];
  images: number;
  unlabelled: number;
  maxDepth: number;
  /** Folder trees: the folder whose sub-folders are the taxonomy. */
  treeTop?: string;
  /** A preview from the taxonomy alone: counts are not known yet. */
  preview?: boolean;
}

export interface InspectRequest {
  id: number;
  /** A dataset folder or annotation file. */
  target: string;
  /** Editor text that replaces the file on disk (unsaved or just-opened documents). */
  text?: { file: string; content: string };
  checkFiles: boolean;
  findIdenticalImages: boolean;
  maxBytes: number;
  maxDiagnostics: number;
}

export type InspectResponse =
  | { id: number; ok: true; preview: true; taxonomy: TaxonomyPreview }
  | { id: number; ok: true; preview?: undefined; summary: DatasetSummary; diagnostics: Diagnostic[]; truncated: number; millis: number }
  | { id: number; ok: false; file: string; message: string; diagnostics: Diagnostic[] };

/**
 * A dataset's taxonomy before its items are read: flat arrays, which cross to the host far faster
 * than thirty thousand node objects (the host expands them with `expandPreview`).
 */
export interface TaxonomyPreview {
  target: string;
  format: FormatName;
  root: string;
  files: string[];
  outline: TaxonomyOutline;
}

/** The taxonomy of a JSONL dataset read from its taxonomy file alone, so the tree's first level can show at once. */
export function previewTaxonomy(req: InspectRequest): TaxonomyPreview | undefined {
  try {
    const detected = detectFormat(req.target);
    if (detected.format !== 'jsonl') return undefined;
    const file = taxonomyFileFor(detected.target);
    if (!file) return undefined;
    const outline = readTaxonomyOutline(readTextFile(file, req.maxBytes));
    if (!outline) return undefined;
    return { target: detected.target, format: 'jsonl', root: path.dirname(detected.target), files: [detected.target, file], outline };
  } catch {
    return undefined; // the full inspection reports the problem
  }
}


export function inspect(req: InspectRequest): InspectResponse {
  const started = Date.now();
  let target = req.target;
  try {
    const detected = detectFormat(target);
    target = detected.target;
    const ds =
      req.text && path.resolve(req.text.file) === path.resolve(detected.target) && detected.format !== 'folder'
        ? parseAnnotationText(detected.target, req.text.content, detected.format, { maxBytes: req.maxBytes })
        : detected.format === 'folder'
          ? loadDataset(detected.target)
          : parseAnnotationText(detected.target, readTextFile(detected.target, req.maxBytes), detected.format, { maxBytes: req.maxBytes });
    const all = validateDataset(ds, { checkFiles: req.checkFiles, findDuplicateImages: req.findIdenticalImages });
    const diagnostics = all.slice(0, req.maxDiagnostics);
    const counts = countsPerNode(ds);
    const stats = datasetStats(ds);
    const nodes: NodeSummary[] = ds.taxonomy.nodes.map((n) => {
      const s: NodeSummary = { name: n.name, parent: n.parent, children: n.children, count: counts[n.id] };
      if (n.description !== undefined) s.description = n.description;
      const src = ds.nodeSources?.[n.id];
      if (src) s.source = src;
      return s;
    });
    return {
      id: req.id,
      ok: true,
      summary: {
        target: detected.target,
        format: ds.format,
        root: ds.root,
        files: ds.files,
        nodes,
        roots: ds.taxonomy.roots,
        images: stats.images,
        unlabelled: stats.unlabelled,
        maxDepth: stats.maxDepth,
        treeTop: ds.format === 'folder' ? folderTreeTop(ds.root) : undefined,
      },
      diagnostics,
      truncated: all.length - diagnostics.length,
      millis: Date.now() - started,
    };
  } catch (err) {
    const file = err instanceof DatasetError ? err.file : target;
    const message = err instanceof Error ? err.message : String(err);
    return {
      id: req.id,
      ok: false,
      file,
      message,
      diagnostics: [{ file, range: START_OF_FILE, severity: 'error', code: 'taxon.unreadable', message }],
    };
  }
}
