import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCsv, serializeCsv, csvLayout } from '../../src/core/formats/csv';
import { emptyDataset, type Dataset } from '../../src/core/dataset';
import type { Range } from '../../src/core/diagnostics';

const FILE = path.resolve('/data/set/labels.csv');

function rng(line: number, a: number, endLine: number, b: number): Range {
  return { start: { line, character: a }, end: { line: endLine, character: b } };
}

function paths(ds: Dataset): Array<[string, string[]]> {
  return ds.items.map((i) => [i.image, i.labels.map((l) => ds.taxonomy.pathString(l))]);
}

function codes(ds: Dataset): string[] {
  return ds.diagnostics.map((d) => d.code);
}

test('reads " > " separated paths into a taxonomy built in order of first appearance', () => {
  const ds = parseCsv('image,path\na.jpg,animal > dog\nb.jpg,vehicle > car\nc.jpg,animal > cat\n', FILE);
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.format, 'csv');
  assert.equal(ds.root, path.dirname(FILE));
  assert.deepEqual(ds.files, [FILE]);
  assert.deepEqual(
    ds.taxonomy.nodes.map((n) => ds.taxonomy.pathString(n.id)),
    ['animal', 'animal > dog', 'vehicle', 'vehicle > car', 'animal > cat'],
  );
  assert.deepEqual(paths(ds), [
    ['a.jpg', ['animal > dog']],
    ['b.jpg', ['vehicle > car']],
    ['c.jpg', ['animal > cat']],
  ]);
  assert.equal(ds.items[0].id, 'a.jpg');
  assert.equal(csvLayout(ds)?.separator, ' > ');
});

test('reads "/" separated paths when no row contains " > "', () => {
  const ds = parseCsv('image,path\na.jpg,animal/dog\nb.jpg,animal\n', FILE);
  assert.deepEqual(paths(ds), [
    ['a.jpg', ['animal > dog']],
    ['b.jpg', ['animal']],
  ]);
  assert.equal(csvLayout(ds)?.separator, '/');
});

test('with the " > " separator a "/" inside a name is part of the name', () => {
  const ds = parseCsv('image,path\na.jpg,food > food/drink\nb.jpg,food\n', FILE);
  assert.deepEqual(ds.taxonomy.path(ds.items[0].labels[0]), ['food', 'food/drink']);
});

test('a path to an internal node is a partial label and an empty path cell is an unlabelled item', () => {
  const ds = parseCsv('image,path\na.jpg,animal > dog\nb.jpg,animal\nc.jpg,\nd.jpg,"  "\n', FILE);
  assert.deepEqual(paths(ds), [
    ['a.jpg', ['animal > dog']],
    ['b.jpg', ['animal']],
    ['c.jpg', []],
    ['d.jpg', []],
  ]);
  assert.equal(ds.taxonomy.isLeaf(ds.items[1].labels[0]), false);
  assert.deepEqual(ds.items[2].source?.labelRanges, []);
  assert.deepEqual(ds.diagnostics, []);
});

test('uses the path column when both label and path exist, and falls back to label only without path', () => {
  const both = parseCsv('image,label,path\na.jpg,n0001,animal > dog\n', FILE);
  assert.deepEqual(paths(both), [['a.jpg', ['animal > dog']]]);
  assert.deepEqual(both.items[0].extra, { label: 'n0001' });
  const labelOnly = parseCsv('image,label\na.jpg,n0001\n', FILE);
  assert.deepEqual(paths(labelOnly), [['a.jpg', ['n0001']]]);
});

test('header names match case-insensitively and ignoring surrounding spaces', () => {
  const ds = parseCsv('Image , PATH\na.jpg,x\n', FILE);
  assert.deepEqual(paths(ds), [['a.jpg', ['x']]]);
});

test('item positions: the row, the image cell, the path cell with its quotes, and the line with its break', () => {
  const text = 'image,extra,path\na.jpg,1,"animal > dog"\r\n\n"b,c.jpg",2,vehicle\n';
  const ds = parseCsv(text, FILE);
  assert.deepEqual(ds.diagnostics, []);
  const [a, b] = ds.items;
  assert.deepEqual(a.source?.range, rng(1, 0, 1, 22));
  assert.deepEqual(a.source?.imageRange, rng(1, 0, 1, 5));
  assert.deepEqual(a.source?.labelRanges, [rng(1, 8, 1, 22)]);
  assert.deepEqual(a.source?.deleteRange, rng(1, 0, 2, 0));
  assert.equal(a.source?.file, FILE);
  assert.equal(b.image, 'b,c.jpg');
  assert.deepEqual(b.source?.range, rng(3, 0, 3, 19));
  assert.deepEqual(b.source?.imageRange, rng(3, 0, 3, 9));
  assert.deepEqual(b.source?.labelRanges, [rng(3, 12, 3, 19)]);
  assert.deepEqual(b.source?.deleteRange, rng(3, 0, 4, 0));
});

test('the last row without a line break is deleted up to the end of the file', () => {
  const ds = parseCsv('image,path\na.jpg,x', FILE);
  assert.deepEqual(ds.items[0].source?.deleteRange, rng(1, 0, 1, 7));
  assert.equal(serializeCsv(ds), 'image,path\na.jpg,x');
});

test('quoted fields may hold commas, doubled quotes and line breaks; positions after them stay exact', () => {
  const text = 'image,note,path\na.jpg,"say ""hi"",\nthere",x > y\nb.jpg,,x\n';
  const ds = parseCsv(text, FILE);
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.items[0].extra?.note, 'say "hi",\nthere');
  assert.deepEqual(ds.items[0].source?.labelRanges, [rng(2, 7, 2, 12)]);
  assert.deepEqual(ds.items[1].source?.range, rng(3, 0, 3, 8));
});

test('round trip keeps unknown columns, column order, quoting style and line endings byte for byte', () => {
  const text = 'id_x,image,"path",score\r\n7,a.jpg,"animal > dog",0.5\r\n8,b.jpg,,\r\n9,c.jpg,"vehicle",x\r\n';
  const ds = parseCsv(text, FILE);
  assert.deepEqual(ds.diagnostics, []);
  assert.deepEqual(ds.items[0].extra, { id_x: '7', score: '0.5' });
  const out = serializeCsv(ds);
  assert.equal(out, 'id_x,image,path,score\r\n7,a.jpg,"animal > dog",0.5\r\n8,b.jpg,,\r\n9,c.jpg,"vehicle",x\r\n');
  const again = parseCsv(out, FILE);
  assert.deepEqual(paths(again), paths(ds));
  assert.deepEqual(again.items.map((i) => i.extra), ds.items.map((i) => i.extra));
  assert.equal(serializeCsv(again), out);
});

test('label names with commas, quotes, line breaks, HTML and control characters are kept verbatim and re-read identically', () => {
  const names = ['a, b', 'say "x"', 'two\nlines', '<img src=x onerror=alert(1)>', 'bell\u0007tab\tend', '<b>bold</b> & co'];
  const ds = emptyDataset('jsonl', path.dirname(FILE));
  names.forEach((name, i) => {
    const top = ds.taxonomy.add('top');
    const id = ds.taxonomy.add(name, top);
    ds.items.push({ id: `img${i}.jpg`, image: `img${i}.jpg`, labels: [id] });
  });
  const out = serializeCsv(ds);
  const again = parseCsv(out, FILE);
  assert.deepEqual(again.diagnostics, []);
  assert.deepEqual(
    again.items.map((i) => again.taxonomy.path(i.labels[0])),
    names.map((n) => ['top', n]),
  );
});

test('writing a dataset from another format: header image,path plus item fields; several labels become several rows', () => {
  const ds = emptyDataset('datumaro', path.dirname(FILE));
  const animal = ds.taxonomy.add('animal');
  const dog = ds.taxonomy.add('dog', animal);
  const cat = ds.taxonomy.add('cat', animal);
  const plant = ds.taxonomy.add('plant');
  ds.taxonomy.nodes[dog].description = 'a dog';
  ds.items.push({ id: 'x', image: 'a.jpg', labels: [dog, cat], extra: { split: 'train', score: 1 } });
  ds.items.push({ id: 'b.jpg', image: 'b.jpg', labels: [] });
  const warnings: string[] = [];
  const lostNodes: number[] = [];
  const out = serializeCsv(ds, { warnings, lostNodes });
  assert.equal(out, 'image,path,split,score\na.jpg,animal > dog,train,1\na.jpg,animal > cat,train,1\nb.jpg,,,\n');
  assert.deepEqual(lostNodes, [plant]);
  assert.ok(warnings.some((w) => w.includes("'plant'") && w.includes('no taxonomy section')));
  assert.ok(warnings.some((w) => w.includes('descriptions')));
  assert.ok(warnings.some((w) => w.includes('several labels')));
  assert.ok(warnings.some((w) => w.includes('ids')));
});

test('writes with the "/" separator on request, and switches away from a separator that occurs in a name', () => {
  const ds = parseCsv('image,path\na.jpg,animal > dog\n', FILE);
  assert.equal(serializeCsv(ds, { separator: '/' }), 'image,path\na.jpg,animal/dog\n');
  const slashy = parseCsv('image,path\na.jpg,food > food/drink\n', FILE);
  const warnings: string[] = [];
  assert.equal(serializeCsv(slashy, { separator: '/', warnings }), 'image,path\na.jpg,food/food/drink\n');
  assert.equal(warnings.length, 1);
  const fromSlash = parseCsv('image,path\na.jpg,a/b\n', FILE);
  fromSlash.taxonomy.nodes[1].name = 'b/c';
  assert.equal(serializeCsv(fromSlash), 'image,path\na.jpg,a > b/c\n');
});

test('an empty file is taxon.empty-file at the start of the file', () => {
  for (const text of ['', '  \n\n']) {
    const ds = parseCsv(text, FILE);
    assert.deepEqual(codes(ds), ['taxon.empty-file']);
    assert.deepEqual(ds.diagnostics[0].range, rng(0, 0, 0, 0));
    assert.equal(ds.diagnostics[0].severity, 'error');
  }
});

test('a header-only file is a valid dataset with no items', () => {
  const ds = parseCsv('image,path\n', FILE);
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.items.length, 0);
});

test('a header without image or path is taxon.missing-column on the header, listing the columns found', () => {
  const ds = parseCsv('file,category\na.jpg,x\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.missing-column']);
  const d = ds.diagnostics[0];
  assert.deepEqual(d.range, rng(0, 0, 0, 13));
  assert.match(d.message, /'file', 'category'/);
  assert.equal(ds.items.length, 0);
  assert.match(parseCsv('image,category\n', FILE).diagnostics[0].message, /'path' \(or 'label'\)/);
});

test('an unclosed quote is taxon.syntax-error at the opening quote, and reading resumes on the next line', () => {
  const ds = parseCsv('image,path\na.jpg,x\nb.jpg,"y\nc.jpg,z\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.syntax-error']);
  assert.deepEqual(ds.diagnostics[0].range, rng(2, 6, 2, 7));
  assert.match(ds.diagnostics[0].message, /unclosed quote/);
  assert.deepEqual(paths(ds), [
    ['a.jpg', ['x']],
    ['c.jpg', ['z']],
  ]);
});

test('text after a closing quote is taxon.syntax-error at that character', () => {
  const ds = parseCsv('image,path\n"a.jpg"x,y\nb.jpg,z\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.syntax-error']);
  assert.deepEqual(ds.diagnostics[0].range, rng(1, 7, 1, 8));
  assert.equal(ds.items.length, 1);
});

test('a row with the wrong number of columns is taxon.syntax-error: extra cells are marked, a short row is marked whole', () => {
  const ds = parseCsv('image,path\na.jpg,x,extra,more\nb.jpg\nc.jpg,z\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.syntax-error', 'taxon.syntax-error']);
  assert.deepEqual(ds.diagnostics[0].range, rng(1, 8, 1, 18));
  assert.match(ds.diagnostics[0].message, /4 columns but the header has 2/);
  assert.deepEqual(ds.diagnostics[1].range, rng(2, 0, 2, 5));
  assert.deepEqual(paths(ds), [['c.jpg', ['z']]]);
});

test('an empty path level is taxon.empty-segment on the path cell and the row reads as unlabelled', () => {
  const ds = parseCsv('image,path\na.jpg,a >  > b\nb.jpg,a > \nc.jpg,a//b\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.empty-segment', 'taxon.empty-segment']);
  assert.deepEqual(ds.diagnostics[0].range, rng(1, 6, 1, 14));
  assert.deepEqual(ds.diagnostics[1].range, rng(2, 6, 2, 10));
  assert.deepEqual(ds.items.map((i) => i.labels.length), [0, 0, 1]);
  assert.deepEqual(ds.taxonomy.path(ds.items[2].labels[0]), ['a//b'], 'the separator is " > " for the whole file');
  const slash = parseCsv('image,path\nc.jpg,a//b\nd.jpg,a/\ne.jpg,/a\n', FILE);
  assert.deepEqual(codes(slash), ['taxon.empty-segment', 'taxon.empty-segment', 'taxon.empty-segment']);
  assert.deepEqual(slash.diagnostics[0].range, rng(1, 6, 1, 10));
  assert.ok(slash.items.every((i) => i.labels.length === 0));
});

test('a row with an empty image cell is taxon.missing-field and is skipped', () => {
  const ds = parseCsv('image,path\n,x\nb.jpg,y\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.missing-field']);
  assert.deepEqual(ds.diagnostics[0].range, rng(1, 0, 1, 2));
  assert.equal(ds.items.length, 1);
});

test('a repeated column name is a taxon.duplicate-column warning', () => {
  const ds = parseCsv('image,path,x,x\na.jpg,y,1,2\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.duplicate-column']);
  assert.deepEqual(ds.diagnostics[0].range, rng(0, 13, 0, 14));
  assert.equal(ds.diagnostics[0].severity, 'warning');
});

test('the dev dataset labels.csv: 20,000 items, 200 leaves, depth 8, and a byte-identical round trip', (t) => {
  const file = '/work/shared/datasets/tinyimagenet-wordnet/labels.csv';
  if (!fs.existsSync(file)) {
    t.skip(`dev dataset not present at ${file}`);
    return;
  }
  const text = fs.readFileSync(file, 'utf8');
  const t0 = performance.now();
  const ds = parseCsv(text, file);
  const ms = performance.now() - t0;
  t.diagnostic(`parsed 20,000 rows in ${ms.toFixed(0)} ms`);
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.items.length, 20000);
  assert.equal(ds.taxonomy.leaves().length, 200);
  assert.equal(ds.taxonomy.maxDepth(), 8);
  assert.ok(ds.items.every((i) => i.labels.length === 1));
  assert.equal(serializeCsv(ds), text);
});
