import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expandPreview } from '../../src/host/preview';
import { parseJsonl, parseTaxonomyFile, parseJsonTree, readTaxonomyOutline, serializeJsonl, serializeTaxonomyFile } from '../../src/core/formats/jsonl';
import { emptyDataset, type Dataset } from '../../src/core/dataset';
import type { Range } from '../../src/core/diagnostics';

const FILE = path.resolve('/data/set/items.jsonl');
const TAX_FILE = path.resolve('/data/set/taxonomy.json');

const TAXONOMY = `{
  "name": "root",
  "version": 3,
  "children": [
    {"name": "animal", "gloss": "a living organism", "id": "n1", "children": [
      {"name": "dog", "id": "n2"},
      {"name": "cat"}
    ]},
    {"name": "vehicle", "description": "moves things"}
  ]
}
`;

function rng(line: number, a: number, endLine: number, b: number): Range {
  return { start: { line, character: a }, end: { line: endLine, character: b } };
}

function paths(ds: Dataset): Array<[string, string[]]> {
  return ds.items.map((i) => [i.image, i.labels.map((l) => ds.taxonomy.pathString(l))]);
}

function codes(ds: { diagnostics: Array<{ code: string }> }): string[] {
  return ds.diagnostics.map((d) => d.code);
}

function withTaxonomy(items: string, taxonomy = TAXONOMY): Dataset {
  return parseJsonl(items, FILE, { text: taxonomy, file: TAX_FILE });
}

test('reads "path" as a " > " string or an array of names, "paths" for several labels, and null/""/[]/absent as unlabelled', () => {
  const ds = parseJsonl(
    [
      '{"image": "a.jpg", "path": "animal > dog"}',
      '{"image": "b.jpg", "path": ["animal", "cat"]}',
      '{"image": "c.jpg", "paths": ["animal > dog", ["vehicle"]]}',
      '{"image": "d.jpg", "path": null}',
      '{"image": "e.jpg", "path": ""}',
      '{"image": "f.jpg", "path": []}',
      '{"image": "g.jpg"}',
    ].join('\n'),
    FILE,
  );
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.format, 'jsonl');
  assert.equal(ds.root, path.dirname(FILE));
  assert.deepEqual(paths(ds), [
    ['a.jpg', ['animal > dog']],
    ['b.jpg', ['animal > cat']],
    ['c.jpg', ['animal > dog', 'vehicle']],
    ['d.jpg', []],
    ['e.jpg', []],
    ['f.jpg', []],
    ['g.jpg', []],
  ]);
  assert.equal(ds.items[0].id, 'a.jpg');
});

test('without a taxonomy file the taxonomy is built from the paths in order of first appearance', () => {
  const ds = parseJsonl('{"image": "a.jpg", "path": "b > c"}\n{"image": "x.jpg", "path": "a"}\n{"image": "y.jpg", "path": "b"}\n', FILE);
  assert.deepEqual(ds.taxonomy.nodes.map((n) => ds.taxonomy.pathString(n.id)), ['b', 'b > c', 'a']);
  assert.equal(ds.nodeSources, undefined);
  assert.deepEqual(ds.files, [FILE]);
});

test('with a taxonomy file: nodes, descriptions (description or gloss), node fields, node sources and partial labels', () => {
  const ds = withTaxonomy('{"image": "a.jpg", "path": "animal"}\n');
  assert.deepEqual(ds.diagnostics, []);
  assert.deepEqual(ds.files, [FILE, TAX_FILE]);
  const t = ds.taxonomy;
  assert.deepEqual(t.nodes.map((n) => t.pathString(n.id)), ['animal', 'animal > dog', 'animal > cat', 'vehicle']);
  assert.equal(t.nodes[0].description, 'a living organism');
  assert.deepEqual(t.nodes[0].extra, { id: 'n1' });
  assert.equal(t.nodes[3].description, 'moves things');
  assert.deepEqual(ds.nodeSources?.[1], { file: TAX_FILE, range: rng(5, 6, 5, 33) });
  assert.deepEqual(paths(ds), [['a.jpg', ['animal']]]);
  assert.equal(t.isLeaf(ds.items[0].labels[0]), false);
});

test('a path missing from the taxonomy file is taxon.unknown-label at the path value, with a quick fix to the closest path', () => {
  const ds = withTaxonomy('{"image": "a.jpg", "path": "animal > dgo"}\n{"image": "b.jpg", "path": ["animal", "kat"]}\n{"image": "c.jpg", "path": "zzzzzz > qqqqqq"}\n');
  assert.deepEqual(codes(ds), ['taxon.unknown-label', 'taxon.unknown-label', 'taxon.unknown-label']);
  const [a, b, c] = ds.diagnostics;
  assert.deepEqual(a.range, rng(0, 27, 0, 41));
  assert.match(a.message, /'animal > dgo'.*did you mean 'animal > dog'/);
  assert.deepEqual(a.fixes, [{ title: "Change to 'animal > dog'", edits: [{ range: rng(0, 27, 0, 41), newText: '"animal > dog"' }] }]);
  assert.deepEqual(b.range, rng(1, 27, 1, 44));
  assert.equal(b.fixes?.[0].edits[0].newText, '["animal","cat"]');
  assert.equal(c.fixes, undefined);
  assert.ok(ds.items.every((i) => i.labels.length === 0 && i.source?.labelRanges?.length === 0));
});

test('item positions: the line, the image literal, each path value, the line with its break, and entries of "paths" with their comma', () => {
  const ds = parseJsonl('\n{"image": "a.jpg", "path": "x > y"}\r\n{"image": "b.jpg", "paths": ["x", "z", "w"]}', FILE);
  assert.deepEqual(ds.diagnostics, []);
  const [a, b] = ds.items;
  assert.deepEqual(a.source?.range, rng(1, 0, 1, 35));
  assert.deepEqual(a.source?.imageRange, rng(1, 10, 1, 17));
  assert.deepEqual(a.source?.labelRanges, [rng(1, 27, 1, 34)]);
  assert.deepEqual(a.source?.deleteRange, rng(1, 0, 2, 0));
  assert.equal(a.source?.labelDeleteRanges, undefined);
  assert.deepEqual(b.source?.labelRanges, [rng(2, 29, 2, 32), rng(2, 34, 2, 37), rng(2, 39, 2, 42)]);
  assert.deepEqual(b.source?.labelDeleteRanges, [rng(2, 29, 2, 34), rng(2, 34, 2, 39), rng(2, 37, 2, 42)]);
  assert.deepEqual(b.source?.deleteRange, rng(2, 0, 2, 44));
});

test('a malformed line is taxon.syntax-error at the exact line and character, and the other lines are still read', () => {
  const ds = parseJsonl('{"image": "a.jpg"}\n{"image": "b.jpg" "path": "x"}\n{"image": "c.jpg", "path": "x",}\n{"image": "d.jpg", "path": "unterminated}\n{"image": "e.jpg"}\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.syntax-error', 'taxon.syntax-error', 'taxon.syntax-error']);
  assert.deepEqual(ds.diagnostics[0].range, rng(1, 18, 1, 24));
  assert.match(ds.diagnostics[0].message, /comma or closing brace expected/);
  assert.deepEqual(ds.diagnostics[1].range, rng(2, 31, 2, 32));
  assert.match(ds.diagnostics[1].message, /property name expected/);
  assert.deepEqual(ds.diagnostics[2].range, rng(3, 27, 3, 41));
  assert.match(ds.diagnostics[2].message, /unterminated string/);
  assert.deepEqual(ds.items.map((i) => i.image), ['a.jpg', 'e.jpg']);
});

test('a line that is not an object is taxon.not-an-object; an object without image is taxon.missing-field', () => {
  const ds = parseJsonl('[1, 2]\n"x"\n{"path": "a"}\n{"image": ""}\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.not-an-object', 'taxon.not-an-object', 'taxon.missing-field', 'taxon.missing-field']);
  assert.deepEqual(ds.diagnostics[0].range, rng(0, 0, 0, 6));
  assert.deepEqual(ds.diagnostics[2].range, rng(2, 0, 2, 13));
  assert.deepEqual(ds.diagnostics[3].range, rng(3, 10, 3, 12));
  assert.equal(ds.items.length, 0);
});

test('wrong value types are taxon.wrong-type and empty levels are taxon.empty-segment, at the value', () => {
  const ds = parseJsonl('{"image": 5}\n{"image": "a.jpg", "path": 5}\n{"image": "b.jpg", "path": "a >  > b"}\n{"image": "c.jpg", "path": ["a", ""]}\n{"image": "d.jpg", "paths": "a"}\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.wrong-type', 'taxon.wrong-type', 'taxon.empty-segment', 'taxon.empty-segment', 'taxon.wrong-type']);
  assert.deepEqual(ds.diagnostics[0].range, rng(0, 10, 0, 11));
  assert.deepEqual(ds.diagnostics[2].range, rng(2, 27, 2, 37));
  assert.equal(ds.items.length, 4);
});

test('"path" and "paths" together is taxon.conflicting-fields on "paths"; "path" wins and "paths" is kept', () => {
  const ds = parseJsonl('{"image": "a.jpg", "path": "a", "paths": ["b"]}\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.conflicting-fields']);
  assert.deepEqual(ds.diagnostics[0].range, rng(0, 32, 0, 39));
  assert.deepEqual(paths(ds), [['a.jpg', ['a']]]);
  assert.deepEqual(ds.items[0].extra, { paths: ['b'] });
});

test('an empty items file is a taxon.empty-file warning', () => {
  for (const text of ['', '\n  \n']) {
    const ds = parseJsonl(text, FILE);
    assert.deepEqual(codes(ds), ['taxon.empty-file']);
    assert.deepEqual(ds.diagnostics[0].range, rng(0, 0, 0, 0));
    assert.equal(ds.diagnostics[0].severity, 'warning');
  }
});

test('taxonomy file problems: empty file, syntax error with position, duplicate siblings at the second name', () => {
  assert.deepEqual(codes(parseTaxonomyFile('', TAX_FILE)), ['taxon.empty-file']);
  const bad = parseTaxonomyFile('{"name": "root", "children": [\n  {"name": "a"\n]}', TAX_FILE);
  assert.deepEqual(codes(bad), ['taxon.syntax-error']);
  assert.deepEqual(bad.diagnostics[0].range, rng(2, 0, 2, 1));
  assert.equal(bad.usable, false);
  const dup = parseTaxonomyFile('{"name": "root", "children": [\n  {"name": "a"},\n  {"name": "a"}\n]}', TAX_FILE);
  assert.deepEqual(codes(dup), ['taxon.duplicate-sibling']);
  assert.deepEqual(dup.diagnostics[0].range, rng(2, 11, 2, 14));
  assert.equal(dup.taxonomy.size, 2, 'both nodes are kept, as the file says');
  const shapes = parseTaxonomyFile('{"children": [5, {"id": 1}, {"name": 3}, {"name": ""}, {"name": "ok", "children": 1}]}', TAX_FILE);
  assert.deepEqual(codes(shapes), ['taxon.not-an-object', 'taxon.missing-field', 'taxon.wrong-type', 'taxon.empty-name', 'taxon.wrong-type']);
  assert.deepEqual(codes(parseTaxonomyFile('"x"', TAX_FILE)), ['taxon.not-an-object']);
});

test('an unusable taxonomy file is reported and the taxonomy is built from the paths instead', () => {
  const ds = withTaxonomy('{"image": "a.jpg", "path": "x > y"}\n', '{"children": [');
  assert.deepEqual(codes(ds), ['taxon.syntax-error']);
  assert.equal(ds.diagnostics[0].file, TAX_FILE);
  assert.deepEqual(paths(ds), [['a.jpg', ['x > y']]]);
});

test('accepts a top-level object whose "taxonomy" field holds the tree, and writes the other fields back', () => {
  const text = '{\n "name": "dev",\n "taxonomy": {"name": "root", "children": [{"name": "a", "children": [{"name": "b"}]}]},\n "items": [1, 2]\n}\n';
  const t = parseTaxonomyFile(text, TAX_FILE);
  assert.deepEqual(t.diagnostics, []);
  assert.equal(t.layout.shape, 'wrapped');
  assert.deepEqual(t.taxonomy.nodes.map((n) => t.taxonomy.pathString(n.id)), ['a', 'a > b']);
  const out = serializeTaxonomyFile(t.taxonomy, t.layout);
  const back = JSON.parse(out);
  assert.deepEqual(Object.keys(back), ['name', 'taxonomy', 'items']);
  assert.deepEqual(back.items, [1, 2]);
  assert.deepEqual(back.taxonomy, { name: 'root', children: [{ name: 'a', children: [{ name: 'b' }] }] });
});

test('a 10,000-level-deep taxonomy file is read, written and read again without overflowing the stack', () => {
  const depth = 10000;
  const text = '{"name": "root", "children": [' + '{"name": "n", "children": ['.repeat(depth - 1) + '{"name": "leaf"}' + ']}'.repeat(depth - 1) + ']}';
  const t = parseTaxonomyFile(text, TAX_FILE);
  assert.deepEqual(t.diagnostics, []);
  assert.equal(t.taxonomy.size, depth);
  assert.equal(t.taxonomy.maxDepth(), depth);
  const leaf = t.taxonomy.leaves()[0];
  const ds = parseJsonl(JSON.stringify({ image: 'a.jpg', path: t.taxonomy.path(leaf) }) + '\n', FILE, { text, file: TAX_FILE });
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.items[0].labels[0], leaf);
  const { taxonomy } = serializeJsonl(ds);
  const again = parseTaxonomyFile(taxonomy, TAX_FILE);
  assert.deepEqual(again.diagnostics, []);
  assert.equal(again.taxonomy.maxDepth(), depth);
  assert.ok(taxonomy.length < 2_000_000, 'deep levels are written compactly');
});

test('a deeply nested value inside an item line does not overflow the stack', () => {
  const deep = '['.repeat(20000) + ']'.repeat(20000);
  const ds = parseJsonl(`{"image": "a.jpg", "blob": ${deep}}\n`, FILE);
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.items.length, 1);
  assert.equal(parseJsonTree('['.repeat(20000)).error?.message, 'value expected (unexpected end of input)');
});

test('round trip keeps unknown item fields, node fields, descriptions and the file style, and re-reads identically', () => {
  const items = '{"image": "a.jpg", "path": "animal > dog", "score": 0.5, "meta": {"by": "me"}}\n{"image": "b.jpg", "path": null, "note": "?"}\n{"image": "c.jpg", "paths": ["animal > cat", "vehicle"]}\n';
  const ds = withTaxonomy(items);
  assert.deepEqual(ds.diagnostics, []);
  assert.deepEqual(ds.items[0].extra, { score: 0.5, meta: { by: 'me' } });
  const out = serializeJsonl(ds);
  assert.equal(out.items, items);
  const expected = JSON.parse(TAXONOMY);
  // one description key per file: the one the first described node used ('gloss' here)
  expected.children[1] = { name: 'vehicle', gloss: 'moves things' };
  assert.deepEqual(JSON.parse(out.taxonomy), expected);
  const again = parseJsonl(out.items, FILE, { text: out.taxonomy, file: TAX_FILE });
  assert.deepEqual(again.diagnostics, []);
  assert.deepEqual(paths(again), paths(ds));
  assert.deepEqual(again.items.map((i) => i.extra), ds.items.map((i) => i.extra));
  assert.deepEqual(again.taxonomy.nodes.map((n) => [n.name, n.description, n.extra]), ds.taxonomy.nodes.map((n) => [n.name, n.description, n.extra]));
  assert.deepEqual(serializeJsonl(again), out);
});

test('the writer keeps compact lines, array paths and absent unlabelled paths when the file used them', () => {
  const items = '{"image":"a.jpg","path":["x","y"]}\n{"image":"b.jpg"}\n';
  assert.equal(serializeJsonl(parseJsonl(items, FILE)).items, items);
});

test('label names with HTML and control characters are kept verbatim; names containing " > " are written as arrays', () => {
  const ds = emptyDataset('csv', path.dirname(FILE));
  const names = ['<script>alert(1)</script>', 'bell\u0007\u0000nul', 'a > b', 'quote " \\ slash'];
  for (const [i, name] of names.entries()) {
    const id = ds.taxonomy.add(name);
    ds.items.push({ id: `${i}.jpg`, image: `${i}.jpg`, labels: [id] });
  }
  const out = serializeJsonl(ds);
  assert.match(out.items, /\{"image": "2.jpg", "path": \["a > b"\]\}/);
  const again = parseJsonl(out.items, FILE, { text: out.taxonomy, file: TAX_FILE });
  assert.deepEqual(again.diagnostics, []);
  assert.deepEqual(again.items.map((i) => again.taxonomy.nodes[i.labels[0]].name), names);
});

test('a raw control character inside a JSON string is a syntax error (JSON requires escapes)', () => {
  const ds = parseJsonl('{"image": "a\u0007.jpg"}\n', FILE);
  assert.deepEqual(codes(ds), ['taxon.syntax-error']);
  assert.deepEqual(ds.diagnostics[0].range.start, { line: 0, character: 10 });
});

test('the dev dataset annotations.json works as a taxonomy file: 235 nodes, 200 leaves, depth 8', (t) => {
  const file = '/work/shared/datasets/tinyimagenet-wordnet/annotations.json';
  if (!fs.existsSync(file)) {
    t.skip(`dev dataset not present at ${file}`);
    return;
  }
  const r = parseTaxonomyFile(fs.readFileSync(file, 'utf8'), file);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.taxonomy.size, 235);
  assert.equal(r.taxonomy.leaves().length, 200);
  assert.equal(r.taxonomy.maxDepth(), 8);
  assert.equal(r.layout.descriptionKey, 'gloss');
  assert.ok(r.taxonomy.nodes[0].description);
});

test('the quick taxonomy preview names the same nodes with the same ids as the full reading', () => {
  const text = JSON.stringify({
    name: 'root',
    children: [
      { name: 'animal', description: 'living', children: [{ name: 'cat' }, { name: 'dog', children: [{ name: 'beagle' }] }] },
      { name: 'vehicle', gloss: 'moves', children: [{ name: 'car' }] },
    ],
  });
  const quick = readTaxonomyOutline(text)!;
  const full = parseTaxonomyFile(text, '/x/taxonomy.json').taxonomy;
  const descriptions = new Map(quick.descriptions);
  assert.deepEqual(
    quick.names.map((name, id) => [name, quick.parents[id], descriptions.get(id)]),
    full.nodes.map((n) => [n.name, n.parent, n.description]),
  );
  const summary = expandPreview({ target: '/x/labels.jsonl', format: 'jsonl', root: '/x', files: [], outline: quick });
  assert.deepEqual(summary.roots, full.roots);
  assert.deepEqual(summary.nodes.map((n) => n.children), full.nodes.map((n) => n.children));
  assert.equal(summary.maxDepth, full.maxDepth());
  assert.equal(readTaxonomyOutline('{"name": "root", "children": [{"nom": 1}]}'), undefined, 'an unrecognisable tree gives no preview');
  assert.equal(readTaxonomyOutline('{not json'), undefined);
});
