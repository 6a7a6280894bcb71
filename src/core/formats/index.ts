/** Format detection, loading and writing: the single entry point the host and the CLI use. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset, FormatName } from '../dataset';
import { DatasetError } from '../diagnostics';
import { writeFileAtomic } from '../atomicWrite';
import { DEFAULT_MAX_BYTES, readTextFile } from '../textInput';
import { parseCsv, serializeCsv } from './csv';
import { parseDatumaro, serializeDatumaro } from './datumaro';
import { isImageFile, LABEL_SIDECAR, readFolderTree } from './folder';
import { parseJsonl, serializeJsonl } from './jsonl';

export interface LoadOptions {
  /** Largest annotation file accepted, in bytes. */
  maxBytes?: number;
}

export interface Detected {
  format: FormatName;
  /** The annotation file, or the folder for a folder tree. */
  target: string;
}

/**
 * Detects the format of a file or folder. A folder is Datumaro when it has `annotations/*.json`
 * with label categories, a folder tree when it has an `images/` folder or image sub-folders,
 * else the single JSONL or CSV inside it. Pass a file to choose explicitly.
 */
export function detectFormat(target: string): Detected {
  const abs = path.resolve(target);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new DatasetError(abs, 'does not exist');
  }
  if (stat.isFile()) return { format: detectFileFormat(abs), target: abs };
  const annotations = path.join(abs, 'annotations');
  if (isDir(annotations)) {
    const jsons = fs.readdirSync(annotations).filter((f) => f.endsWith('.json')).sort();
    const datumaro = jsons.map((f) => path.join(annotations, f)).find(looksLikeDatumaro);
    if (datumaro) return { format: 'datumaro', target: datumaro };
  }
  const entries = fs.readdirSync(abs, { withFileTypes: true });
  if (isDir(path.join(abs, 'images'))) return { format: 'folder', target: abs };
  // taxon-labels.jsonl is a folder tree's label sidecar, not a JSONL dataset of its own
  const jsonl = entries.filter((e) => e.isFile() && e.name.endsWith('.jsonl') && e.name !== LABEL_SIDECAR);
  if (jsonl.length === 1) return { format: 'jsonl', target: path.join(abs, jsonl[0].name) };
  const csv = entries.filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.csv'));
  if (csv.length === 1) return { format: 'csv', target: path.join(abs, csv[0].name) };
  if (
    entries.some((e) => e.isDirectory() && !e.name.startsWith('.')) ||
    entries.some((e) => e.isFile() && (isImageFile(e.name) || e.name === LABEL_SIDECAR))
  ) {
    return { format: 'folder', target: abs };
  }
  throw new DatasetError(
    abs,
    'is not a dataset Taxon recognises: no annotations/*.json (Datumaro), images/ folder tree, single .jsonl or single .csv file',
  );
}

export function detectFileFormat(file: string): FormatName {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'datumaro';
  throw new DatasetError(file, `has an unknown annotation format (extension ${JSON.stringify(ext || '(none)')}); Taxon reads Datumaro .json, .csv, .jsonl and folder trees`);
}

function looksLikeDatumaro(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
    return buf.subarray(0, n).includes('"categories"');
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The taxonomy file that goes with a JSONL items file, if any. */
export function taxonomyFileFor(jsonlFile: string): string | undefined {
  const dir = path.dirname(jsonlFile);
  const base = path.basename(jsonlFile).replace(/\.(jsonl|ndjson)$/i, '');
  for (const candidate of [path.join(dir, `${base}.taxonomy.json`), path.join(dir, 'taxonomy.json')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function loadDataset(target: string, options: LoadOptions = {}): Dataset {
  const { format, target: resolved } = detectFormat(target);
  if (format === 'folder') return readFolderTree(resolved);
  return parseAnnotationText(resolved, readTextFile(resolved, options.maxBytes ?? DEFAULT_MAX_BYTES), format, options);
}

/**
 * Datumaro looks for an item's image in `images/<subset>/<path>`, and in `images/<path>` when the
 * subset folder is absent (its older layout, which a converted folder tree also uses).
 */
function applyDatumaroImageLayout(ds: Dataset): Dataset {
  if (ds.format !== 'datumaro' || ds.subset === undefined) return ds;
  const prefix = `images/${ds.subset}/`;
  if (isDir(path.join(ds.root, 'images', ds.subset)) || !isDir(path.join(ds.root, 'images'))) return ds;
  for (const item of ds.items) if (item.image.startsWith(prefix)) item.image = 'images/' + item.image.slice(prefix.length);
  return ds;
}

/** Parses annotation text that may differ from the file on disk (an editor's unsaved buffer). */
export function parseAnnotationText(file: string, text: string, format: FormatName = detectFileFormat(file), options: LoadOptions = {}): Dataset {
  switch (format) {
    case 'datumaro':
      return applyDatumaroImageLayout(parseDatumaro(text, file));
    case 'csv':
      return parseCsv(text, file);
    case 'jsonl': {
      const taxonomyFile = taxonomyFileFor(file);
      const taxonomy = taxonomyFile ? { file: taxonomyFile, text: readTextFile(taxonomyFile, options.maxBytes ?? DEFAULT_MAX_BYTES) } : undefined;
      return parseJsonl(text, file, taxonomy);
    }
    case 'folder':
      throw new DatasetError(file, 'a folder tree has no annotation text');
  }
}

export interface WriteResult {
  /** Files written. */
  files: string[];
  /** Things the target format could not keep. */
  warnings: string[];
}

/**
 * Writes a dataset in `format` at `out` (a file; for JSONL the taxonomy goes beside it as
 * `<base>.taxonomy.json`). Never touches images. A folder tree cannot be written: that would move images.
 */
export function writeDataset(ds: Dataset, format: FormatName, out: string): WriteResult {
  const abs = path.resolve(out);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const warnings: string[] = [];
  switch (format) {
    case 'datumaro': {
      const target: Dataset = { ...ds, items: ds.items.map((item) => ({ ...item, image: rebase(ds.root, item.image, datumaroRoot(abs)) })), root: datumaroRoot(abs) };
      writeFileAtomic(abs, serializeDatumaro(target));
      return { files: [abs], warnings };
    }
    case 'csv': {
      const target: Dataset = { ...ds, items: ds.items.map((item) => ({ ...item, image: rebase(ds.root, item.image, path.dirname(abs)) })), root: path.dirname(abs) };
      writeFileAtomic(abs, serializeCsv(target, { warnings }));
      return { files: [abs], warnings };
    }
    case 'jsonl': {
      const target: Dataset = { ...ds, items: ds.items.map((item) => ({ ...item, image: rebase(ds.root, item.image, path.dirname(abs)) })), root: path.dirname(abs) };
      const { items, taxonomy } = serializeJsonl(target, { warnings });
      const taxonomyFile = path.join(path.dirname(abs), `${path.basename(abs).replace(/\.(jsonl|ndjson)$/i, '')}.taxonomy.json`);
      writeFileAtomic(abs, items);
      writeFileAtomic(taxonomyFile, taxonomy);
      return { files: [abs, taxonomyFile], warnings };
    }
    case 'folder':
      throw new DatasetError(abs, 'Taxon does not write folder trees: that would move images. Convert to datumaro, csv or jsonl instead.');
  }
}

/** Datumaro's root is the folder above `annotations/`. */
function datumaroRoot(file: string): string {
  const dir = path.dirname(file);
  return path.basename(dir) === 'annotations' ? path.dirname(dir) : dir;
}

/** Re-expresses an image path relative to another root ('/'-separated). */
function rebase(fromRoot: string, image: string, toRoot: string): string {
  if (path.resolve(fromRoot) === path.resolve(toRoot)) return image;
  return path.relative(toRoot, path.join(fromRoot, ...image.split('/'))).split(path.sep).join('/');
}
