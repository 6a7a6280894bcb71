import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDatumaro, serializeDatumaro, TAXON_NAME_FIELD } from '../../src/core/formats/datumaro';
import { emptyDataset, type Dataset } from '../../src/core/dataset';
import type { Diagnostic, Range } from '../../src/core/diagnostics';
import { readTextFile } from '../../src/core/textInput';
import { ROOT, Taxonomy } from '../../src/core/taxonomy';

const FILE = path.resolve('/data/pets/annotations/train.json');

const ann = (id: number): string => `{"id": 0, "type": "label", "attributes": {}, "group": 0, "label_id": ${id}}`;

/** A small H_LABEL_CLS file; line numbers below are 0-based. */
const SMALL = [
  /* 0 */ '{',
  /* 1 */ '  "info": {"source": "unit"},',
  /* 2 */ '  "categories": {',
  /* 3 */ '    "label": {',
  /* 4 */ '      "labels": [',
  /* 5 */ '        {"name": "animal", "parent": "", "attributes": []},',
  /* 6 */ '        {"name": "dog", "parent": "animal", "attributes": ["age"], "color": "#f00"},',
  /* 7 */ '        {"name": "cat", "parent": "animal", "attributes": []},',
  /* 8 */ '        {"name": "beagle", "parent": "dog", "attributes": []}',
  /* 9 */ '      ],',
  /* 10 */ '      "label_groups": [',
  /* 11 */ '        {"name": "Root", "group_type": "exclusive", "labels": ["animal"]},',
  /* 12 */ '        {"name": "animal", "group_type": "exclusive", "labels": ["dog", "cat"], "note": 1},',
  /* 13 */ '        {"name": "dog", "group_type": "exclusive", "labels": ["beagle"]}',
  /* 14 */ '      ],',
  /* 15 */ '      "attributes": ["occluded"]',
  /* 16 */ '    },',
  /* 17 */ '    "mask": {"colormap": [{"label_id": 0, "r": 1, "g": 2, "b": 3}]}',
  /* 18 */ '  },',
  /* 19 */ '  "items": [',
  /* 20 */ `    {"id": "a", "annotations": [${ann(3)}], "image": {"path": "a.jpg", "size": [10, 20]}},`,
  /* 21 */ `    {"id": "b", "annotations": [${ann(1)}], "image": {"path": "sub/b.jpg"}, "attr": {"x": 1}},`,
  /* 22 */ '    {"id": "c", "annotations": [], "image": {"path": "c.jpg"}},',
  /* 23 */ `    {"id": "d", "annotations": [{"id": 7, "type": "label", "attributes": {"score": 0.5}, "group": 2, "label_id": 2, "z": true}, {"id": 1, "type": "bbox", "label_id": 0, "bbox": [1, 2, 3, 4]}], "media": {"path": "d.png"}}`,
  /* 24 */ '  ]',
  /* 25 */ '}',
  '',
].join('\n');

/** Same shape, with one line replaced. */
function withLine(line: number, text: string): string {
  const lines = SMALL.split('\n');
  lines[line] = text;
  return lines.join('\n');
}

function codes(ds: Dataset): string[] {
  return ds.diagnostics.map((d) => d.code);
}

function only(ds: Dataset, code: string): Diagnostic[] {
  return ds.diagnostics.filter((d) => d.code === code);
}

function at(text: string, line: number, needle: string, occurrence = 0): number {
  let from = 0;
  let idx = -1;
  for (let k = 0; k <= occurrence; k++) {
    idx = text.split('\n')[line].indexOf(needle, from);
    from = idx + 1;
  }
  assert.ok(idx >= 0, `${needle} on line ${line}`);
  return idx;
}

function span(line: number, start: number, length: number): Range {
  return { start: { line, character: start }, end: { line, character: start + length } };
}

/** The text a range covers. */
function cut(text: string, r: Range): string {
  const lines = text.split('\n');
  const off = (p: { line: number; character: number }): number =>
    lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  return text.slice(off(r.start), off(r.end));
}

function applyDelete(text: string, r: Range): string {
  return cut(text, { start: { line: 0, character: 0 }, end: r.start }) + text.slice(cut(text, { start: { line: 0, character: 0 }, end: r.end }).length);
}

function summary(ds: Dataset): unknown {
  const t = ds.taxonomy;
  return {
    nodes: t.nodes.map((n) => t.pathString(n.id)),
    groups: ds.groups.map((g) => ({ name: g.name, kind: g.kind, labels: g.labels.map((l) => t.pathString(l)) })),
    items: ds.items.map((i) => ({ id: i.id, image: i.image, labels: i.labels.map((l) => t.pathString(l)), extra: i.extra })),
  };
}

test('reads a small hierarchical file: root, subset, taxonomy, groups, items, partial and missing labels', () => {
  const ds = parseDatumaro(SMALL, FILE);
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.format, 'datumaro');
  assert.equal(ds.root, path.resolve('/data/pets'));
  assert.equal(ds.subset, 'train');
  assert.deepEqual(ds.files, [FILE]);
  const t = ds.taxonomy;
  assert.deepEqual(
    t.nodes.map((n) => t.pathString(n.id)),
    ['animal', 'animal > dog', 'animal > cat', 'animal > dog > beagle'],
  );
  assert.deepEqual(ds.groups.map((g) => [g.name, g.kind, g.labels]), [
    ['Root', 'exclusive', [0]],
    ['animal', 'exclusive', [1, 2]],
    ['dog', 'exclusive', [3]],
  ]);
  assert.deepEqual(
    ds.items.map((i) => [i.id, i.image, i.labels]),
    [
      ['a', 'images/train/a.jpg', [3]],
      ['b', 'images/train/sub/b.jpg', [1]], // partial label: "a dog, breed unknown"
      ['c', 'images/train/c.jpg', []], // unlabelled
      ['d', 'images/train/d.png', [2]],
    ],
  );
  assert.deepEqual(t.nodes[1].extra, { attributes: ['age'], color: '#f00' });
});

test('positions: item, id, image, label ranges and node sources are exact (0-based)', () => {
  const ds = parseDatumaro(SMALL, FILE);
  const a = ds.items[0].source!;
  assert.equal(a.file, FILE);
  const line20 = SMALL.split('\n')[20];
  assert.deepEqual(a.range, span(20, 4, line20.length - 5));
  assert.deepEqual(a.idRange, span(20, at(SMALL, 20, '"a"'), 3));
  assert.deepEqual(a.imageRange, span(20, at(SMALL, 20, '"a.jpg"'), 7));
  assert.deepEqual(a.labelRanges, [span(20, at(SMALL, 20, '3}'), 1)]);
  assert.equal(cut(SMALL, a.labelDeleteRanges![0]), ann(3));
  assert.deepEqual(ds.nodeSources![3], { file: FILE, range: span(8, 8, SMALL.split('\n')[8].length - 8) });
  assert.equal(cut(SMALL, ds.nodeSources![0]!.range), '{"name": "animal", "parent": "", "attributes": []}');
});

test('delete ranges remove an item or an annotation and leave valid JSON', () => {
  const ds = parseDatumaro(SMALL, FILE);
  for (let k = 0; k < ds.items.length; k++) {
    const after = applyDelete(SMALL, ds.items[k].source!.deleteRange!);
    const re = parseDatumaro(after, FILE);
    assert.deepEqual(codes(re), [], `deleting item ${k}`);
    assert.deepEqual(
      re.items.map((i) => i.id),
      ds.items.map((i) => i.id).filter((_, j) => j !== k),
    );
  }
  // the label annotation of "d" is followed by a bbox annotation
  const d = ds.items[3];
  const after = applyDelete(SMALL, d.source!.labelDeleteRanges![0]);
  const re = parseDatumaro(after, FILE);
  assert.deepEqual(codes(re), []);
  assert.deepEqual(re.items[3].labels, []);
  assert.equal((re.items[3].extra!.$otherAnnotations as unknown[]).length, 1);
});

test('round trip keeps unknown fields and re-reads to the same taxonomy, groups and items', () => {
  const ds = parseDatumaro(SMALL, FILE);
  const out = serializeDatumaro(ds);
  const json = JSON.parse(out);
  assert.deepEqual(json.info, { source: 'unit' });
  assert.deepEqual(json.categories.mask, { colormap: [{ label_id: 0, r: 1, g: 2, b: 3 }] });
  assert.deepEqual(json.categories.label.attributes, ['occluded']);
  assert.deepEqual(json.categories.label.labels[1], { name: 'dog', parent: 'animal', attributes: ['age'], color: '#f00' });
  assert.deepEqual(json.categories.label.label_groups[1], { name: 'animal', group_type: 'exclusive', labels: ['dog', 'cat'], note: 1 });
  assert.deepEqual(json.items[0], {
    id: 'a',
    annotations: [{ id: 0, type: 'label', attributes: {}, group: 0, label_id: 3 }],
    image: { path: 'a.jpg', size: [10, 20] },
  });
  assert.deepEqual(json.items[1].attr, { x: 1 });
  assert.deepEqual(json.items[3], {
    id: 'd',
    annotations: [
      { id: 7, type: 'label', attributes: { score: 0.5 }, group: 2, z: true, label_id: 2 },
      { id: 1, type: 'bbox', label_id: 0, bbox: [1, 2, 3, 4] },
    ],
    media: { path: 'd.png' },
  });
  const again = parseDatumaro(out, FILE);
  assert.deepEqual(again.diagnostics, []);
  assert.deepEqual(summary(again), summary(ds));
  assert.deepEqual(again.extra, ds.extra);
  assert.equal(serializeDatumaro(again), out);
});

test('a dataset from another format with two same-named nodes is written with unique names and re-reads with the same paths', () => {
  const tax = new Taxonomy();
  const animal = tax.add('animal');
  const plant = tax.add('plant');
  const food1 = tax.add('food', animal);
  const food2 = tax.add('food', plant);
  const fish = tax.add('goldfish', food1);
  const ds = emptyDataset('folder', '/data/other');
  ds.taxonomy = tax;
  ds.items = [
    { id: 'images/animal/food/goldfish/1.jpg', image: 'images/animal/food/goldfish/1.jpg', labels: [fish] },
    { id: 'x.jpg', image: 'x.jpg', labels: [food2] },
    { id: 'y.jpg', image: 'y.jpg', labels: [] },
  ];
  const out = serializeDatumaro(ds);
  const json = JSON.parse(out);
  const names = json.categories.label.labels.map((l: { name: string }) => l.name);
  assert.equal(new Set(names).size, names.length, 'label names are unique');
  assert.deepEqual(names, ['animal', 'plant', 'food (animal)', 'food (plant)', 'goldfish']);
  assert.equal(json.categories.label.labels[2][TAXON_NAME_FIELD], 'food');
  // OTX convention: one exclusive group per parent, holding its children
  assert.deepEqual(
    json.categories.label.label_groups.map((g: { name: string; labels: string[] }) => [g.name, g.labels]),
    [
      ['Root', ['animal', 'plant']],
      ['animal', ['food (animal)']],
      ['food (animal)', ['goldfish']],
      ['plant', ['food (plant)']],
    ],
  );
  assert.equal(json.items[1].image.path, '../../x.jpg');
  const re = parseDatumaro(out, '/data/other/annotations/default.json');
  assert.deepEqual(re.diagnostics, []);
  const t = re.taxonomy;
  assert.deepEqual(
    t.nodes.map((n) => t.pathString(n.id)),
    ['animal', 'plant', 'animal > food', 'plant > food', 'animal > food > goldfish'],
  );
  assert.deepEqual(
    re.items.map((i) => i.labels.map((l) => t.pathString(l))),
    [['animal > food > goldfish'], ['plant > food'], []],
  );
  assert.equal(re.items[1].image, 'images/default/../../x.jpg');
});

test('syntax error: reported at its position with code taxon.syntax-error', () => {
  const text = withLine(21, '    {"id": "b" "annotations": []},');
  const ds = parseDatumaro(text, FILE);
  const errs = only(ds, 'taxon.syntax-error');
  assert.ok(errs.length >= 1);
  assert.equal(errs[0].severity, 'error');
  assert.deepEqual(errs[0].range.start, { line: 21, character: at(text, 21, '"annotations"') });
  // what can be salvaged is still returned
  assert.equal(ds.taxonomy.size, 4);
});

test('empty or whitespace-only file: taxon.empty-file', () => {
  for (const text of ['', '  \n\t\n']) {
    const ds = parseDatumaro(text, FILE);
    assert.deepEqual(codes(ds), ['taxon.empty-file']);
    assert.deepEqual(ds.diagnostics[0].range, span(0, 0, 0));
  }
});

test('valid JSON that is not Datumaro: taxon.not-datumaro says what is missing', () => {
  let ds = parseDatumaro('{"images": []}', FILE);
  assert.deepEqual(codes(ds), ['taxon.not-datumaro']);
  assert.match(ds.diagnostics[0].message, /categories\.label\.labels/);
  assert.match(ds.diagnostics[0].message, /items/);
  ds = parseDatumaro('{"categories": {"label": {"labels": []}}}', FILE);
  assert.deepEqual(codes(ds), ['taxon.not-datumaro']);
  assert.doesNotMatch(ds.diagnostics[0].message, /labels/);
  assert.match(ds.diagnostics[0].message, /items/);
  ds = parseDatumaro('[1, 2]', FILE);
  assert.deepEqual(codes(ds), ['taxon.not-datumaro']);
});

test('binary-looking content is refused by readTextFile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taxon-dm-'));
  const file = path.join(dir, 'train.json');
  fs.writeFileSync(file, Buffer.from([0x7b, 0x00, 0x01, 0x02, 0xff, 0x7d]));
  try {
    assert.throws(() => readTextFile(file), /binary/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('taxon.unknown-label: a label_id out of range or not an integer, at the label_id value', () => {
  const text = withLine(21, `    {"id": "b", "annotations": [${ann(9)}, ${ann(1)}], "image": {"path": "b.jpg"}},`);
  const ds = parseDatumaro(text, FILE);
  const [d] = only(ds, 'taxon.unknown-label');
  assert.equal(d.severity, 'error');
  assert.deepEqual(d.range, span(21, at(text, 21, '9}'), 1));
  assert.match(d.message, /label_id 9 is out of range/);
  assert.equal(d.fixes, undefined);
  assert.deepEqual(ds.items[1].labels, [1]);
  assert.deepEqual(ds.items[1].source!.labelRanges, [span(21, at(text, 21, '1}'), 1)]);
  // the bad annotation is kept for writing
  const json = JSON.parse(serializeDatumaro(ds));
  assert.deepEqual(json.items[1].annotations.map((a: { label_id: unknown }) => a.label_id), [1, 9]);

  const text2 = withLine(21, '    {"id": "b", "annotations": [{"id": 0, "type": "label", "label_id": "1"}], "image": {"path": "b.jpg"}},');
  const [d2] = only(parseDatumaro(text2, FILE), 'taxon.unknown-label');
  assert.deepEqual(d2.range, span(21, at(text2, 21, '"1"'), 3));
  assert.match(d2.message, /not an integer/);
});

test('taxon.unknown-label: an annotation naming its label gets a fix to the label_id', () => {
  const text = withLine(21, '    {"id": "b", "annotations": [{"id": 0, "type": "label", "label": "Beagle"}], "image": {"path": "b.jpg"}},');
  const ds = parseDatumaro(text, FILE);
  const [d] = only(ds, 'taxon.unknown-label');
  assert.ok(d.fixes && d.fixes.length === 1);
  const edit = d.fixes[0].edits[0];
  assert.equal(cut(text, edit.range), '"label": "Beagle"');
  assert.equal(edit.newText, '"label_id": 3');
});

test('taxon.missing-parent: at the parent value; the label becomes top-level', () => {
  const text = withLine(7, '        {"name": "cat", "parent": "feline", "attributes": []},');
  const ds = parseDatumaro(text, FILE);
  const [d] = only(ds, 'taxon.missing-parent');
  assert.deepEqual(d.range, span(7, at(text, 7, '"feline"'), 8));
  assert.match(d.message, /"feline"/);
  const cat = ds.taxonomy.find(['cat']);
  assert.notEqual(cat, undefined);
  assert.equal(ds.taxonomy.nodes[cat!].parent, ROOT);
});

test('taxon.cycle: reported on every label of the cycle, broken by making them top-level', () => {
  const text = withLine(5, '        {"name": "animal", "parent": "beagle", "attributes": []},');
  const ds = parseDatumaro(text, FILE);
  const cyc = only(ds, 'taxon.cycle');
  assert.equal(cyc.length, 3);
  assert.deepEqual(
    cyc.map((d) => d.range.start.line).sort((a, b) => a - b),
    [5, 6, 8],
  );
  assert.deepEqual(cyc[0].range, span(5, at(text, 5, '"beagle"'), 8));
  assert.match(cyc[0].message, /"animal" → "beagle" → "dog" → "animal"|"animal" → .* → "animal"/);
  for (const name of ['animal', 'dog', 'beagle']) assert.notEqual(ds.taxonomy.find([name]), undefined, name);
  assert.deepEqual(ds.taxonomy.find(['cat']), undefined);
  assert.equal(ds.taxonomy.pathString(ds.taxonomy.nodes.findIndex((n) => n.name === 'cat')), 'animal > cat');
});

test('taxon.duplicate-sibling and taxon.duplicate-label-name', () => {
  const text = withLine(7, '        {"name": "dog", "parent": "animal", "attributes": []},');
  const ds = parseDatumaro(text, FILE);
  const [sib] = only(ds, 'taxon.duplicate-sibling');
  const [name] = only(ds, 'taxon.duplicate-label-name');
  assert.deepEqual(sib.range, span(7, at(text, 7, '"dog"'), 5));
  assert.deepEqual(name.range, sib.range);
  // same name elsewhere in the tree: only the global-name rule
  const text2 = withLine(8, '        {"name": "cat", "parent": "dog", "attributes": []}');
  const ds2 = parseDatumaro(text2, FILE);
  assert.equal(only(ds2, 'taxon.duplicate-sibling').length, 0);
  assert.deepEqual(only(ds2, 'taxon.duplicate-label-name')[0].range, span(8, at(text2, 8, '"cat"'), 5));
});

test('taxon.label-outside-group: at the label object, only when there are groups', () => {
  const text = withLine(13, '        {"name": "dog", "group_type": "exclusive", "labels": []}');
  const ds = parseDatumaro(text, FILE);
  const [d] = only(ds, 'taxon.label-outside-group');
  assert.deepEqual(d.range, span(8, 8, SMALL.split('\n')[8].length - 8));
  assert.match(d.message, /"beagle"/);
  const noGroups = SMALL.replace(/"label_groups": \[[\s\S]*?\n      \],/, '"label_groups": [],');
  const ds2 = parseDatumaro(noGroups, FILE);
  assert.deepEqual(codes(ds2), []);
  assert.deepEqual(ds2.groups, []);
});

test('taxon.exclusive-group-conflict: at the second label, with a fix that drops that annotation', () => {
  const text = withLine(21, `    {"id": "b", "annotations": [${ann(1)}, ${ann(2)}], "image": {"path": "b.jpg"}},`);
  const ds = parseDatumaro(text, FILE);
  const [d] = only(ds, 'taxon.exclusive-group-conflict');
  assert.equal(d.severity, 'error');
  assert.deepEqual(d.range, span(21, at(text, 21, '2}'), 1));
  assert.match(d.message, /"dog" and "cat"/);
  const fixed = applyDelete(text, d.fixes![0].edits[0].range);
  assert.equal(fixed, withLine(21, `    {"id": "b", "annotations": [${ann(1)}], "image": {"path": "b.jpg"}},`));
});

test('taxon.unknown-group-label: a warning at the name in the group', () => {
  const text = withLine(13, '        {"name": "dog", "group_type": "exclusive", "labels": ["beagle", "poodle"]}');
  const ds = parseDatumaro(text, FILE);
  const [d] = only(ds, 'taxon.unknown-group-label');
  assert.equal(d.severity, 'warning');
  assert.deepEqual(d.range, span(13, at(text, 13, '"poodle"'), 8));
});

test('image paths are kept unnormalised so that traversal stays visible; a missing path is empty', () => {
  const text = withLine(22, '    {"id": "c", "annotations": [], "image": {"path": "../../../etc/passwd"}},');
  const ds = parseDatumaro(text, FILE);
  assert.equal(ds.items[2].image, 'images/train/../../../etc/passwd');
  const text2 = withLine(22, '    {"id": "c", "annotations": []},');
  const ds2 = parseDatumaro(text2, FILE);
  assert.equal(ds2.items[2].image, '');
  assert.equal(ds2.items[2].source!.imageRange, undefined);
});

test('a file outside an annotations folder: the root is the file folder', () => {
  const ds = parseDatumaro(SMALL, path.resolve('/data/x/val.json'));
  assert.equal(ds.root, path.resolve('/data/x'));
  assert.equal(ds.items[0].image, 'images/val/a.jpg');
});

test('a 10,000-level chain of labels parses without overflowing the stack', () => {
  const depth = 10_000;
  const labels: string[] = [];
  // children listed before their parents, to exercise parent resolution order too
  for (let i = depth - 1; i >= 0; i--) labels.push(`{"name": "n${i}", "parent": "${i === 0 ? '' : `n${i - 1}`}"}`);
  const text = `{"categories": {"label": {"labels": [${labels.join(',')}]}}, "items": [{"id": "x", "annotations": [${ann(0)}], "image": {"path": "x.jpg"}}]}`;
  const ds = parseDatumaro(text, FILE);
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.taxonomy.size, depth);
  assert.equal(ds.taxonomy.maxDepth(), depth);
  const deepest = ds.items[0].labels[0];
  assert.equal(ds.taxonomy.depth(deepest), depth);
  const out = serializeDatumaro(ds);
  assert.equal(parseDatumaro(out, FILE).taxonomy.maxDepth(), depth);
});

test('a long cycle is reported once per label and does not hang', () => {
  const n = 5_000;
  const labels: string[] = [];
  for (let i = 0; i < n; i++) labels.push(`{"name": "c${i}", "parent": "c${(i + 1) % n}"}`);
  const text = `{"categories": {"label": {"labels": [${labels.join(',')}]}}, "items": []}`;
  const ds = parseDatumaro(text, FILE);
  assert.equal(only(ds, 'taxon.cycle').length, n);
  assert.equal(ds.taxonomy.roots.length, n);
});

test('label names with HTML and control characters are kept verbatim; messages escape them', () => {
  const name = '<img src=x onerror=alert(1)>\u0007bell';
  const text = `{"categories": {"label": {"labels": [{"name": ${JSON.stringify(name)}, "parent": "nowhere"}]}}, "items": []}`;
  const ds = parseDatumaro(text, FILE);
  assert.equal(ds.taxonomy.nodes[0].name, name);
  const [d] = only(ds, 'taxon.missing-parent');
  assert.ok(d.message.includes(JSON.stringify(name)));
  assert.ok(!d.message.includes('\u0007'));
  const again = parseDatumaro(serializeDatumaro(ds), FILE);
  assert.equal(again.taxonomy.nodes[0].name, name);
});

test('items and categories may come in any order', () => {
  const text = `{"items": [{"id": "x", "annotations": [${ann(1)}]}], "categories": {"label": {"labels": [{"name": "a", "parent": ""}, {"name": "b", "parent": "a"}]}}}`;
  const ds = parseDatumaro(text, FILE);
  assert.deepEqual(ds.diagnostics, []);
  assert.equal(ds.taxonomy.pathString(ds.items[0].labels[0]), 'a > b');
});
