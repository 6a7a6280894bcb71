import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { emptyDataset, type Dataset, type Item } from '../../src/core/dataset';
import { lineRange } from '../../src/core/diagnostics';
import { readFolderTree } from '../../src/core/formats/folder';
import { validateDataset, inconsistentLabel, earlierDuplicates } from '../../src/core/validate';
import { countsPerNode, datasetStats } from '../../src/core/stats';
import { resolveInsideRoot, RootContainment } from '../../src/core/paths';
import { writeFileAtomic } from '../../src/core/atomicWrite';
import { fakeJpeg, tempDir, writeTree } from './helpers';

function petsDataset(root: string, items: Array<Omit<Item, 'source'> & { line?: number }>): Dataset {
  const ds = emptyDataset('jsonl', root, [path.join(root, 'labels.jsonl')]);
  const t = ds.taxonomy;
  const animal = t.add('animal');
  t.add('cat', animal);
  t.add('dog', animal);
  const vehicle = t.add('vehicle');
  t.add('car', vehicle);
  ds.items = items.map((it, i) => {
    const line = it.line ?? i;
    return {
      id: it.id,
      image: it.image,
      labels: it.labels,
      source: {
        file: ds.files[0],
        range: lineRange(line, 0, 40),
        imageRange: lineRange(line, 10, 20),
        labelRanges: it.labels.map((_, k) => lineRange(line, 30 + k * 5, 34 + k * 5)),
        labelDeleteRanges: it.labels.map((_, k) => lineRange(line, 29 + k * 5, 34 + k * 5)),
        deleteRange: { start: { line, character: 0 }, end: { line: line + 1, character: 0 } },
      },
    };
  });
  return ds;
}

const codes = (ds: Dataset, opts = {}) => validateDataset(ds, opts).map((d) => d.code);

test('a consistent dataset whose images exist has no problems', () => {
  const root = writeTree(tempDir(), { 'a.jpg': fakeJpeg(1), 'b.jpg': fakeJpeg(2) });
  const ds = petsDataset(root, [
    { id: 'a.jpg', image: 'a.jpg', labels: [1] },
    { id: 'b.jpg', image: 'b.jpg', labels: [0, 2] }, // animal + dog: one chain
  ]);
  assert.deepEqual(validateDataset(ds), []);
});

test('labels not on one root-to-node chain are an error on the offending label, with a fix that drops it', () => {
  const root = writeTree(tempDir(), { 'a.jpg': fakeJpeg(1) });
  const ds = petsDataset(root, [{ id: 'a.jpg', image: 'a.jpg', labels: [1, 3] }]); // cat + vehicle
  const [d] = validateDataset(ds);
  assert.equal(d.code, 'taxon.inconsistent-path');
  assert.equal(d.severity, 'error');
  assert.deepEqual(d.range, lineRange(0, 35, 39), 'the deepest label (cat) defines the path; vehicle is off it');
  assert.match(d.message, /"vehicle" is not on the path of "animal > cat"/);
  assert.equal(d.fixes?.length, 1);
  assert.deepEqual(d.fixes![0].edits[0], { range: lineRange(0, 34, 39), newText: '' });
});

test('the deepest label defines the chain; an ancestor label is consistent', () => {
  const ds = petsDataset(tempDir(), []);
  assert.equal(inconsistentLabel(ds.taxonomy, [0, 1]), undefined); // animal, cat
  assert.equal(inconsistentLabel(ds.taxonomy, [1, 2]), 1); // cat, dog: siblings, the first deepest wins
  assert.equal(inconsistentLabel(ds.taxonomy, [4, 1]), 1); // car (deeper, first) wins over cat
});

test('a missing image file is an error at the image path', () => {
  const ds = petsDataset(tempDir(), [{ id: 'x', image: 'nope.jpg', labels: [1] }]);
  const [d] = validateDataset(ds);
  assert.equal(d.code, 'taxon.missing-image');
  assert.deepEqual(d.range, lineRange(0, 10, 20));
});

test('image paths that leave the root are errors and the file is never opened', () => {
  const outside = tempDir();
  fs.writeFileSync(path.join(outside, 'secret.jpg'), fakeJpeg(9));
  const root = tempDir();
  fs.symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'link.jpg'));
  const ds = petsDataset(root, [
    { id: '1', image: '../secret.jpg', labels: [1] },
    { id: '2', image: path.join(outside, 'secret.jpg'), labels: [1] },
    { id: '3', image: 'link.jpg', labels: [1] },
    { id: '4', image: 'a/../../secret.jpg', labels: [1] },
  ]);
  const ds2 = validateDataset(ds);
  assert.deepEqual(ds2.map((d) => d.code), Array(4).fill('taxon.path-outside-root'));
  assert.match(ds2[0].message, /leaves the dataset root/);
  assert.match(ds2[1].message, /absolute/);
  assert.match(ds2[2].message, /symbolic link/);
});

test('containment check accepts nested relative paths and refuses Windows drive paths', () => {
  const root = tempDir();
  assert.equal(resolveInsideRoot(root, 'a/b/c.jpg').absolute, path.join(root, 'a', 'b', 'c.jpg'));
  assert.equal(resolveInsideRoot(root, 'C:\\x.jpg').problem, 'absolute');
  assert.equal(resolveInsideRoot(root, '').problem, 'empty');
});

test('a duplicate item id is an error with a fix that removes the second copy', () => {
  const root = writeTree(tempDir(), { 'a.jpg': fakeJpeg(1) });
  const ds = petsDataset(root, [
    { id: 'a.jpg', image: 'a.jpg', labels: [1] },
    { id: 'a.jpg', image: 'a.jpg', labels: [1] },
  ]);
  const [d] = validateDataset(ds);
  assert.equal(d.code, 'taxon.duplicate-item');
  assert.equal(d.range.start.line, 1);
  assert.match(d.message, /first at line 1/);
  assert.deepEqual(d.fixes![0].edits[0].range, { start: { line: 1, character: 0 }, end: { line: 2, character: 0 } });
});

test('the duplicate-id table finds exactly what a Map finds, third copies pointing at the first', () => {
  // 20,000 ids drawn from 12,000 values (unicode and empty ones included): many duplicates and hash-slot collisions
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 12_000);
  const items = Array.from({ length: 20_000 }, () => {
    const v = rand();
    return { id: v === 0 ? '' : v % 5 === 0 ? `é${v}✓` : `img_${v}`, image: '', labels: [] } as Item;
  });
  const expected = new Map<number, number>();
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const f = first.get(item.id);
    if (f === undefined) first.set(item.id, i);
    else expected.set(i, f);
  });
  assert.ok(expected.size > 5_000);
  assert.deepEqual([...earlierDuplicates(items)].sort((a, b) => a[0] - b[0]), [...expected].sort((a, b) => a[0] - b[0]));
  assert.equal(earlierDuplicates([]).size, 0);
});

test('byte-identical images with different labels are one warning per copy; with the same label they are fine', () => {
  const root = writeTree(tempDir(), { 'a.jpg': fakeJpeg(1), 'b.jpg': fakeJpeg(1), 'c.jpg': fakeJpeg(2), 'd.jpg': fakeJpeg(2) });
  const ds = petsDataset(root, [
    { id: 'a', image: 'a.jpg', labels: [1] },
    { id: 'b', image: 'b.jpg', labels: [4] },
    { id: 'c', image: 'c.jpg', labels: [2] },
    { id: 'd', image: 'd.jpg', labels: [2] },
  ]);
  const found = validateDataset(ds);
  assert.deepEqual(found.map((d) => [d.code, d.severity, d.range.start.line]), [
    ['taxon.identical-images', 'warning', 1],
  ]);
  assert.match(found[0].message, /"b\.jpg" labelled "vehicle > car" is byte-identical to "a\.jpg" labelled "animal > cat"/);
  assert.deepEqual(codes(ds, { findDuplicateImages: false }), []);
});

test('file checks can be switched off for annotation-only validation', () => {
  const ds = petsDataset(tempDir(), [{ id: 'x', image: '../x.jpg', labels: [1] }]);
  assert.deepEqual(codes(ds, { checkFiles: false }), []);
});

test('duplicate sibling names are reported when the reader kept both', () => {
  const ds = petsDataset(tempDir(), []);
  ds.taxonomy.addUnchecked('cat', 0);
  assert.deepEqual(codes(ds), ['taxon.duplicate-sibling']);
});

test('a folder tree reads labels from folders and unlabelled images from the top folder', () => {
  const root = writeTree(tempDir(), {
    'images/animal/cat/1.jpg': fakeJpeg(1),
    'images/animal/cat/2.JPG': fakeJpeg(2),
    'images/animal/3.png': fakeJpeg(3),
    'images/vehicle/car/4.webp': fakeJpeg(4),
    'images/5.jpg': fakeJpeg(5),
    'images/notes.txt': 'not an image',
    'images/.taxon/cache.bin': 'hidden',
  });
  const ds = readFolderTree(root);
  const t = ds.taxonomy;
  assert.equal(ds.format, 'folder');
  assert.deepEqual(ds.items.map((i) => [i.image, i.labels.map((l) => t.pathString(l)).join()]), [
    ['images/5.jpg', ''],
    ['images/animal/3.png', 'animal'],
    ['images/animal/cat/1.jpg', 'animal > cat'],
    ['images/animal/cat/2.JPG', 'animal > cat'],
    ['images/vehicle/car/4.webp', 'vehicle > car'],
  ]);
  assert.deepEqual(validateDataset(ds), []);
  const s = datasetStats(ds);
  assert.deepEqual(
    { images: s.images, labelled: s.labelled, unlabelled: s.unlabelled, nodes: s.nodes, leaves: s.leaves, maxDepth: s.maxDepth },
    { images: 5, labelled: 4, unlabelled: 1, nodes: 4, leaves: 2, maxDepth: 2 },
  );
  assert.deepEqual(s.perLevel, [
    { level: 1, nodes: 2, images: 4 },
    { level: 2, nodes: 2, images: 3 },
  ]);
  const counts = countsPerNode(ds);
  assert.deepEqual(
    Object.fromEntries(t.nodes.map((n) => [t.pathString(n.id), counts[n.id]])),
    { animal: 3, 'animal > cat': 2, vehicle: 1, 'vehicle > car': 1 },
  );
});

test('a folder without images is refused with a message naming it', () => {
  const root = writeTree(tempDir(), { 'images/a/readme.txt': 'x' });
  assert.throws(() => readFolderTree(root), (err: Error) => err.message.startsWith(root) && /contains no images/.test(err.message));
});

test('an item with several labels counts once per node', () => {
  const ds = petsDataset(tempDir(), [{ id: 'a', image: 'a.jpg', labels: [0, 1] }]);
  assert.deepEqual([...countsPerNode(ds)], [1, 1, 0, 0, 0]);
});

test('atomic writes replace the file whole and refuse a file changed since it was read', () => {
  const dir = tempDir();
  const file = path.join(dir, 'labels.csv');
  writeFileAtomic(file, 'one');
  const mtime = fs.statSync(file).mtimeMs;
  writeFileAtomic(file, 'two', { expectedMtimeMs: mtime });
  assert.equal(fs.readFileSync(file, 'utf8'), 'two');
  fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.throws(() => writeFileAtomic(file, 'three', { expectedMtimeMs: mtime }), /changed on disk/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'two');
  assert.deepEqual(fs.readdirSync(dir), ['labels.csv'], 'no temporary files left behind');
});

test('an atomic write keeps the permissions of the file it replaces', () => {
  const file = path.join(tempDir(), 'labels.csv');
  fs.writeFileSync(file, 'old');
  fs.chmodSync(file, 0o640);
  writeFileAtomic(file, 'new');
  assert.equal(fs.statSync(file).mode & 0o777, 0o640);
  assert.equal(fs.readFileSync(file, 'utf8'), 'new');
});

test('one containment per root: a folder or file linked out of the root is refused, links inside are fine', () => {
  const outside = writeTree(tempDir(), { 'x.jpg': fakeJpeg(5) });
  const root = writeTree(tempDir(), { 'images/a/one.jpg': fakeJpeg(1), 'images/a/two.jpg': fakeJpeg(2) });
  fs.symlinkSync(outside, path.join(root, 'images', 'out'));
  fs.symlinkSync(path.join(outside, 'x.jpg'), path.join(root, 'images', 'a', 'x.jpg'));
  fs.symlinkSync(path.join(root, 'images', 'a'), path.join(root, 'images', 'alias'));
  const c = new RootContainment(root);
  assert.equal(c.resolve('images/a/one.jpg').absolute, path.join(root, 'images', 'a', 'one.jpg'));
  assert.equal(c.resolve('images/a/two.jpg').problem, undefined);
  assert.equal(c.resolve('images/out/x.jpg').problem, 'symlink-outside', 'a file in a folder linked out');
  assert.equal(c.resolve('images/a/x.jpg').problem, 'symlink-outside', 'a file linked out from a checked folder');
  assert.equal(c.resolve('images/alias/one.jpg').problem, undefined, 'a folder linked inside');
  assert.equal(c.resolve('images/a/missing.jpg').problem, undefined, 'a missing file is another rule’s business');
  assert.equal(c.resolve('../x.jpg').problem, 'parent-reference');
});
