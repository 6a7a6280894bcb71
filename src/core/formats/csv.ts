/**
 * CSV annotations: one row per (image, label).
 *
 * Reading
 * - The header must name an `image` column and a `path` column; a file without `path` may use
 *   a `label` column instead (a file with both uses `path`; `label` is then an ordinary column).
 *   Header names match case-insensitively, ignoring surrounding spaces.
 * - The path separator is decided per file: ` > ` when any path cell contains it, `/` otherwise.
 *   It is recorded in the layout (`ds.extra.csv`) so that writing keeps it.
 * - A CSV has no taxonomy section: the tree is built from the paths seen, nodes in order of first
 *   appearance. An empty path cell is an unlabelled item; a path to an internal node is a
 *   partial label.
 * - Each row is one item with at most one label; `Item.id` and `Item.image` are the image cell.
 * - Other columns are kept as strings in `item.extra[<header name>]`, and the column order,
 *   quoting style and line ending in `ds.extra.csv` (see {@link CsvLayout}), for round trips.
 * - Blank lines are skipped. Quoted fields follow RFC 4180 (`""` escapes a quote; newlines allowed).
 *   A `"` inside an unquoted field is kept literally.
 *
 * Positions (0-based, like every diagnostic): `source.range` is the row without its line break,
 * `imageRange` / `labelRanges[0]` are the cells (including their quotes, when quoted), and
 * `deleteRange` is the row including its line break.
 *
 * Writing
 * - One row per label: an item with several labels (possible when the dataset came from another
 *   format) is written as several rows with the same image, which read back as several items.
 * - An unlabelled item is a row with an empty path.
 * - Nodes that no item uses (not a label nor an ancestor of one) cannot be written: a CSV has no
 *   taxonomy section. Node descriptions, node extras, label groups and item ids that differ from
 *   the image are lost too. {@link serializeCsv} reports all of this through `options.warnings`
 *   and the lost node ids through `options.lostNodes`.
 */
import * as path from 'node:path';
import { type Dataset, emptyDataset, type Item } from '../dataset';
import { type Diagnostic, LineIndex, type Position, type Range, START_OF_FILE } from '../diagnostics';
import { ROOT, type Taxonomy } from '../taxonomy';
import { readTextFile } from '../textInput';

export type CsvSeparator = ' > ' | '/';

/** How a CSV file was laid out; stored in `ds.extra.csv` by {@link parseCsv}. */
export interface CsvLayout {
  /** Header cells as written, in file order. */
  columns: string[];
  /** Index in `columns` of the image column. */
  imageColumn: number;
  /** Index in `columns` of the path column (`path`, or `label` when there is no `path`). */
  pathColumn: number;
  separator: CsvSeparator;
  lineEnding: '\n' | '\r\n';
  /** Whether the file ends with a line break. */
  finalNewline: boolean;
  /** Per column: every non-empty cell was quoted in the source (the writer quotes them again). */
  quoted: boolean[];
}

export interface CsvSerializeOptions {
  /** Path separator; default: the one the file was read with, else ` > `. */
  separator?: CsvSeparator;
  /** Receives one human-readable line per kind of information the CSV cannot hold. */
  warnings?: string[];
  /** Receives the ids of taxonomy nodes that no item uses (lost: a CSV has no taxonomy section). */
  lostNodes?: number[];
}

interface Cell {
  start: number;
  end: number;
  value: string;
  quoted: boolean;
}

interface Row {
  start: number;
  /** End of the row's content, before the line break. */
  end: number;
  /** Start of the next row (after the line break). */
  next: number;
  cells: Cell[];
  lineEnding: '' | '\n' | '\r\n';
}

interface RowError {
  error: { offset: number; length: number; message: string };
}

/** Reads one CSV row after another, with offsets; recovers from a malformed row at the next line. */
class CsvTokenizer {
  private i = 0;
  constructor(private readonly text: string) {}

  next(): Row | RowError | undefined {
    const text = this.text;
    const n = text.length;
    // skip blank (whitespace-only) lines
    for (;;) {
      if (this.i >= n) return undefined;
      let j = this.i;
      while (j < n && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9)) j++;
      if (j >= n) {
        this.i = n;
        return undefined;
      }
      const c = text.charCodeAt(j);
      if (c === 10) this.i = j + 1;
      else if (c === 13 && text.charCodeAt(j + 1) === 10) this.i = j + 2;
      else break;
    }
    const start = this.i;
    const cells: Cell[] = [];
    let i = start;
    for (;;) {
      if (text.charCodeAt(i) === 34 /* " */) {
        const open = i;
        let value = '';
        let j = i + 1;
        let close = -1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) break;
          if (text.charCodeAt(q + 1) === 34) {
            value += text.slice(j, q + 1);
            j = q + 2;
            continue;
          }
          value += text.slice(j, q);
          close = q;
          break;
        }
        if (close < 0) {
          this.skipLineOf(open);
          return { error: { offset: open, length: 1, message: 'unclosed quote: this quoted field never ends' } };
        }
        const k = close + 1;
        const c = text.charCodeAt(k);
        if (k < n && c !== 44 && c !== 10 && !(c === 13 && text.charCodeAt(k + 1) === 10)) {
          this.skipLineOf(k);
          return {
            error: {
              offset: k,
              length: 1,
              message: `unexpected ${describeChar(text[k])} after a closing quote (a quote inside a quoted field is written "")`,
            },
          };
        }
        cells.push({ start: open, end: k, value, quoted: true });
        i = k;
      } else {
        let k = i;
        for (; k < n; k++) {
          const c = text.charCodeAt(k);
          if (c === 44 || c === 10 || (c === 13 && text.charCodeAt(k + 1) === 10)) break;
        }
        cells.push({ start: i, end: k, value: text.slice(i, k), quoted: false });
        i = k;
      }
      if (i < n && text.charCodeAt(i) === 44) {
        i++;
        continue;
      }
      break;
    }
    let next = i;
    let lineEnding: Row['lineEnding'] = '';
    if (text.charCodeAt(i) === 13) {
      next = i + 2;
      lineEnding = '\r\n';
    } else if (text.charCodeAt(i) === 10) {
      next = i + 1;
      lineEnding = '\n';
    }
    this.i = next;
    return { start, end: i, next, cells, lineEnding };
  }

  /** Recovery: continue after the physical line that holds `offset`. */
  private skipLineOf(offset: number): void {
    const nl = this.text.indexOf('\n', offset);
    this.i = nl < 0 ? this.text.length : nl + 1;
  }
}

function describeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  return code < 32 || code === 127 ? `character U+${code.toString(16).toUpperCase().padStart(4, '0')}` : `'${ch}'`;
}

function isRowError(r: Row | RowError): r is RowError {
  return (r as RowError).error !== undefined;
}

/** Splits a path cell; `undefined` marks an empty segment (an error). */
function splitPath(raw: string, separator: CsvSeparator): string[] | undefined {
  const cell = trimSpaces(raw);
  if (cell === '') return [];
  if (separator === ' > ' && (cell.endsWith(' >') || cell.startsWith('> '))) return undefined;
  const parts = cell.split(separator);
  for (const p of parts) if (p.trim() === '') return undefined;
  return parts;
}

function trimSpaces(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Parses CSV text (pure: no file system access). `file` is the absolute path of the CSV. */
export function parseCsv(text: string, file: string): Dataset {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const ds = emptyDataset('csv', path.dirname(file), [file]);
  const diagnostics = ds.diagnostics;
  const index = new LineIndex(text);
  const range = (start: number, end: number): Range => ({ start: index.position(start), end: index.position(end) });
  const error = (r: Range, code: string, message: string): void => {
    diagnostics.push({ file, range: r, severity: 'error', code, message });
  };

  if (text.trim() === '') {
    error(START_OF_FILE, 'taxon.empty-file', 'The CSV file is empty: it needs a header with an image and a path column');
    return ds;
  }

  const tokenizer = new CsvTokenizer(text);
  const first = tokenizer.next();
  if (first === undefined) {
    error(START_OF_FILE, 'taxon.empty-file', 'The CSV file is empty: it needs a header with an image and a path column');
    return ds;
  }
  if (isRowError(first)) {
    error(range(first.error.offset, first.error.offset + first.error.length), 'taxon.syntax-error', `CSV syntax error in the header: ${first.error.message}`);
    return ds;
  }
  const columns = first.cells.map((c) => c.value);
  const keys = columns.map((c) => c.trim().toLowerCase());
  const imageColumn = keys.indexOf('image');
  let pathColumn = keys.indexOf('path');
  if (pathColumn < 0) pathColumn = keys.indexOf('label');
  if (imageColumn < 0 || pathColumn < 0) {
    const missing = imageColumn < 0 && pathColumn < 0 ? "an 'image' and a 'path' (or 'label') column" : imageColumn < 0 ? "an 'image' column" : "a 'path' (or 'label') column";
    const found = columns.length ? columns.map((c) => `'${c}'`).join(', ') : 'none';
    error(range(first.start, first.end), 'taxon.missing-column', `The CSV header needs ${missing}; columns found: ${found}`);
    return ds;
  }
  const seen = new Map<string, number>();
  columns.forEach((name, c) => {
    const prev = seen.get(name);
    if (prev !== undefined) {
      diagnostics.push({
        file,
        range: range(first.cells[c].start, first.cells[c].end),
        severity: 'warning',
        code: 'taxon.duplicate-column',
        message: `Column '${name}' appears twice; only the first one (column ${prev + 1}) is used`,
      });
    } else seen.set(name, c);
  });
  const extraColumns: number[] = [];
  for (let c = 0; c < columns.length; c++) if (c !== imageColumn && c !== pathColumn && seen.get(columns[c]) === c) extraColumns.push(c);

  const quotedCount = new Array<number>(columns.length).fill(0);
  const filledCount = new Array<number>(columns.length).fill(0);
  const lineEnding: '\n' | '\r\n' = first.lineEnding === '\r\n' ? '\r\n' : '\n';
  let finalNewline = first.lineEnding !== '';

  const pending: Array<{ item: Item; raw: string; cellRange: Range }> = [];
  let anyArrow = false;
  for (let row = tokenizer.next(); row !== undefined; row = tokenizer.next()) {
    if (isRowError(row)) {
      error(range(row.error.offset, row.error.offset + row.error.length), 'taxon.syntax-error', `CSV syntax error: ${row.error.message}`);
      continue;
    }
    finalNewline = row.lineEnding !== '';
    const cells = row.cells;
    if (cells.length !== columns.length) {
      const r = cells.length > columns.length ? range(cells[columns.length].start, row.end) : range(row.start, row.end);
      error(r, 'taxon.syntax-error', `CSV syntax error: this row has ${cells.length} column${cells.length === 1 ? '' : 's'} but the header has ${columns.length}`);
      continue;
    }
    for (let c = 0; c < cells.length; c++) {
      if (cells[c].value !== '' || cells[c].quoted) filledCount[c]++;
      if (cells[c].quoted) quotedCount[c]++;
    }
    const imageCell = cells[imageColumn];
    if (imageCell.value === '') {
      error(range(row.start, row.end), 'taxon.missing-field', `This row has no image (column '${columns[imageColumn]}' is empty)`);
      continue;
    }
    const pathCell = cells[pathColumn];
    // Positions are shared between ranges (fewer objects for large files; they are never mutated).
    const rowStart = index.position(row.start);
    const rowEnd = index.position(row.end);
    const at = (offset: number): Position => (offset === row.start ? rowStart : offset === row.end ? rowEnd : index.position(offset));
    const item: Item = {
      id: imageCell.value,
      image: imageCell.value,
      labels: [],
      source: {
        file,
        range: { start: rowStart, end: rowEnd },
        imageRange: { start: at(imageCell.start), end: at(imageCell.end) },
        labelRanges: [],
        deleteRange: { start: rowStart, end: index.position(row.next) },
      },
    };
    if (extraColumns.length) {
      const extra: Record<string, unknown> = {};
      for (const c of extraColumns) extra[columns[c]] = cells[c].value;
      item.extra = extra;
    }
    ds.items.push(item);
    if (trimSpaces(pathCell.value) !== '') {
      if (!anyArrow && pathCell.value.includes(' > ')) anyArrow = true;
      pending.push({ item, raw: pathCell.value, cellRange: { start: at(pathCell.start), end: at(pathCell.end) } });
    }
  }

  const separator: CsvSeparator = anyArrow ? ' > ' : '/';
  const taxonomy = ds.taxonomy;
  const cache = new Map<string, number | undefined>();
  for (const { item, raw, cellRange } of pending) {
    let node: number | undefined;
    if (cache.has(raw)) node = cache.get(raw);
    else {
      const parts = splitPath(raw, separator);
      if (parts !== undefined) {
        node = ROOT;
        for (const name of parts) node = taxonomy.add(name, node);
      }
      cache.set(raw, node);
    }
    if (node === undefined) {
      error(cellRange, 'taxon.empty-segment', `The path '${raw}' has an empty level (separator '${separator}'); the row is read as unlabelled`);
      continue;
    }
    if (node === ROOT) continue;
    item.labels.push(node);
    item.source!.labelRanges!.push(cellRange);
  }

  const layout: CsvLayout = {
    columns,
    imageColumn,
    pathColumn,
    separator,
    lineEnding,
    finalNewline,
    quoted: columns.map((_, c) => filledCount[c] > 0 && quotedCount[c] === filledCount[c]),
  };
  ds.extra = { csv: layout };
  return ds;
}

/** Reads a CSV file from disk (size limit and binary detection from `readTextFile`). */
export function readCsv(file: string): Dataset {
  return parseCsv(readTextFile(file), path.resolve(file));
}

/** The layout a CSV dataset was read with, if any. */
export function csvLayout(ds: Dataset): CsvLayout | undefined {
  const layout = ds.extra?.csv as CsvLayout | undefined;
  if (
    ds.format !== 'csv' ||
    !layout ||
    !Array.isArray(layout.columns) ||
    typeof layout.imageColumn !== 'number' ||
    typeof layout.pathColumn !== 'number' ||
    layout.columns[layout.imageColumn] === undefined ||
    layout.columns[layout.pathColumn] === undefined
  ) {
    return undefined;
  }
  return layout;
}

/** Quotes a CSV field when it needs it (comma, quote, line break, surrounding spaces) or when `force`. */
export function csvField(value: string, force = false): string {
  if (force || /[",\r\n]/.test(value) || (value !== '' && (value.charCodeAt(0) === 32 || value.charCodeAt(value.length - 1) === 32))) {
    return `"${value.replace(/"/g, '""')}"`;
  }
  return value;
}

/** Nodes that no item uses: neither a label nor an ancestor of one. */
export function unusedNodes(ds: Dataset): number[] {
  const used = new Uint8Array(ds.taxonomy.size);
  for (const item of ds.items) {
    for (const label of item.labels) {
      for (let n = label; n !== ROOT && !used[n]; n = ds.taxonomy.nodes[n].parent) used[n] = 1;
    }
  }
  const out: number[] = [];
  for (let i = 0; i < used.length; i++) if (!used[i]) out.push(i);
  return out;
}

function namesContain(taxonomy: Taxonomy, text: string): boolean {
  return taxonomy.nodes.some((n) => n.name.includes(text));
}

/**
 * Writes a dataset as CSV (see the module comment for what a CSV cannot hold). A dataset read
 * from CSV keeps its column order, extra columns, separator, quoting and line endings.
 */
export function serializeCsv(ds: Dataset, options: CsvSerializeOptions = {}): string {
  const warn = (message: string): void => {
    options.warnings?.push(message);
  };
  const layout = csvLayout(ds);
  const taxonomy = ds.taxonomy;

  let separator: CsvSeparator = options.separator ?? layout?.separator ?? ' > ';
  if (namesContain(taxonomy, separator)) {
    const other: CsvSeparator = separator === ' > ' ? '/' : ' > ';
    if (options.separator === undefined && !namesContain(taxonomy, other)) separator = other;
    else warn(`Some node names contain the path separator '${separator}'; their paths will not read back the same`);
  }

  let columns: string[];
  let imageColumn: number;
  let pathColumn: number;
  let quoted: boolean[];
  if (layout) {
    columns = layout.columns;
    imageColumn = layout.imageColumn;
    pathColumn = layout.pathColumn;
    quoted = columns.map((_, c) => layout.quoted?.[c] === true);
  } else {
    columns = ['image', 'path'];
    const seen = new Set(columns);
    for (const item of ds.items) {
      if (!item.extra) continue;
      for (const key of Object.keys(item.extra)) {
        if (!seen.has(key.trim().toLowerCase()) && !seen.has(key)) {
          seen.add(key);
          columns.push(key);
        }
      }
    }
    imageColumn = 0;
    pathColumn = 1;
    quoted = columns.map(() => false);
  }
  const lineEnding = layout?.lineEnding ?? '\n';

  const lost = unusedNodes(ds);
  if (lost.length) {
    options.lostNodes?.push(...lost);
    const names = lost.slice(0, 5).map((id) => `'${taxonomy.pathString(id)}'`);
    warn(`${lost.length} taxonomy node${lost.length === 1 ? '' : 's'} that no item uses cannot be written to CSV (it has no taxonomy section): ${names.join(', ')}${lost.length > 5 ? ', ...' : ''}`);
  }
  if (taxonomy.nodes.some((n) => n.description !== undefined || (n.extra && Object.keys(n.extra).length))) {
    warn('Node descriptions and node fields are not written to CSV');
  }
  if (ds.groups.length) warn(`${ds.groups.length} label group${ds.groups.length === 1 ? '' : 's'} cannot be written to CSV`);
  if (ds.items.some((i) => i.id !== i.image)) warn('Item ids that differ from the image path are not written to CSV');
  const multi = ds.items.filter((i) => i.labels.length > 1).length;
  if (multi) warn(`${multi} item${multi === 1 ? ' has' : 's have'} several labels; each label is written as its own row`);

  const pathCache = new Map<number, string>();
  const pathOf = (id: number): string => {
    let s = pathCache.get(id);
    if (s === undefined) {
      s = taxonomy.pathString(id, separator);
      pathCache.set(id, s);
    }
    return s;
  };

  const lines: string[] = [columns.map((c) => csvField(c)).join(',')];
  const cells = new Array<string>(columns.length);
  for (const item of ds.items) {
    const labels: Array<number | undefined> = item.labels.length ? item.labels : [undefined];
    for (const label of labels) {
      for (let c = 0; c < columns.length; c++) {
        let value: string;
        if (c === imageColumn) value = item.image;
        else if (c === pathColumn) value = label === undefined ? '' : pathOf(label);
        else value = stringifyCell(item.extra?.[columns[c]]);
        cells[c] = csvField(value, quoted[c] && value !== '');
      }
      lines.push(cells.join(','));
    }
  }
  const finalNewline = layout ? layout.finalNewline : true;
  return lines.join(lineEnding) + (finalNewline ? lineEnding : '');
}

function stringifyCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}
