/**
 * The smallest text edits that write label changes into an annotation file's current text, per
 * format. The same edits serve an editor buffer (a workspace edit, so undo works) and the file on
 * disk (`LabelWriter`). Positions come from parsing `text` itself, never from an older read.
 *
 * - Datumaro: the item's `annotations` array gets the new label annotations first, then its other
 *   annotations verbatim (a kept label annotation keeps its fields; only `label_id` changes); an
 *   image without an item gets a new item after the last one. When most labelled items list the
 *   whole path (`animal`, `animal > dog`, one annotation each, as OTX writes them) the new label
 *   does too. Labels not in `categories` are refused: Taxon does not edit a Datumaro taxonomy.
 * - CSV: the path cell of the image's first row is rewritten, its other rows (extra labels) are
 *   removed; an image without a row gets one at the end.
 * - JSONL (and a folder tree's sidecar): the line's `path` value is replaced (`paths` becomes
 *   `path`); an image without a line gets one at the end. With a taxonomy file every path must
 *   exist in it; without one (and in the sidecar) a new path creates its nodes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset, Item } from '../dataset';
import { LineIndex, type Position, type TextEdit } from '../diagnostics';
import { csvField, csvLayout, parseCsv, type CsvSeparator } from '../formats/csv';
import { parseAnnotationText } from '../formats/index';
import { parseJsonl, parseJsonTree, type JsonlLayout, type JsonNode, type JsonObjectNode, type JsonProperty } from '../formats/jsonl';
import type { Taxonomy } from '../taxonomy';
import { checkChange, LabelError, labelFile, lastChangePerImage, showPath, type LabelChange } from './change';

/** Text edits (non-overlapping, in file order) that apply `changes` to `text`, the current content of the dataset's label file. */
export function labelEdits(dataset: Dataset, text: string, changes: readonly LabelChange[]): TextEdit[] {
  const file = labelFile(dataset);
  for (const c of changes) checkChange(dataset, file, c);
  const last = lastChangePerImage(changes);
  if (!last.length) return [];
  const bom = text.charCodeAt(0) === 0xfeff;
  const doc = new TextDoc(bom ? text.slice(1) : text);
  let edits: OffsetEdit[];
  switch (dataset.format) {
    case 'csv':
      edits = csvEdits(file, doc, last);
      break;
    case 'jsonl':
      edits = jsonlEdits(parseAnnotationText(file, doc.text, 'jsonl'), file, doc, last, false);
      break;
    case 'folder':
      edits = jsonlEdits(parseJsonl(doc.text, file), file, doc, last, true);
      break;
    case 'datumaro':
      edits = datumaroEdits(file, doc, last);
      break;
  }
  return toTextEdits(doc, edits, bom);
}

/** Applies non-overlapping text edits (as `labelEdits` returns them) to `text`. */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  if (!edits.length) return text;
  const doc = new TextDoc(text);
  const spans = edits.map((e) => ({ start: doc.offsetAt(e.range.start), end: doc.offsetAt(e.range.end), text: e.newText }));
  spans.sort((a, b) => a.start - b.start || a.end - b.end);
  const out: string[] = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at) throw new Error('applyTextEdits: overlapping edits');
    out.push(text.slice(at, s.start), s.text);
    at = s.end;
  }
  out.push(text.slice(at));
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// Offsets and positions

interface OffsetEdit {
  start: number;
  end: number;
  text: string;
}

/** Text with its line index ('\n' ends a line, as every reader counts them). */
class TextDoc {
  private readonly lines: LineIndex;
  constructor(readonly text: string) {
    this.lines = new LineIndex(text);
  }

  offsetAt(p: Position): number {
    return this.lines.offset(p, this.text.length);
  }

  positionAt(offset: number): Position {
    return this.lines.position(offset);
  }

  slice(item: Item): { start: number; end: number; text: string } {
    const start = this.offsetAt(item.source!.range.start);
    const end = this.offsetAt(item.source!.range.end);
    return { start, end, text: this.text.slice(start, end) };
  }
}

function toTextEdits(doc: TextDoc, edits: OffsetEdit[], bom: boolean): TextEdit[] {
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < edits.length; i++) {
    if (edits[i].start < edits[i - 1].end) throw new Error('labelEdits: overlapping edits (a bug)');
  }
  const shift = (p: Position): Position => (bom && p.line === 0 ? { line: 0, character: p.character + 1 } : p);
  return edits.map((e) => ({ range: { start: shift(doc.positionAt(e.start)), end: shift(doc.positionAt(e.end)) }, newText: e.text }));
}

/** JSON text that stays on one line and survives editors that treat U+2028/U+2029 as line breaks. */
function json(v: unknown): string {
  return JSON.stringify(v).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function lastProp(obj: JsonObjectNode, key: string): JsonProperty | undefined {
  for (let i = obj.props.length - 1; i >= 0; i--) if (obj.props[i].key === key) return obj.props[i];
  return undefined;
}

function end(node: JsonNode): number {
  return node.offset + node.length;
}

function byImage(items: readonly Item[], key: (image: string) => string = (s) => s): Map<string, Item[]> {
  const map = new Map<string, Item[]>();
  for (const item of items) {
    if (!item.source || item.image === '') continue;
    const k = key(item.image);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

// ---------------------------------------------------------------------------------------------
// CSV

function csvEdits(file: string, doc: TextDoc, changes: readonly LabelChange[]): OffsetEdit[] {
  const text = doc.text;
  const ds = parseCsv(text, file);
  const layout = csvLayout(ds);
  if (!layout) {
    if (text.trim() !== '') throw new LabelError(file, 'has no header with an image and a path column; Taxon cannot write labels to it');
    const rows = changes.filter((c) => c.path !== null).map((c) => `${csvField(c.image)},${csvField(csvPath(file, c.path!, ' > '))}`);
    return rows.length ? [{ start: 0, end: text.length, text: ['image,path', ...rows].join('\n') + '\n' }] : [];
  }
  // A file without any path yet takes Taxon's default separator; otherwise the file's own.
  const separator: CsvSeparator = ds.items.some((i) => i.labels.length) ? layout.separator : ' > ';
  const rows = byImage(ds.items);
  const eol = layout.lineEnding;
  const edits: OffsetEdit[] = [];
  const appended: string[] = [];
  for (const c of changes) {
    const value = c.path === null ? '' : csvPath(file, c.path, separator);
    const cell = csvField(value, layout.quoted[layout.pathColumn] === true && value !== '');
    const existing = rows.get(c.image);
    if (!existing) {
      if (c.path === null) continue;
      const cells = layout.columns.map((_, k) =>
        k === layout.imageColumn ? csvField(c.image, layout.quoted[k] === true) : k === layout.pathColumn ? cell : '',
      );
      appended.push(cells.join(','));
      continue;
    }
    const row = doc.slice(existing[0]);
    const span = csvCells(row.text)[layout.pathColumn];
    if (row.text.slice(span[0], span[1]) !== cell) edits.push({ start: row.start + span[0], end: row.start + span[1], text: cell });
    for (const other of existing.slice(1)) {
      const del = other.source!.deleteRange!;
      edits.push({ start: doc.offsetAt(del.start), end: doc.offsetAt(del.end), text: '' });
    }
  }
  if (appended.length) {
    const needsBreak = text !== '' && !text.endsWith('\n');
    edits.push({ start: text.length, end: text.length, text: needsBreak ? eol + appended.join(eol) : appended.join(eol) + eol });
  }
  return edits;
}

/** A path cell, refusing names that would not read back (or would change how the file's other paths read). */
function csvPath(file: string, names: readonly string[], separator: CsvSeparator): string {
  for (const name of names) {
    const clash = name.includes(' > ') ? ' > ' : separator === '/' && name.includes('/') ? '/' : undefined;
    if (clash !== undefined) {
      throw new LabelError(file, `cannot write ${showPath(names)}: the node name ${JSON.stringify(name)} contains the CSV path separator '${clash}'`);
    }
    if (name !== name.trim()) throw new LabelError(file, `cannot write ${showPath(names)}: the node name ${JSON.stringify(name)} has surrounding spaces, which a CSV path cell does not keep`);
  }
  return names.join(separator);
}

/** [start, end) of each cell of one well-formed CSV row (quoted cells with their quotes). */
function csvCells(row: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let i = 0;
  for (;;) {
    const start = i;
    if (row.charCodeAt(i) === 34) {
      i++;
      for (;;) {
        const q = row.indexOf('"', i);
        if (q < 0) {
          i = row.length;
          break;
        }
        if (row.charCodeAt(q + 1) === 34) {
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
    }
    const comma = row.indexOf(',', i);
    spans.push([start, comma < 0 ? row.length : comma]);
    if (comma < 0) return spans;
    i = comma + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// JSONL items file and the folder tree's sidecar

function jsonlEdits(ds: Dataset, file: string, doc: TextDoc, changes: readonly LabelChange[], sidecar: boolean): OffsetEdit[] {
  const layout = ds.extra?.jsonl as JsonlLayout | undefined;
  // parseJsonl records node sources only when a usable taxonomy file fixes the tree.
  const fixed = !sidecar && ds.nodeSources !== undefined;
  const spaced = layout?.spaced ?? true;
  const colon = spaced ? ': ' : ':';
  const comma = spaced ? ', ' : ',';
  const pathValue = (p: string[] | null): string => {
    if (p === null) return 'null';
    const array = layout?.pathStyle === 'array' || p.some((n) => n.includes(' > ') || n !== n.trim());
    return array ? `[${p.map(json).join(comma)}]` : json(p.join(' > '));
  };
  const lines = byImage(ds.items);
  const edits: OffsetEdit[] = [];
  const appended: string[] = [];
  for (const c of changes) {
    if (fixed && c.path !== null && ds.taxonomy.find(c.path) === undefined) {
      const taxonomyFile = ds.files[1] ? path.basename(ds.files[1]) : 'the taxonomy file';
      throw new LabelError(file, `cannot label ${c.image} as ${showPath(c.path)}: that path is not in ${taxonomyFile}; add it there first`);
    }
    const value = pathValue(c.path);
    const existing = lines.get(c.image);
    if (!existing) {
      // A sidecar line with null overrides the folder's label; a JSONL file has nothing to unlabel.
      if (c.path === null && !sidecar) continue;
      appended.push(`{"image"${colon}${json(c.image)}${comma}"path"${colon}${value}}`);
      continue;
    }
    for (const item of existing) {
      const line = doc.slice(item);
      const obj = parseJsonTree(line.text).root;
      if (!obj || obj.type !== 'object') continue;
      const pathProp = lastProp(obj, 'path');
      const pathsProp = lastProp(obj, 'paths');
      if (pathProp) {
        const v = pathProp.value;
        if (line.text.slice(v.offset, end(v)) !== value) edits.push({ start: line.start + v.offset, end: line.start + end(v), text: value });
      } else if (pathsProp) {
        edits.push({ start: line.start + pathsProp.keyOffset, end: line.start + end(pathsProp.value), text: `"path"${colon}${value}` });
      } else {
        const after = end(lastProp(obj, 'image')!.value);
        edits.push({ start: line.start + after, end: line.start + after, text: `${comma}"path"${colon}${value}` });
      }
    }
  }
  if (appended.length) {
    const eol = layout?.lineEnding ?? '\n';
    const text = doc.text;
    const prefix = text !== '' && !text.endsWith('\n') ? eol : '';
    edits.push({ start: text.length, end: text.length, text: prefix + appended.join(eol) + eol });
  }
  return edits;
}

// ---------------------------------------------------------------------------------------------
// Datumaro

function datumaroEdits(file: string, doc: TextDoc, changes: readonly LabelChange[]): OffsetEdit[] {
  const ds = parseAnnotationText(file, doc.text, 'datumaro');
  const sources = ds.nodeSources;
  if (!sources) {
    const syntax = ds.diagnostics.some((d) => d.code === 'taxon.syntax-error');
    throw new LabelError(file, syntax ? 'has a JSON syntax error; fix it before Taxon writes labels to it' : 'is not a Datumaro annotation file Taxon can write labels to');
  }
  const tax = ds.taxonomy;
  // Node ids follow parents-first order; label_id is the label's index in the file.
  const labelIndex = new Int32Array(tax.size);
  tax.nodes
    .map((n) => n.id)
    .sort((a, b) => comparePositions(sources[a]!.range.start, sources[b]!.range.start))
    .forEach((id, index) => (labelIndex[id] = index));
  const wholePath = writesWholePaths(ds.items, tax);
  const items = byImage(ds.items, (image) => path.posix.normalize(image));
  const edits: OffsetEdit[] = [];
  const added: Array<{ image: string; ids: number[] }> = [];
  for (const c of changes) {
    let ids: number[] = [];
    if (c.path !== null) {
      const node = tax.find(c.path);
      if (node === undefined) {
        throw new LabelError(
          file,
          `cannot label ${c.image} as ${showPath(c.path)}: that label is not in the file's categories (Taxon does not add labels to a Datumaro taxonomy; add it to categories.label.labels first)`,
        );
      }
      ids = (wholePath ? tax.ancestry(node) : [node]).map((n) => labelIndex[n]);
    }
    const existing = items.get(path.posix.normalize(c.image));
    if (existing) {
      for (const item of existing) {
        const edit = annotationsEdit(doc, item, ids);
        if (edit) edits.push(edit);
      }
    } else if (ids.length) added.push({ image: c.image, ids });
  }
  if (added.length) edits.push(newItemsEdit(ds, doc, added));
  return edits;
}

function comparePositions(a: Position, b: Position): number {
  return a.line - b.line || a.character - b.character;
}

/** True when most labelled items hold every node of their path (OTX's hierarchical layout). */
function writesWholePaths(items: readonly Item[], tax: Taxonomy): boolean {
  let labelled = 0;
  let whole = 0;
  for (const item of items) {
    const ls = item.labels;
    if (!ls.length) continue;
    labelled++;
    if (ls.length < 2 || ls.some((l) => !(l >= 0 && l < tax.size))) continue;
    let deepest = ls[0];
    for (const l of ls) if (tax.depth(l) > tax.depth(deepest)) deepest = l;
    const chain = tax.ancestry(deepest);
    if (chain.length === ls.length && chain.every((n) => ls.includes(n))) whole++;
  }
  return whole > 0 && whole * 2 >= labelled;
}

function isLabelAnnotation(a: JsonNode): a is JsonObjectNode {
  if (a.type !== 'object') return false;
  const type = lastProp(a, 'type');
  return type === undefined || (type.value.type === 'string' && type.value.value === 'label');
}

function looksSpaced(text: string): boolean {
  return /"\s*:\s/.test(text);
}

function defaultAnnotation(id: number, spaced: boolean): string {
  return spaced ? `{"id": 0, "type": "label", "attributes": {}, "group": 0, "label_id": ${id}}` : `{"id":0,"type":"label","attributes":{},"group":0,"label_id":${id}}`;
}

/** Rewrites an item's `annotations` so its label annotations are exactly `ids`; undefined when they already are. */
function annotationsEdit(doc: TextDoc, item: Item, ids: readonly number[]): OffsetEdit | undefined {
  const span = doc.slice(item);
  const text = span.text;
  const obj = parseJsonTree(text).root;
  if (!obj || obj.type !== 'object') return undefined;
  const spaced = looksSpaced(text);
  const comma = spaced ? ', ' : ',';
  const colon = spaced ? ': ' : ':';
  const annProp = obj.props.find((p) => p.key === 'annotations' && p.value.type === 'array');
  const labels: JsonObjectNode[] = [];
  const others: JsonNode[] = [];
  if (annProp) for (const a of (annProp.value as { items: JsonNode[] }).items) (isLabelAnnotation(a) ? labels : others).push(a);
  const current = labels.map((a) => {
    const v = lastProp(a, 'label_id')?.value;
    return v && v.type === 'number' ? (v.value as number) : NaN;
  });
  if (current.length === ids.length && current.every((id, k) => id === ids[k])) return undefined;
  const written = ids.map((id, k) => {
    const old = labels[k];
    if (!old) return defaultAnnotation(id, spaced);
    const v = lastProp(old, 'label_id')?.value;
    if (v) return text.slice(old.offset, v.offset) + String(id) + text.slice(end(v), end(old));
    const body = text.slice(old.offset, end(old) - 1).trimEnd();
    return `${body}${old.props.length ? comma : ''}"label_id"${colon}${id}}`;
  });
  const array = `[${[...written, ...others.map((o) => text.slice(o.offset, end(o)))].join(comma)}]`;
  if (annProp) return { start: span.start + annProp.value.offset, end: span.start + end(annProp.value), text: array };
  const lastField = obj.props[obj.props.length - 1];
  const at = lastField ? end(lastField.value) : obj.offset + 1;
  return { start: span.start + at, end: span.start + at, text: `${lastField ? comma : ''}"annotations"${colon}${array}` };
}

/** One insertion holding new items for images the file does not list yet. */
function newItemsEdit(ds: Dataset, doc: TextDoc, added: ReadonlyArray<{ image: string; ids: number[] }>): OffsetEdit {
  const text = doc.text;
  const sample = ds.items.length ? doc.slice(ds.items[ds.items.length - 1]).text : '';
  const spaced = sample ? looksSpaced(sample) : false;
  const colon = spaced ? ': ' : ':';
  const comma = spaced ? ', ' : ',';
  const usedIds = new Set(ds.items.map((i) => i.id));
  const fallback = datumaroFallbackLayout(ds);
  const written = added.map(({ image, ids }) => {
    const rel = datumaroImagePath(ds, image, fallback);
    const id = uniqueId(rel, usedIds);
    const anns = ids.map((n) => defaultAnnotation(n, spaced)).join(comma);
    return `{"id"${colon}${json(id)}${comma}"annotations"${colon}[${anns}]${comma}"image"${colon}{"path"${colon}${json(rel)}}}`;
  });
  if (ds.items.length) {
    const lastItem = doc.slice(ds.items[ds.items.length - 1]);
    let separator: string;
    if (ds.items.length >= 2) {
      separator = text.slice(doc.slice(ds.items[ds.items.length - 2]).end, lastItem.start);
    } else {
      const lineStart = text.lastIndexOf('\n', lastItem.start - 1) + 1;
      const indent = text.slice(lineStart, lastItem.start);
      separator = /^[ \t]*$/.test(indent) && lineStart > 0 ? `,\n${indent}` : comma;
    }
    return { start: lastItem.end, end: lastItem.end, text: written.map((w) => separator + w).join('') };
  }
  const root = parseJsonTree(text).root as JsonObjectNode;
  const itemsProp = lastProp(root, 'items');
  const block = `[\n    ${written.join(',\n    ')}\n  ]`;
  if (itemsProp && itemsProp.value.type === 'array') return { start: itemsProp.value.offset, end: end(itemsProp.value), text: block };
  const lastField = root.props[root.props.length - 1];
  const at = lastField ? end(lastField.value) : root.offset + 1;
  return { start: at, end: at, text: `${lastField ? ',' : ''}\n  "items": ${block}` };
}

/** Datumaro reads `images/<path>` when `images/<subset>/` is absent (see formats/index.ts). */
function datumaroFallbackLayout(ds: Dataset): boolean {
  const isDir = (p: string): boolean => {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  return !isDir(path.join(ds.root, 'images', ds.subset ?? 'default')) && isDir(path.join(ds.root, 'images'));
}

/** The `image.path` value that the reader resolves back to `image` (relative to `images/<subset>/`). */
function datumaroImagePath(ds: Dataset, image: string, fallback: boolean): string {
  const prefix = `images/${ds.subset ?? 'default'}/`;
  if (!fallback && image.startsWith(prefix)) return image.slice(prefix.length);
  if (fallback && image.startsWith('images/')) return image.slice('images/'.length);
  return `../../${image}`;
}

/** Datumaro item ids are the image path without its extension, unique in the file. */
function uniqueId(rel: string, used: Set<string>): string {
  const ext = path.posix.extname(rel);
  const candidates = [ext ? rel.slice(0, -ext.length) : rel, rel];
  let id = candidates.find((c) => !used.has(c));
  for (let k = 2; id === undefined; k++) if (!used.has(`${rel}#${k}`)) id = `${rel}#${k}`;
  used.add(id);
  return id;
}
