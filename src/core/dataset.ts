/**
 * The in-memory dataset every format reads into and writes from: a taxonomy, label groups,
 * items, and the diagnostics found while reading. Format-specific fields Taxon does not
 * interpret travel in `extra` so that a read-then-write round trip keeps them.
 */
import type { Diagnostic, Range } from './diagnostics';
import { Taxonomy } from './taxonomy';

export type FormatName = 'datumaro' | 'folder' | 'csv' | 'jsonl';
export const FORMATS: readonly FormatName[] = ['datumaro', 'folder', 'csv', 'jsonl'];

/** Where an item is written in its annotation file. */
export interface ItemSource {
  file: string;
  /** The whole item (a JSON object, a CSV row, a JSONL line). */
  range: Range;
  /** The image path value. */
  imageRange?: Range;
  /** One range per entry of `Item.labels`, same order. */
  labelRanges?: Range[];
  /** The id value, where the format has one distinct from the image. */
  idRange?: Range;
  /** What to delete to remove the whole item cleanly (JSON: with its comma; lines: with the newline). */
  deleteRange?: Range;
  /** What to delete to drop label i cleanly (same order as `Item.labels`), where the format allows it. */
  labelDeleteRanges?: Range[];
}

export interface Item {
  /** Unique key of the item: Datumaro's item id; the image path for the other formats. */
  id: string;
  /** Image path relative to the dataset root, '/'-separated, exactly as resolved from the file (not normalised). */
  image: string;
  /** Taxonomy node ids; empty = unlabelled. A label may be an internal node (a partial label). */
  labels: number[];
  source?: ItemSource;
  extra?: Record<string, unknown>;
}

export interface LabelGroup {
  name: string;
  kind: 'exclusive' | 'inclusive';
  labels: number[];
  extra?: Record<string, unknown>;
}

export interface Dataset {
  format: FormatName;
  /** Absolute path of the dataset root: image paths are relative to it. */
  root: string;
  /** Annotation files read (absolute paths); empty for a folder tree. */
  files: string[];
  taxonomy: Taxonomy;
  /** Datumaro label groups; empty for formats without groups. */
  groups: LabelGroup[];
  items: Item[];
  /** Problems found while reading (syntax, unknown labels, bad parents, ...). */
  diagnostics: Diagnostic[];
  /** Where each node is defined, when the format has a definition site (same index as taxonomy.nodes). */
  nodeSources?: Array<{ file: string; range: Range } | undefined>;
  /** Top-level fields of the source file that Taxon does not interpret. */
  extra?: Record<string, unknown>;
  /** Datumaro subset name (the file's base name). */
  subset?: string;
}

export function emptyDataset(format: FormatName, root: string, files: string[] = []): Dataset {
  return { format, root, files, taxonomy: new Taxonomy(), groups: [], items: [], diagnostics: [] };
}
