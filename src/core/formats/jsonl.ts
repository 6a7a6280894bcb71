/**
 * JSONL annotations with a taxonomy file beside them.
 *
 * ## Items file (`*.jsonl`)
 * One JSON object per line; blank lines are allowed and skipped.
 *
 * ```
 * {"image": "images/dog/1.jpg", "path": "animal > dog"}
 * {"image": "images/2.jpg", "path": ["animal", "dog"]}
 * {"image": "images/3.jpg", "paths": ["animal > dog", "vehicle"]}
 * {"image": "images/4.jpg", "path": null}
 * ```
 *
 * - `image` (required, string): the image path relative to the dataset root (the JSONL's folder).
 *   It is also the item's id.
 * - `path`: one label, either a string of node names joined by ` > ` or an array of names (use the
 *   array when a name itself contains ` > `). `null`, `""`, `[]` or an absent `path` mean
 *   unlabelled. A path may stop at an internal node (a partial label).
 * - `paths`: several labels, an array whose entries are written like `path`.
 * - Every other field is kept as is (`item.extra`) and written back after `image` and `path`.
 *
 * ## Taxonomy file
 * `<base>.taxonomy.json` beside `<base>.jsonl` if it exists, else `taxonomy.json` in the same
 * folder (the loader in `./index` picks it). Without one, the taxonomy is built from the paths
 * seen (nodes in order of first appearance); with one, every path must exist in it.
 *
 * ```
 * {"name": "root", "children": [
 *   {"name": "animal", "description": "a living organism", "children": [{"name": "dog"}]}
 * ]}
 * ```
 *
 * - A node is `{"name", "description"?, "children"?: [...]}`; `gloss` is accepted in place of
 *   `description` (and written back under the key the file used); other fields are kept
 *   (`node.extra`). The top-level object's `name` is the implicit root's and is not a node.
 * - The file may also be an object with a `taxonomy` field holding that tree (other top-level
 *   fields are kept and written back), or a bare array of top-level nodes.
 * - Nesting of any depth is read and written without recursion (a 10,000-level tree is fine).
 *
 * ## Positions
 * `source.range`: the line without its line break; `imageRange`: the image string literal;
 * `labelRanges`: each resolved path value (string literal or array); `deleteRange`: the line with
 * its line break; `labelDeleteRanges`: only when `paths` has several entries, each entry with its
 * comma. `nodeSources[i]`: the node's object in the taxonomy file.
 */
import * as path from 'node:path';
import { createScanner } from 'jsonc-parser';
import { type Dataset, emptyDataset, type Item } from '../dataset';
import { type Diagnostic, LineIndex, type Range, START_OF_FILE } from '../diagnostics';
import { closestNode } from '../fuzzy';
import { ROOT, Taxonomy } from '../taxonomy';

// ---------------------------------------------------------------------------------------------
// A small JSON reader that builds a tree with offsets without recursion (jsonc-parser's parser
// recurses and overflows the stack on deeply nested input; its scanner does not).

// jsonc-parser's SyntaxKind / ScanError are `const enum`s, which isolated-module builds cannot inline.
const T_OPEN_BRACE = 1;
const T_CLOSE_BRACE = 2;
const T_OPEN_BRACKET = 3;
const T_CLOSE_BRACKET = 4;
const T_COMMA = 5;
const T_COLON = 6;
const T_NULL = 7;
const T_TRUE = 8;
const T_FALSE = 9;
const T_STRING = 10;
const T_NUMBER = 11;
const T_LINE_COMMENT = 12;
const T_BLOCK_COMMENT = 13;
const T_LINE_BREAK = 14;
const T_TRIVIA = 15;
const T_EOF = 17;

const SCAN_ERRORS: Record<number, string> = {
  1: 'unexpected end of comment',
  2: 'unterminated string',
  3: 'unexpected end of number',
  4: 'invalid unicode escape sequence',
  5: 'invalid escape character in string',
  6: 'invalid character in string (control characters must be escaped, e.g. \\u0007)',
};

export interface JsonNodeBase {
  offset: number;
  length: number;
}
export interface JsonObjectNode extends JsonNodeBase {
  type: 'object';
  props: JsonProperty[];
}
export interface JsonArrayNode extends JsonNodeBase {
  type: 'array';
  items: JsonNode[];
}
export interface JsonScalarNode extends JsonNodeBase {
  type: 'string' | 'number' | 'boolean' | 'null';
  value: string | number | boolean | null;
}
export type JsonNode = JsonObjectNode | JsonArrayNode | JsonScalarNode;
export interface JsonProperty {
  key: string;
  keyOffset: number;
  keyLength: number;
  value: JsonNode;
}
export interface JsonSyntaxError {
  offset: number;
  length: number;
  message: string;
}

/**
 * Parses strict JSON (no comments, no trailing commas) into a tree with offsets, iteratively.
 * Stops at the first error.
 */
export function parseJsonTree(text: string): { root?: JsonNode; error?: JsonSyntaxError } {
  // Valid JSON (almost always) takes the fast path: JSON.parse validates at native speed,
  // then one charCode scan records the offsets. Invalid JSON takes the scanner below for errors.
  let valid = true;
  try {
    JSON.parse(text);
  } catch {
    valid = false;
  }
  if (valid) return { root: validJsonTree(text) };
  const scanner = createScanner(text, false);
  let scanError: JsonSyntaxError | undefined;
  const next = (): number => {
    for (;;) {
      const t = scanner.scan() as number;
      const e = scanner.getTokenError() as number;
      if (e !== 0 && !scanError) {
        scanError = { offset: scanner.getTokenOffset(), length: Math.max(1, scanner.getTokenLength()), message: SCAN_ERRORS[e] ?? 'invalid token' };
      }
      if (t === T_TRIVIA || t === T_LINE_BREAK) continue;
      if (t === T_LINE_COMMENT || t === T_BLOCK_COMMENT) {
        scanError ??= { offset: scanner.getTokenOffset(), length: scanner.getTokenLength(), message: 'comments are not allowed in JSON' };
      }
      return t;
    }
  };
  const fail = (message: string): { error: JsonSyntaxError } => {
    if (scanError) return { error: scanError };
    const offset = scanner.getTokenOffset();
    const atEnd = tok === T_EOF;
    return { error: { offset, length: atEnd ? 0 : Math.max(1, scanner.getTokenLength()), message: atEnd ? `${message} (unexpected end of input)` : message } };
  };

  interface Frame {
    node: JsonObjectNode | JsonArrayNode;
    key?: { key: string; keyOffset: number; keyLength: number };
  }
  const stack: Frame[] = [];
  let tok = next();

  /** Reads `"key" :` in an object (the current token must be the key); returns an error message. */
  const readKey = (frame: Frame): string | undefined => {
    if (tok !== T_STRING) return 'property name expected';
    frame.key = { key: scanner.getTokenValue(), keyOffset: scanner.getTokenOffset(), keyLength: scanner.getTokenLength() };
    tok = next();
    if (tok !== T_COLON) return 'colon expected';
    tok = next();
    return undefined;
  };

  for (;;) {
    if (scanError) return { error: scanError };
    // expect a value
    let value: JsonNode;
    const offset = scanner.getTokenOffset();
    switch (tok) {
      case T_OPEN_BRACE: {
        const node: JsonObjectNode = { type: 'object', offset, length: 0, props: [] };
        tok = next();
        if (tok === T_CLOSE_BRACE) {
          node.length = scanner.getTokenOffset() + 1 - offset;
          tok = next();
          value = node;
          break;
        }
        const frame: Frame = { node };
        stack.push(frame);
        const problem = readKey(frame);
        if (problem) return fail(problem);
        continue;
      }
      case T_OPEN_BRACKET: {
        const node: JsonArrayNode = { type: 'array', offset, length: 0, items: [] };
        tok = next();
        if (tok === T_CLOSE_BRACKET) {
          node.length = scanner.getTokenOffset() + 1 - offset;
          tok = next();
          value = node;
          break;
        }
        stack.push({ node });
        continue;
      }
      case T_STRING:
        value = { type: 'string', offset, length: scanner.getTokenLength(), value: scanner.getTokenValue() };
        tok = next();
        break;
      case T_NUMBER:
        value = { type: 'number', offset, length: scanner.getTokenLength(), value: Number(scanner.getTokenValue()) };
        tok = next();
        break;
      case T_TRUE:
      case T_FALSE:
        value = { type: 'boolean', offset, length: scanner.getTokenLength(), value: tok === T_TRUE };
        tok = next();
        break;
      case T_NULL:
        value = { type: 'null', offset, length: scanner.getTokenLength(), value: null };
        tok = next();
        break;
      default:
        return fail('value expected');
    }
    // attach the completed value, closing as many containers as the input closes
    for (;;) {
      if (scanError) return { error: scanError };
      const frame = stack[stack.length - 1];
      if (!frame) {
        if (tok !== T_EOF) return fail('end of input expected');
        return { root: value };
      }
      const node = frame.node;
      if (node.type === 'object') node.props.push({ ...frame.key!, value });
      else node.items.push(value);
      if (tok === T_COMMA) {
        tok = next();
        if (node.type === 'object') {
          const problem = readKey(frame);
          if (problem) return fail(problem);
        }
        break; // expect the next value
      }
      if ((node.type === 'object' && tok === T_CLOSE_BRACE) || (node.type === 'array' && tok === T_CLOSE_BRACKET)) {
        node.length = scanner.getTokenOffset() + 1 - node.offset;
        stack.pop();
        tok = next();
        value = node;
        continue;
      }
      return fail(node.type === 'object' ? 'comma or closing brace expected' : 'comma or closing bracket expected');
    }
  }
}

/** The plain value of a parsed node (JSON.parse does not recurse on the stack). */
function jsonValue(text: string, node: JsonNode): unknown {
  if (node.type !== 'object' && node.type !== 'array') return (node as JsonScalarNode).value;
  return JSON.parse(text.slice(node.offset, node.offset + node.length));
}

/** Last-wins property lookup, like JSON.parse. */
function propMap(node: JsonObjectNode): Map<string, JsonProperty> {
  const map = new Map<string, JsonProperty>();
  for (const p of node.props) map.set(p.key, p);
  return map;
}

// ---------------------------------------------------------------------------------------------
// Taxonomy file

/** How a taxonomy file was laid out, for writing it back the same way. */
export interface TaxonomyFileLayout {
  shape: 'tree' | 'wrapped' | 'array';
  /** `name` of the top-level tree object (the implicit root). */
  rootName?: string;
  /** Other fields of the top-level tree object. */
  rootExtra?: Record<string, unknown>;
  /** For `wrapped`: the top-level fields in order; `taxonomy` holds `null` as a placeholder. */
  wrapper?: Record<string, unknown>;
  descriptionKey: 'description' | 'gloss';
  /** One level of indentation as found in the file. */
  indent: string;
}

export interface TaxonomyFileResult {
  taxonomy: Taxonomy;
  /** Same index as `taxonomy.nodes`: the node's object in the file. */
  nodeSources: Array<{ file: string; range: Range } | undefined>;
  diagnostics: Diagnostic[];
  /** False when the file could not be read as a taxonomy at all (syntax error, wrong shape, empty). */
  usable: boolean;
  layout: TaxonomyFileLayout;
}

/** Parses a taxonomy file (pure). See the module comment for the format. */
export function parseTaxonomyFile(text: string, file: string): TaxonomyFileResult {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const taxonomy = new Taxonomy();
  const nodeSources: TaxonomyFileResult['nodeSources'] = [];
  const diagnostics: Diagnostic[] = [];
  const layout: TaxonomyFileLayout = { shape: 'tree', descriptionKey: 'description', indent: detectIndent(text) };
  const result: TaxonomyFileResult = { taxonomy, nodeSources, diagnostics, usable: false, layout };
  const index = new LineIndex(text);
  const rangeOf = (offset: number, length: number): Range => index.range(offset, length);
  const report = (r: Range, code: string, message: string, severity: Diagnostic['severity'] = 'error'): void => {
    diagnostics.push({ file, range: r, severity, code, message });
  };

  if (text.trim() === '') {
    report(START_OF_FILE, 'taxon.empty-file', 'The taxonomy file is empty');
    return result;
  }
  const parsed = parseJsonTree(text);
  if (parsed.error) {
    const e = parsed.error;
    report(rangeOf(e.offset, e.length), 'taxon.syntax-error', `JSON syntax error: ${e.message}`);
    return result;
  }
  const top = parsed.root!;
  let tree: JsonNode = top;
  if (top.type === 'object') {
    const props = propMap(top);
    const wrapped = props.get('taxonomy');
    if (wrapped && (wrapped.value.type === 'object' || wrapped.value.type === 'array') && !props.has('children')) {
      layout.shape = 'wrapped';
      const wrapper: Record<string, unknown> = {};
      for (const p of top.props) wrapper[p.key] = p.key === 'taxonomy' ? null : jsonValue(text, p.value);
      layout.wrapper = wrapper;
      tree = wrapped.value;
    }
  }
  let topChildren: JsonNode | undefined;
  if (tree.type === 'array') {
    if (layout.shape !== 'wrapped') layout.shape = 'array';
    topChildren = tree;
  } else if (tree.type === 'object') {
    const rootExtra: Record<string, unknown> = {};
    for (const p of tree.props) {
      if (p.key === 'children') topChildren = p.value;
      else if (p.key === 'name' && p.value.type === 'string') layout.rootName = p.value.value as string;
      else rootExtra[p.key] = jsonValue(text, p.value);
    }
    if (Object.keys(rootExtra).length) layout.rootExtra = rootExtra;
    if (topChildren === undefined) {
      report(rangeOf(tree.offset, 1), 'taxon.missing-field', "The taxonomy has no 'children' list: expected {\"name\": \"root\", \"children\": [...]}");
    }
  } else {
    report(rangeOf(tree.offset, tree.length), 'taxon.not-an-object', 'The taxonomy file must hold an object {"name": "root", "children": [...]}');
    return result;
  }
  result.usable = true;

  let descriptionKeyDecided = false;
  // Depth-first, pre-order: a node's children are processed before its next sibling.
  const work: Array<{ node: JsonNode; parent: number }> = [];
  const pushList = (list: JsonNode, parent: number): void => {
    if (list.type !== 'array') {
      report(rangeOf(list.offset, list.length), 'taxon.wrong-type', "'children' must be an array of nodes");
      return;
    }
    for (let i = list.items.length - 1; i >= 0; i--) work.push({ node: list.items[i], parent });
  };
  if (topChildren !== undefined) pushList(topChildren, ROOT);
  while (work.length) {
    const { node, parent } = work.pop()!;
    if (node.type !== 'object') {
      report(rangeOf(node.offset, node.length), 'taxon.not-an-object', 'A taxonomy node must be an object with a "name"');
      continue;
    }
    const props = propMap(node);
    const nameProp = props.get('name');
    if (!nameProp) {
      report(rangeOf(node.offset, 1), 'taxon.missing-field', 'This taxonomy node has no "name"; it and its children are skipped');
      continue;
    }
    if (nameProp.value.type !== 'string') {
      report(rangeOf(nameProp.value.offset, nameProp.value.length), 'taxon.wrong-type', 'A node name must be a string; this node and its children are skipped');
      continue;
    }
    const name = nameProp.value.value as string;
    if (name.trim() === '') {
      report(rangeOf(nameProp.value.offset, nameProp.value.length), 'taxon.empty-name', 'A node name must not be empty; this node and its children are skipped');
      continue;
    }
    const nameRange = rangeOf(nameProp.value.offset, nameProp.value.length);
    if (taxonomy.child(parent, name) !== undefined) {
      const where = parent === ROOT ? 'at the top level' : `under '${taxonomy.pathString(parent)}'`;
      report(nameRange, 'taxon.duplicate-sibling', `Another node named '${name}' already exists ${where}; sibling names must be unique`);
    }
    const id = taxonomy.addUnchecked(name, parent);
    nodeSources[id] = { file, range: rangeOf(node.offset, node.length) };
    const tn = taxonomy.nodes[id];
    let descKey: 'description' | 'gloss' | undefined;
    const desc = props.get('description');
    const gloss = props.get('gloss');
    if (desc && desc.value.type === 'string') descKey = 'description';
    else if (gloss && gloss.value.type === 'string') descKey = 'gloss';
    if (descKey) {
      tn.description = (props.get(descKey)!.value as JsonScalarNode).value as string;
      if (!descriptionKeyDecided) {
        layout.descriptionKey = descKey;
        descriptionKeyDecided = true;
      }
    }
    let extra: Record<string, unknown> | undefined;
    let children: JsonNode | undefined;
    for (const [key, p] of props) {
      if (key === 'name' || key === descKey) continue;
      if (key === 'children') {
        children = p.value;
        continue;
      }
      (extra ??= {})[key] = jsonValue(text, p.value);
    }
    if (extra) tn.extra = extra;
    if (children !== undefined && children.type !== 'null') pushList(children, id);
  }
  return result;
}

function detectIndent(text: string): string {
  const m = /\n([ \t]+)["{[]/.exec(text.slice(0, 4096));
  return m ? m[1] : '  ';
}

// ---------------------------------------------------------------------------------------------
// Items file

/** How a JSONL file was written; stored in `ds.extra.jsonl` for writing it back the same way. */
export interface JsonlLayout {
  /** Paths as `"a > b"` strings or as `["a", "b"]` arrays (from the first labelled line). */
  pathStyle: 'string' | 'array';
  /** Unlabelled items as `"path": null` or without a path (from the first unlabelled line). */
  unlabelled: 'null' | 'absent';
  /** `{"image": "x"}` (spaced) or `{"image":"x"}` (compact), from the first line. */
  spaced: boolean;
  lineEnding: '\n' | '\r\n';
  taxonomy?: TaxonomyFileLayout;
}

export interface JsonlSerializeOptions {
  /** Receives one human-readable line per kind of information the format cannot hold. */
  warnings?: string[];
}

/**
 * Parses a JSONL items file (pure). `taxonomy` is the taxonomy file's text, when there is one;
 * without it (or when it is unusable) the taxonomy is built from the paths.
 */
export function parseJsonl(text: string, file: string, taxonomy?: { text: string; file: string }): Dataset {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const ds = emptyDataset('jsonl', path.dirname(file), taxonomy ? [file, taxonomy.file] : [file]);
  const diagnostics = ds.diagnostics;
  const layout: JsonlLayout = { pathStyle: 'string', unlabelled: 'null', spaced: true, lineEnding: text.includes('\r\n') ? '\r\n' : '\n' };
  let fixed = false;
  let taxonomyFile: string | undefined;
  if (taxonomy) {
    const t = parseTaxonomyFile(taxonomy.text, taxonomy.file);
    diagnostics.push(...t.diagnostics);
    layout.taxonomy = t.layout;
    if (t.usable) {
      ds.taxonomy = t.taxonomy;
      ds.nodeSources = t.nodeSources;
      fixed = true;
      taxonomyFile = taxonomy.file;
    }
  }
  const tax = ds.taxonomy;

  if (text.trim() === '') {
    diagnostics.push({ file, range: START_OF_FILE, severity: 'warning', code: 'taxon.empty-file', message: 'The JSONL file has no items' });
    ds.extra = { jsonl: layout };
    return ds;
  }

  let sawLabelled = false;
  let sawUnlabelled = false;
  let sawObject = false;
  const resolveCache = new Map<string, number | undefined>();

  let lineNo = 0;
  for (let start = 0; start <= text.length; lineNo++) {
    const nl = text.indexOf('\n', start);
    const next = nl < 0 ? text.length + 1 : nl + 1;
    let end = nl < 0 ? text.length : nl;
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    const lineStart = start;
    start = next;
    const line = text.slice(lineStart, end);
    if (line.trim() === '') {
      if (nl < 0) break;
      continue;
    }
    const L = lineNo;
    const r = (a: number, b: number): Range => ({ start: { line: L, character: a }, end: { line: L, character: b } });
    const nodeRange = (n: JsonNodeBase): Range => r(n.offset, n.offset + n.length);
    const error = (range: Range, code: string, message: string, fixes?: Diagnostic['fixes']): void => {
      const d: Diagnostic = { file, range, severity: 'error', code, message };
      if (fixes) d.fixes = fixes;
      diagnostics.push(d);
    };

    const parsed = parseJsonTree(line);
    if (parsed.error) {
      const e = parsed.error;
      error(r(e.offset, e.offset + Math.max(e.length, e.offset >= line.length ? 0 : 1)), 'taxon.syntax-error', `JSON syntax error: ${e.message}`);
      if (nl < 0) break;
      continue;
    }
    const obj = parsed.root!;
    if (obj.type !== 'object') {
      error(nodeRange(obj), 'taxon.not-an-object', `Each line must be a JSON object like {"image": "...", "path": "..."}; this line is ${describeType(obj)}`);
      if (nl < 0) break;
      continue;
    }
    if (!sawObject) {
      sawObject = true;
      const p0 = obj.props[0];
      layout.spaced = p0 === undefined || line.slice(p0.keyOffset + p0.keyLength, p0.value.offset).includes(' ');
    }
    const props = propMap(obj);
    const imageProp = props.get('image');
    if (!imageProp) {
      error(nodeRange(obj), 'taxon.missing-field', 'This item has no "image" field');
      if (nl < 0) break;
      continue;
    }
    if (imageProp.value.type !== 'string' || imageProp.value.value === '') {
      const problem = imageProp.value.type === 'string' ? 'taxon.missing-field' : 'taxon.wrong-type';
      error(nodeRange(imageProp.value), problem, problem === 'taxon.wrong-type' ? '"image" must be a string (a path relative to the dataset root)' : '"image" is empty');
      if (nl < 0) break;
      continue;
    }
    const image = imageProp.value.value as string;
    const item: Item = {
      id: image,
      image,
      labels: [],
      source: { file, range: r(0, line.length), imageRange: nodeRange(imageProp.value), labelRanges: [], deleteRange: { start: { line: L, character: 0 }, end: nl < 0 ? { line: L, character: end - lineStart } : { line: L + 1, character: 0 } } },
    };

    const pathProp = props.get('path');
    const pathsProp = props.get('paths');
    const skipKeys = new Set(['image']);
    // label values to resolve: [value node, entry index in `paths` or -1]
    const entries: JsonNode[] = [];
    let listNode: JsonArrayNode | undefined;
    if (pathProp) {
      skipKeys.add('path');
      if (pathsProp) error(r(pathsProp.keyOffset, pathsProp.keyOffset + pathsProp.keyLength), 'taxon.conflicting-fields', 'Use either "path" or "paths", not both; "paths" is ignored');
      entries.push(pathProp.value);
    } else if (pathsProp) {
      skipKeys.add('paths');
      const v = pathsProp.value;
      if (v.type === 'array') {
        listNode = v;
        entries.push(...v.items);
      } else if (v.type !== 'null') {
        error(nodeRange(v), 'taxon.wrong-type', '"paths" must be an array of paths ("a > b" strings or arrays of names)');
      }
    }
    const labelRanges: Range[] = [];
    const labelDeleteRanges: Range[] = [];
    for (let k = 0; k < entries.length; k++) {
      const v = entries[k];
      const names = pathNames(v);
      if (names === 'wrong-type') {
        error(nodeRange(v), 'taxon.wrong-type', 'A path must be a string of names joined by " > " or an array of names');
        continue;
      }
      if (names === 'empty-segment') {
        error(nodeRange(v), 'taxon.empty-segment', 'This path has an empty level (a " > " with nothing on one side, or an empty name)');
        continue;
      }
      if (names.length === 0) continue; // unlabelled
      if (!sawLabelled) {
        sawLabelled = true;
        layout.pathStyle = v.type === 'array' ? 'array' : 'string';
      }
      let node: number | undefined;
      if (fixed) {
        const key = names.join('\u0000');
        if (resolveCache.has(key)) node = resolveCache.get(key);
        else {
          node = tax.find(names);
          resolveCache.set(key, node);
        }
        if (node === undefined) {
          const shown = names.join(' > ');
          const suggestion = closestNode(tax, names);
          const fixes =
            suggestion === undefined
              ? undefined
              : [
                  {
                    title: `Change to '${tax.pathString(suggestion)}'`,
                    edits: [{ range: nodeRange(v), newText: v.type === 'array' ? JSON.stringify(tax.path(suggestion)) : JSON.stringify(tax.pathString(suggestion)) }],
                  },
                ];
          const hint = suggestion === undefined ? '' : `; did you mean '${tax.pathString(suggestion)}'?`;
          error(nodeRange(v), 'taxon.unknown-label', `Unknown label '${shown}': it is not in the taxonomy file ${path.basename(taxonomyFile!)}${hint}`, fixes);
          continue;
        }
      } else {
        node = ROOT;
        for (const name of names) node = tax.add(name, node);
      }
      item.labels.push(node);
      labelRanges.push(nodeRange(v));
      if (listNode && listNode.items.length > 1) {
        const items = listNode.items;
        labelDeleteRanges.push(k < items.length - 1 ? r(v.offset, items[k + 1].offset) : r(items[k - 1].offset + items[k - 1].length, v.offset + v.length));
      }
    }
    if (item.labels.length === 0 && !sawUnlabelled && entries.length <= 1) {
      const v = entries[0];
      if (v === undefined || v.type === 'null') {
        sawUnlabelled = true;
        layout.unlabelled = v === undefined ? 'absent' : 'null';
      }
    }
    item.source!.labelRanges = labelRanges;
    if (listNode && listNode.items.length > 1) item.source!.labelDeleteRanges = labelDeleteRanges;

    let extra: Record<string, unknown> | undefined;
    for (const [key, p] of props) {
      if (skipKeys.has(key)) continue;
      (extra ??= {})[key] = jsonValue(line, p.value);
    }
    if (extra) item.extra = extra;
    ds.items.push(item);
    if (nl < 0) break;
  }
  ds.extra = { jsonl: layout };
  return ds;
}

function describeType(n: JsonNode): string {
  switch (n.type) {
    case 'array':
      return 'an array';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'null':
      return 'null';
    default:
      return 'an object';
  }
}

/** The names of a path value; [] = unlabelled. */
function pathNames(v: JsonNode): string[] | 'wrong-type' | 'empty-segment' {
  if (v.type === 'null') return [];
  if (v.type === 'string') {
    const s = trimSpaces(v.value as string);
    if (s === '') return [];
    if (s.endsWith(' >') || s.startsWith('> ')) return 'empty-segment';
    const parts = s.split(' > ');
    for (const p of parts) if (p.trim() === '') return 'empty-segment';
    return parts;
  }
  if (v.type === 'array') {
    const names: string[] = [];
    for (const e of v.items) {
      if (e.type !== 'string') return 'wrong-type';
      if ((e.value as string).trim() === '') return 'empty-segment';
      names.push(e.value as string);
    }
    return names;
  }
  return 'wrong-type';
}

function trimSpaces(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  return s.slice(a, b);
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Levels deeper than this are written without line breaks (indentation would grow quadratically). */
const MAX_PRETTY_LEVEL = 64;

/**
 * Writes the items file (one line per item: `image`, then `path` or `paths`, then the kept
 * fields) and the taxonomy file (the nested tree, with descriptions and node fields).
 */
export function serializeJsonl(ds: Dataset, options: JsonlSerializeOptions = {}): { items: string; taxonomy: string } {
  const layout = ds.format === 'jsonl' ? (ds.extra?.jsonl as JsonlLayout | undefined) : undefined;
  const tax = ds.taxonomy;
  const warn = (m: string): void => {
    options.warnings?.push(m);
  };
  if (ds.groups.length) warn(`${ds.groups.length} label group${ds.groups.length === 1 ? '' : 's'} cannot be written to JSONL`);
  if (ds.items.some((i) => i.id !== i.image)) warn('Item ids that differ from the image path are not written to JSONL');

  const pathStyle = layout?.pathStyle ?? 'string';
  const needsArray = new Uint8Array(tax.size);
  for (const n of tax.nodes) {
    const parent = n.parent === ROOT ? 0 : needsArray[n.parent];
    needsArray[n.id] = parent || n.name.includes(' > ') || n.name !== trimSpaces(n.name) || n.name.trim() === '' ? 1 : 0;
  }
  // parents may come after children in `nodes`: settle by walking the tree
  for (const id of tax.walk()) {
    const n = tax.nodes[id];
    if (n.parent !== ROOT && needsArray[n.parent]) needsArray[id] = 1;
  }
  const cache = new Map<number, unknown>();
  const pathValue = (id: number): unknown => {
    let v = cache.get(id);
    if (v === undefined) {
      v = pathStyle === 'array' || needsArray[id] ? tax.path(id) : tax.pathString(id);
      cache.set(id, v);
    }
    return v;
  };

  const spaced = layout?.spaced ?? true;
  const colon = spaced ? ': ' : ':';
  const comma = spaced ? ', ' : ',';
  const unlabelled = layout?.unlabelled ?? 'null';
  // One-line JSON in the file's style; deep values (past 100 levels) fall back to JSON.stringify.
  const inline = (v: unknown, depth = 0): string => {
    if (!spaced || depth > 100 || v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
    if (Array.isArray(v)) return `[${v.map((e) => (e === undefined ? 'null' : inline(e, depth + 1))).join(comma)}]`;
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(v);
    const parts: string[] = [];
    for (const [k, e] of Object.entries(v)) if (e !== undefined && typeof e !== 'function') parts.push(`${JSON.stringify(k)}${colon}${inline(e, depth + 1)}`);
    return `{${parts.join(comma)}}`;
  };
  const lines: string[] = [];
  for (const item of ds.items) {
    const parts: string[] = [`"image"${colon}${JSON.stringify(item.image)}`];
    const written = new Set(['image']);
    if (item.labels.length === 1) {
      parts.push(`"path"${colon}${inline(pathValue(item.labels[0]))}`);
      written.add('path');
    } else if (item.labels.length > 1) {
      parts.push(`"paths"${colon}${inline(item.labels.map(pathValue))}`);
      written.add('paths');
    } else if (unlabelled === 'null' && !(item.extra && 'path' in item.extra)) {
      parts.push(`"path"${colon}null`);
      written.add('path');
    }
    if (item.extra) {
      for (const [key, value] of Object.entries(item.extra)) {
        if (written.has(key) || value === undefined) continue;
        parts.push(`${JSON.stringify(key)}${colon}${inline(value)}`);
      }
    }
    lines.push(`{${parts.join(comma)}}`);
  }
  const eol = layout?.lineEnding ?? '\n';
  const items = lines.length ? lines.join(eol) + eol : '';
  return { items, taxonomy: serializeTaxonomyFile(tax, layout?.taxonomy) };
}

/** Writes a taxonomy as the nested-tree JSON file (iteratively: any depth). */
export function serializeTaxonomyFile(tax: Taxonomy, layout?: TaxonomyFileLayout): string {
  const unit = layout?.indent ?? '  ';
  const descKey = layout?.descriptionKey ?? 'description';
  const out: string[] = [];
  const nl = (level: number): string => (level <= MAX_PRETTY_LEVEL ? '\n' + unit.repeat(level) : '');
  const sp = (level: number): string => (level <= MAX_PRETTY_LEVEL ? ' ' : '');
  const valueAt = (v: unknown, level: number): string => {
    const s = level <= MAX_PRETTY_LEVEL ? JSON.stringify(v, null, unit) : JSON.stringify(v);
    return level <= MAX_PRETTY_LEVEL ? s.replace(/\n/g, nl(level)) : s;
  };
  const field = (key: string, v: unknown, level: number): string => `${nl(level)}${JSON.stringify(key)}:${sp(level)}${valueAt(v, level)}`;

  type Task = string | { id: number; level: number };
  const emitTree = (level: number): void => {
    const rootFields: string[] = [field('name', layout?.rootName ?? 'root', level + 1)];
    for (const [k, v] of Object.entries(layout?.rootExtra ?? {})) rootFields.push(field(k, v, level + 1));
    out.push('{' + rootFields.join(','));
    const stack: Task[] = [];
    const pushChildren = (kids: readonly number[], level: number, closing: string): void => {
      if (!kids.length) {
        stack.push(closing);
        return;
      }
      out.push(`,${nl(level + 1)}"children":${sp(level + 1)}[`);
      stack.push(`${nl(level + 1)}]${closing}`);
      for (let i = kids.length - 1; i >= 0; i--) {
        stack.push({ id: kids[i], level: level + 2 });
        stack.push((i > 0 ? ',' : '') + nl(level + 2));
      }
    };
    pushChildren(tax.roots, level, `${nl(level)}}`);
    while (stack.length) {
      const task = stack.pop()!;
      if (typeof task === 'string') {
        out.push(task);
        continue;
      }
      const node = tax.nodes[task.id];
      const L = task.level;
      const fields: string[] = [field('name', node.name, L + 1)];
      if (node.description !== undefined) fields.push(field(descKey, node.description, L + 1));
      if (node.extra) for (const [k, v] of Object.entries(node.extra)) if (k !== 'children' && k !== 'name' && v !== undefined) fields.push(field(k, v, L + 1));
      out.push('{' + fields.join(','));
      pushChildren(node.children, L, `${nl(L)}}`);
    }
  };

  if (layout?.shape === 'wrapped' && layout.wrapper) {
    const entries = Object.entries(layout.wrapper);
    out.push('{');
    entries.forEach(([k, v], i) => {
      out.push(`${i ? ',' : ''}${nl(1)}${JSON.stringify(k)}: `);
      if (k === 'taxonomy') emitTree(1);
      else out.push(valueAt(v, 1));
    });
    out.push('\n}\n');
  } else {
    emitTree(0);
    out.push('\n');
  }
  return out.join('');
}

/**
 * The JsonNode tree of text that JSON.parse has accepted: no error handling needed, one pass,
 * an explicit stack (10,000 levels deep is fine).
 */
function validJsonTree(text: string): JsonNode {
  let i = 0;
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else return c;
    }
  };
  const readString = (): string => {
    const start = i; // at the opening quote
    let escaped = false;
    i++;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        i += 2;
      } else i++;
    }
    i++;
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
  };
  type Open = { node: JsonObjectNode | JsonArrayNode; key?: { key: string; keyOffset: number; keyLength: number } };
  const stack: Open[] = [];
  let root: JsonNode | undefined;
  const readKey = (frame: Open) => {
    ws();
    const keyOffset = i;
    const key = readString();
    frame.key = { key, keyOffset, keyLength: i - keyOffset };
    ws();
    i++; // colon
  };
  for (;;) {
    let c = ws();
    const offset = i;
    let value: JsonNode | undefined;
    if (c === 123) {
      i++;
      const node: JsonObjectNode = { type: 'object', offset, length: 0, props: [] };
      if (ws() === 125) {
        i++;
        node.length = i - offset;
        value = node;
      } else {
        const frame: Open = { node };
        stack.push(frame);
        readKey(frame);
        continue;
      }
    } else if (c === 91) {
      i++;
      const node: JsonArrayNode = { type: 'array', offset, length: 0, items: [] };
      if (ws() === 93) {
        i++;
        node.length = i - offset;
        value = node;
      } else {
        stack.push({ node });
        continue;
      }
    } else if (c === 34) {
      const v = readString();
      value = { type: 'string', offset, length: i - offset, value: v };
    } else if (c === 116 || c === 102 || c === 110) {
      const len = c === 102 ? 5 : 4;
      i += len;
      value = c === 110 ? { type: 'null', offset, length: len, value: null } : { type: 'boolean', offset, length: len, value: c === 116 };
    } else {
      while (i < text.length) {
        const d = text.charCodeAt(i);
        if ((d >= 48 && d <= 57) || d === 45 || d === 43 || d === 46 || d === 101 || d === 69) i++;
        else break;
      }
      value = { type: 'number', offset, length: i - offset, value: Number(text.slice(offset, i)) };
    }
    // attach, closing as many containers as the text closes
    for (;;) {
      const frame = stack[stack.length - 1];
      if (!frame) {
        root = value;
        return root;
      }
      if (frame.node.type === 'object') {
        const k = frame.key!;
        frame.node.props.push({ key: k.key, keyOffset: k.keyOffset, keyLength: k.keyLength, value: value! });
      } else frame.node.items.push(value!);
      c = ws();
      if (c === 44) {
        i++;
        if (frame.node.type === 'object') readKey(frame);
        break;
      }
      i++; // closing bracket or brace
      frame.node.length = i - frame.node.offset;
      stack.pop();
      value = frame.node;
    }
  }
}

/**
 * The names and parents of a taxonomy file's nodes, as flat arrays, for showing the tree before
 * the items are read. Node ids (array indices) are in pre-order, like `parseTaxonomyFile`, so that
 * they agree with the full reading. No checks beyond the shape: `undefined` when the text is not
 * a recognisable tree, and the full reading reports why.
 */
export interface TaxonomyOutline {
  names: string[];
  /** The parent's id, or -1 for a top-level node. */
  parents: Int32Array;
  /** [id, description] for the nodes that have one. */
  descriptions: Array<[number, string]>;
}

export function readTaxonomyOutline(text: string): TaxonomyOutline | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return undefined;
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(value) && value.taxonomy !== undefined && value.children === undefined) value = value.taxonomy;
  const top = Array.isArray(value) ? value : isObject(value) && Array.isArray(value.children) ? value.children : undefined;
  if (!top) return undefined;
  const names: string[] = [];
  let parents = new Int32Array(1024);
  const descriptions: Array<[number, string]> = [];
  // an explicit stack of (list, next index, parent id): pre-order without recursion
  const lists: unknown[][] = [top];
  const next: number[] = [0];
  const owner: number[] = [ROOT];
  while (lists.length) {
    const d = lists.length - 1;
    const list = lists[d];
    const i = next[d];
    if (i >= list.length) {
      lists.pop();
      next.pop();
      owner.pop();
      continue;
    }
    next[d] = i + 1;
    const entry = list[i];
    if (!isObject(entry) || typeof entry.name !== 'string' || entry.name === '') return undefined;
    const id = names.length;
    if (id === parents.length) {
      const grown = new Int32Array(parents.length * 2);
      grown.set(parents);
      parents = grown;
    }
    names.push(entry.name);
    parents[id] = owner[d];
    const description = typeof entry.description === 'string' ? entry.description : typeof entry.gloss === 'string' ? entry.gloss : undefined;
    if (description !== undefined) descriptions.push([id, description]);
    if (Array.isArray(entry.children) && entry.children.length) {
      lists.push(entry.children);
      next.push(0);
      owner.push(id);
    }
  }
  return { names, parents: parents.slice(0, names.length), descriptions };
}
