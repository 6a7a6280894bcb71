import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset } from '../../src/core/dataset';
import { loadDataset, parseAnnotationText } from '../../src/core/formats/index';
import { applyTextEdits, labelEdits, LabelError, type LabelChange } from '../../src/core/labels/index';
import { tempDir, writeTree } from './helpers';

const AT = 1_700_000_000_000;
const SCRIPT = '<script>alert("x")</script>';
const QUOTES = `say "hi", it's`;

function change(image: string, p: string | string[] | null): LabelChange {
  return { image, path: p === null ? null : typeof p === 'string' ? p.split(' > ') : p, at: AT };
}

/** Loads `rel` from a fresh dataset folder holding `files`. */
function dataset(files: Record<string, string>, rel: string): { ds: Dataset; file: string; text: string } {
  const root = writeTree(tempDir('taxon-labels-'), files);
  const file = path.join(root, rel);
  const ds = loadDataset(file);
  return { ds, file, text: fs.readFileSync(file, 'utf8') };
}

function edited(ds: Dataset, text: string, changes: LabelChange[]): { text: string; ds: Dataset } {
  const out = applyTextEdits(text, labelEdits(ds, text, changes));
  return { text: out, ds: parseAnnotationText(ds.files[0], out, ds.format) };
}

function labels(ds: Dataset): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const item of ds.items) (out[item.image] ??= []).push(...item.labels.map((l) => ds.taxonomy.pathString(l)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV

const CSV = 'image,path,note\nimages/a.jpg,animal > dog,"first, row"\nimages/b.jpg,,second\nimages/c.jpg,animal > cat,x\nimages/c.jpg,vehicle,y\n';

test('CSV: a label rewrites only the path cell of the image row', () => {
  const { ds, text } = dataset({ 'items.csv': CSV }, 'items.csv');
  const edits = labelEdits(ds, text, [change('images/a.jpg', 'animal > cat')]);
  assert.deepEqual(edits, [{ range: { start: { line: 1, character: 13 }, end: { line: 1, character: 25 } }, newText: 'animal > cat' }]);
  const out = edited(ds, text, [change('images/a.jpg', 'animal > cat'), change('images/b.jpg', 'vehicle')]);
  assert.equal(out.text, CSV.replace('animal > dog', 'animal > cat').replace('images/b.jpg,,second', 'images/b.jpg,vehicle,second'));
});

test('CSV: unlabelling empties the cell; the extra rows of a multi-label image go', () => {
  const { ds, text } = dataset({ 'items.csv': CSV }, 'items.csv');
  const out = edited(ds, text, [change('images/a.jpg', null), change('images/c.jpg', 'animal > dog')]);
  assert.equal(out.text, 'image,path,note\nimages/a.jpg,,"first, row"\nimages/b.jpg,,second\nimages/c.jpg,animal > dog,x\n');
});

test('CSV: an image without a row gets one at the end, with empty extra columns; a new path creates its nodes', () => {
  const { ds, text } = dataset({ 'items.csv': CSV.trimEnd() }, 'items.csv');
  const out = edited(ds, text, [change('images/new 1.jpg', 'plant > tree'), change('images/gone.jpg', null)]);
  assert.equal(out.text, CSV + 'images/new 1.jpg,plant > tree,');
  assert.deepEqual(labels(out.ds)['images/new 1.jpg'], ['plant > tree']);
  assert.deepEqual(out.ds.diagnostics, []);
});

test('CSV: names with <script>, quotes and commas are written quoted and read back as the same text', () => {
  const { ds, text } = dataset({ 'items.csv': CSV }, 'items.csv');
  const out = edited(ds, text, [change('images/a.jpg', ['animal', SCRIPT]), change('images/d.jpg', ['animal', QUOTES])]);
  assert.match(out.text, /images\/a\.jpg,"animal > <script>alert\(""x""\)<\/script>","first, row"/);
  assert.deepEqual(labels(out.ds)['images/a.jpg'], [`animal > ${SCRIPT}`]);
  assert.deepEqual(labels(out.ds)['images/d.jpg'], [`animal > ${QUOTES}`]);
  assert.deepEqual(out.ds.diagnostics, []);
});

test("CSV: keeps the file's separator, line endings and quoting; refuses a name holding the separator", () => {
  const crlf = 'image,path\r\n"images/a.jpg","animal/dog"\r\n';
  const { ds, text } = dataset({ 'items.csv': crlf }, 'items.csv');
  const out = edited(ds, text, [change('images/a.jpg', 'animal > cat'), change('images/b.jpg', 'animal > dog')]);
  assert.equal(out.text, 'image,path\r\n"images/a.jpg","animal/cat"\r\n"images/b.jpg","animal/dog"\r\n');
  assert.throws(() => labelEdits(ds, text, [change('images/a.jpg', ['animal', 'cat/dog'])]), (e: Error) => e instanceof LabelError && /'animal > cat\/dog'.*separator '\/'/.test(e.message));
  assert.throws(() => labelEdits(ds, text, [change('images/a.jpg', ['animal', 'a > b'])]), LabelError);
});

test('CSV: refuses image paths that leave the dataset root', () => {
  const { ds, text } = dataset({ 'items.csv': CSV }, 'items.csv');
  assert.throws(() => labelEdits(ds, text, [change('../outside.jpg', 'animal')]), /leaves the dataset root/);
  assert.throws(() => labelEdits(ds, text, [change('/etc/passwd', 'animal')]), /absolute path/);
});

// ---------------------------------------------------------------------------------------------
// JSONL

const JSONL = '{"image": "images/a.jpg", "path": "animal > dog", "score": 0.5}\n{"image": "images/b.jpg"}\n{"image": "images/c.jpg", "paths": ["animal > cat", "vehicle"]}\n';
const TAXONOMY = JSON.stringify({ name: 'root', children: [{ name: 'animal', children: [{ name: 'dog' }, { name: 'cat' }, { name: SCRIPT }] }, { name: 'vehicle' }] });

test('JSONL: replaces the path value only, adds a path where there was none, turns paths into path', () => {
  const { ds, text } = dataset({ 'items.jsonl': JSONL }, 'items.jsonl');
  const edits = labelEdits(ds, text, [change('images/a.jpg', 'animal > cat')]);
  assert.deepEqual(edits, [{ range: { start: { line: 0, character: 34 }, end: { line: 0, character: 48 } }, newText: '"animal > cat"' }]);
  const out = edited(ds, text, [change('images/a.jpg', null), change('images/b.jpg', 'vehicle'), change('images/c.jpg', 'animal > dog')]);
  assert.equal(
    out.text,
    '{"image": "images/a.jpg", "path": null, "score": 0.5}\n{"image": "images/b.jpg", "path": "vehicle"}\n{"image": "images/c.jpg", "path": "animal > dog"}\n',
  );
});

test('JSONL: an image without a line gets one at the end, in the file style (compact, array paths)', () => {
  const compact = '{"image":"images/a.jpg","path":["animal","dog"]}';
  const { ds, text } = dataset({ 'items.jsonl': compact }, 'items.jsonl');
  const out = edited(ds, text, [change('images/z.jpg', ['animal', 'a > b']), change('images/gone.jpg', null)]);
  assert.equal(out.text, compact + '\n{"image":"images/z.jpg","path":["animal","a > b"]}\n');
  assert.deepEqual(labels(out.ds)['images/z.jpg'], ['animal > a > b']);
});

test('JSONL: names with <script> and quotes are JSON strings that read back as the same text', () => {
  const { ds, text } = dataset({ 'items.jsonl': JSONL, 'taxonomy.json': TAXONOMY }, 'items.jsonl');
  const out = edited(ds, text, [change('images/a.jpg', ['animal', SCRIPT])]);
  assert.match(out.text, /"path": "animal > <script>alert\(\\"x\\"\)<\/script>"/);
  assert.deepEqual(labels(out.ds)['images/a.jpg'], [`animal > ${SCRIPT}`]);
});

test('JSONL with a taxonomy file: a path not in it is refused, naming the path', () => {
  const { ds, text } = dataset({ 'items.jsonl': JSONL, 'taxonomy.json': TAXONOMY }, 'items.jsonl');
  assert.throws(
    () => labelEdits(ds, text, [change('images/a.jpg', 'animal > unicorn')]),
    (e: Error) => e instanceof LabelError && e.message.includes("'animal > unicorn'") && e.message.includes('taxonomy.json'),
  );
});

test('JSONL: a byte-order mark shifts the positions of the first line', () => {
  const { ds } = dataset({ 'items.jsonl': JSONL }, 'items.jsonl');
  const text = '\ufeff' + JSONL;
  const out = applyTextEdits(text, labelEdits(ds, text, [change('images/a.jpg', 'vehicle')]));
  assert.equal(out, '\ufeff' + JSONL.replace('"animal > dog"', '"vehicle"'));
});

// ---------------------------------------------------------------------------------------------
// Datumaro

const LABELS = [
  { name: 'dog', parent: 'animal' }, // declared before its parent: label_id 0 is not node 0
  { name: 'animal', parent: '' },
  { name: 'cat', parent: 'animal' },
  { name: SCRIPT, parent: 'animal' },
];
function datumaro(items: unknown[], labels: unknown[] = LABELS): string {
  const lines = items.map((i) => '    ' + JSON.stringify(i));
  return `{\n  "info": {},\n  "categories": {"label": {"labels": ${JSON.stringify(labels)}, "label_groups": [], "attributes": []}},\n  "items": [\n${lines.join(',\n')}\n  ]\n}\n`;
}
const ann = (label_id: number, extra: Record<string, unknown> = {}) => ({ id: 0, type: 'label', attributes: {}, group: 0, label_id, ...extra });

test('Datumaro: changes label_id in place, keeping the annotation fields and the other annotations', () => {
  const bbox = { id: 1, type: 'bbox', label_id: 2, bbox: [0, 0, 1, 1] };
  const text0 = datumaro([{ id: 'a', annotations: [ann(0, { attributes: { note: 1 } }), bbox], image: { path: 'a.jpg' } }]);
  const { ds, text } = dataset({ 'annotations/default.json': text0 }, 'annotations/default.json');
  const out = edited(ds, text, [change('images/default/a.jpg', 'animal > cat')]);
  assert.equal(out.text, text0.replace('"attributes":{"note":1},"group":0,"label_id":0}', '"attributes":{"note":1},"group":0,"label_id":2}'));
  assert.deepEqual(labels(out.ds), { 'images/default/a.jpg': ['animal > cat'] });
  assert.equal(out.ds.diagnostics.length, 0);
});

test('Datumaro: unlabelling removes the label annotations only; a new image gets a new item', () => {
  const bbox = { id: 1, type: 'bbox', bbox: [0, 0, 1, 1] };
  const text0 = datumaro([
    { id: 'a', annotations: [ann(0), bbox], image: { path: 'a.jpg' } },
    { id: 'b', annotations: [], image: { path: 'b.jpg' } },
  ]);
  const { ds, text } = dataset({ 'annotations/default.json': text0 }, 'annotations/default.json');
  const out = edited(ds, text, [change('images/default/a.jpg', null), change('images/default/sub/c.png', ['animal', SCRIPT]), change('images/default/b.jpg', 'animal')]);
  assert.match(out.text, /\{"id":"a","annotations":\[\{"id":1,"type":"bbox","bbox":\[0,0,1,1\]\}\]/);
  assert.match(out.text, /,\n {4}\{"id":"sub\/c","annotations":\[\{"id":0,"type":"label","attributes":\{\},"group":0,"label_id":3\}\],"image":\{"path":"sub\/c\.png"\}\}\n {2}\]/);
  assert.deepEqual(labels(out.ds), { 'images/default/a.jpg': [], 'images/default/b.jpg': ['animal'], 'images/default/sub/c.png': [`animal > ${SCRIPT}`] });
  assert.deepEqual(out.ds.diagnostics, []);
  assert.equal(out.ds.items[2].id, 'sub/c');
});

test('Datumaro: a label not in categories is refused, naming the path', () => {
  const { ds, text } = dataset({ 'annotations/default.json': datumaro([]) }, 'annotations/default.json');
  assert.throws(
    () => labelEdits(ds, text, [change('images/default/a.jpg', 'animal > unicorn')]),
    (e: Error) => e instanceof LabelError && e.message.includes("'animal > unicorn'") && e.message.includes('categories'),
  );
});

test('Datumaro: an empty items array gets the first item', () => {
  const { ds, text } = dataset({ 'annotations/default.json': datumaro([]).replace('[\n\n  ]', '[]') }, 'annotations/default.json');
  const out = edited(ds, text, [change('images/default/x.jpg', 'animal > dog')]);
  assert.deepEqual(labels(out.ds), { 'images/default/x.jpg': ['animal > dog'] });
  assert.deepEqual(out.ds.diagnostics, []);
});

test('Datumaro: files that list every level of the path (OTX) get every level', () => {
  const text0 = datumaro([
    { id: 'a', annotations: [ann(1), ann(0)], image: { path: 'a.jpg' } },
    { id: 'b', annotations: [ann(1), ann(2)], image: { path: 'b.jpg' } },
  ]);
  const { ds, text } = dataset({ 'annotations/default.json': text0 }, 'annotations/default.json');
  const out = edited(ds, text, [change('images/default/a.jpg', 'animal > cat'), change('images/default/c.jpg', 'animal > dog')]);
  assert.deepEqual(labels(out.ds), {
    'images/default/a.jpg': ['animal', 'animal > cat'],
    'images/default/b.jpg': ['animal', 'animal > cat'],
    'images/default/c.jpg': ['animal', 'animal > dog'],
  });
});

test('Datumaro: a file with a syntax error is not edited', () => {
  const { ds } = dataset({ 'annotations/default.json': datumaro([]) }, 'annotations/default.json');
  assert.throws(() => labelEdits(ds, '{"categories": {', [change('images/default/a.jpg', 'animal')]), /syntax error/);
});

test('edits are idempotent: applying the same changes to the result changes nothing', () => {
  const cases: Array<[Record<string, string>, string, LabelChange[]]> = [
    [{ 'items.csv': CSV }, 'items.csv', [change('images/c.jpg', 'animal > dog'), change('images/n.jpg', 'x > y')]],
    [{ 'items.jsonl': JSONL }, 'items.jsonl', [change('images/c.jpg', null), change('images/n.jpg', 'x > y')]],
    [{ 'annotations/default.json': datumaro([{ id: 'a', annotations: [ann(0)], image: { path: 'a.jpg' } }]) }, 'annotations/default.json', [change('images/default/a.jpg', 'animal > cat'), change('images/default/n.jpg', 'animal')]],
  ];
  for (const [files, rel, changes] of cases) {
    const { ds, text } = dataset(files, rel);
    const once = applyTextEdits(text, labelEdits(ds, text, changes));
    assert.notEqual(once, text);
    assert.deepEqual(labelEdits(ds, once, changes), [], rel);
  }
});
