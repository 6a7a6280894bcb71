import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { Dataset } from '../../src/core/dataset';
import { loadDataset } from '../../src/core/formats/index';
import { confirmPredictions, moveImages } from '../../src/core/gallery/move';
import { AUDIT_MISSING, compactPredictions, Gallery, type GalleryPredictions } from '../../src/core/gallery/selection';
import { ThumbnailCache } from '../../src/core/gallery/thumbnails';
import type { AuditFindings } from '../../src/core/learn/auditStore';
import type { Prediction } from '../../src/core/learn/inference';
import { LabelWriter } from '../../src/core/labels/index';
import { ROOT } from '../../src/core/taxonomy';
import { tempDir, writeTree } from './helpers';

const png = (w: number, h: number, rgb: [number, number, number]) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();

async function imageRoot(): Promise<string> {
  return writeTree(tempDir('taxon-thumbs-'), {
    'photos/red.png': await png(400, 200, [200, 10, 10]),
    'photos/tiny.png': await png(20, 30, [10, 200, 10]),
    'photos/broken.jpg': Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]),
    'photos/empty.png': Buffer.alloc(0),
  });
}

test('a thumbnail is a small WebP inside the size, made once and then read from .taxon/thumbnails', async () => {
  const root = await imageRoot();
  const cacheDir = path.join(root, '.taxon');
  const cache = new ThumbnailCache(root, { cacheDir, size: 64 });
  assert.equal(cache.cached('photos/red.png'), undefined, 'nothing cached before the first request');
  const made = await cache.get('photos/red.png');
  assert.ok('data' in made, JSON.stringify(made));
  const meta = await sharp(made.data).metadata();
  assert.equal(meta.format, 'webp');
  assert.deepEqual([meta.width, meta.height], [64, 32], 'fits inside the size, aspect ratio kept');
  const file = path.join(cache.dir, ...cache.keyOf('photos/red.png')!.split('/')) + '.webp';
  assert.ok(file.startsWith(path.join(root, '.taxon', 'thumbnails') + path.sep));
  assert.deepEqual(fs.readFileSync(file), made.data);
  // the next read is the cached file itself, not a new decoding
  fs.writeFileSync(file, Buffer.from('cached bytes'));
  const again = cache.cached('photos/red.png');
  assert.ok(again && 'data' in again);
  assert.equal(again.data.toString(), 'cached bytes');
  // a small image is not enlarged
  const tiny = await cache.get('photos/tiny.png');
  assert.ok('data' in tiny);
  const tinyMeta = await sharp(tiny.data).metadata();
  assert.deepEqual([tinyMeta.width, tinyMeta.height], [20, 30]);
});

test('a changed image gets a new thumbnail (the key holds its size and modification time)', async () => {
  const root = await imageRoot();
  const cache = new ThumbnailCache(root, { cacheDir: path.join(root, '.taxon'), size: 32 });
  const before = cache.keyOf('photos/red.png');
  await cache.get('photos/red.png');
  fs.writeFileSync(path.join(root, 'photos/red.png'), await png(100, 100, [0, 0, 255]));
  fs.utimesSync(path.join(root, 'photos/red.png'), new Date(), new Date(Date.now() + 5000));
  assert.notEqual(cache.keyOf('photos/red.png'), before);
  assert.equal(cache.cached('photos/red.png'), undefined);
  const after = await cache.get('photos/red.png');
  assert.ok('data' in after);
  const { dominant } = await sharp(after.data).stats();
  assert.ok(dominant.b > 200 && dominant.r < 50, `the new thumbnail shows the new image: ${JSON.stringify(dominant)}`);
});

test('a corrupt image gets a reason naming it, cached so that it is not decoded again; the others still work', async () => {
  const root = await imageRoot();
  const cache = new ThumbnailCache(root, { cacheDir: path.join(root, '.taxon'), size: 32 });
  const results = await Promise.all(['photos/broken.jpg', 'photos/red.png', 'photos/empty.png'].map((i) => cache.get(i)));
  const [broken, red, empty] = results;
  assert.ok('error' in broken);
  assert.match(broken.error, /^photos\/broken\.jpg (cannot be decoded \(corrupt or truncated image|is not an image Taxon can decode)/);
  assert.ok('data' in red, 'the grid goes on past a corrupt image');
  assert.ok('error' in empty);
  assert.equal(empty.error, 'photos/empty.png is empty (0 bytes)');
  const errFile = path.join(cache.dir, ...cache.keyOf('photos/broken.jpg')!.split('/')) + '.err';
  assert.ok(fs.existsSync(errFile), 'the failure is cached');
  assert.deepEqual(cache.cached('photos/broken.jpg'), broken);
});

test('image paths that leave the dataset root, or do not exist, get a reason and are never read', async () => {
  const root = await imageRoot();
  const outside = writeTree(tempDir('taxon-outside-'), { 'secret.png': await png(10, 10, [1, 2, 3]) });
  fs.symlinkSync(path.join(outside, 'secret.png'), path.join(root, 'photos', 'link.png'));
  const cache = new ThumbnailCache(root, { cacheDir: path.join(root, '.taxon') });
  const cases: Array<[string, RegExp]> = [
    ['../outside/secret.png', /uses '\.\.' and leaves the dataset root/],
    [path.join(outside, 'secret.png'), /is an absolute path/],
    ['photos/link.png', /symbolic link that points outside the dataset root/],
    ['photos/missing.png', /^photos\/missing\.png does not exist$/],
  ];
  for (const [image, reason] of cases) {
    const t = await cache.get(image);
    assert.ok('error' in t, image);
    assert.match(t.error, reason);
    assert.ok(t.error.startsWith(image), `the reason names the image: ${t.error}`);
  }
  assert.equal(fs.existsSync(path.join(root, '.taxon', 'thumbnails')), false, 'nothing was decoded or cached');
});

// ---------------------------------------------------------------- selection

const CSV = [
  'image,path',
  'a/gold1.jpg,animal > fish > goldfish',
  'a/gold2.jpg,animal > fish > goldfish',
  'a/cat1.jpg,animal > cat',
  'a/partial.jpg,animal',
  'f/pizza.jpg,food > pizza',
  'u/u1.jpg,',
  'u/u2.jpg,',
  'u/u3.jpg,',
  '',
].join('\n');

function csvDataset(): { root: string; file: string; ds: Dataset } {
  const root = writeTree(tempDir('taxon-gallery-'), { 'labels.csv': CSV });
  const file = path.join(root, 'labels.csv');
  return { root, file, ds: loadDataset(file) };
}

function predictionsFor(ds: Dataset, chosen: Record<string, [string, number]>): GalleryPredictions {
  const t = ds.taxonomy;
  const images = Object.keys(chosen);
  const predictions: Prediction[] = images.map((image) => {
    const [p, conf] = chosen[image];
    const node = t.find(p.split(' > '))!;
    const marginals = new Float64Array(t.size);
    marginals[node] = conf;
    return { marginals, path: t.ancestry(node), node, confident: node };
  });
  return compactPredictions(images, predictions);
}

function shop() {
  const { ds, ...rest } = csvDataset();
  const predictions = predictionsFor(ds, {
    'a/gold1.jpg': ['animal > fish > goldfish', 0.9],
    'a/gold2.jpg': ['food > pizza', 0.7], // disagrees
    'a/cat1.jpg': ['animal', 0.6], // stops higher on the same path: agrees
    'a/partial.jpg': ['animal > cat', 0.8], // deeper on the same path: agrees
    'u/u1.jpg': ['animal > cat', 0.4],
    'u/u2.jpg': ['food > pizza', 0.95],
  });
  const audit: AuditFindings = {
    suspects: [{ image: 'a/gold2.jpg', given: 'animal > fish > goldfish', suggested: 'food > pizza', level: 1, score: 0.8 }],
    duplicates: [{ a: 'a/gold1.jpg', b: 'u/u3.jpg', similarity: 0.99, sameLabel: false }],
  };
  return { ds, ...rest, gallery: new Gallery(ds, predictions, audit) };
}

const imagesOf = (g: Gallery, items: Int32Array) => [...items].map((i) => g.ds.items[i].image);

test('a node shows the images labelled at or under it and the unlabelled ones predicted under it', () => {
  const { gallery, ds } = shop();
  const animal = ds.taxonomy.find(['animal'])!;
  const all = gallery.select(animal, 'all');
  assert.deepEqual(imagesOf(gallery, all.items), ['a/gold1.jpg', 'a/gold2.jpg', 'a/cat1.jpg', 'a/partial.jpg', 'u/u1.jpg']);
  assert.deepEqual(all.counts, { all: 5, labelled: 4, predicted: 1, disagreeing: 1, suspicious: 1, duplicates: 1 });
  const fish = ds.taxonomy.find(['animal', 'fish'])!;
  assert.deepEqual(imagesOf(gallery, gallery.select(fish, 'all').items), ['a/gold1.jpg', 'a/gold2.jpg']);
  const food = ds.taxonomy.find(['food'])!;
  assert.deepEqual(imagesOf(gallery, gallery.select(food, 'all').items), ['f/pizza.jpg', 'u/u2.jpg'], 'a labelled image predicted elsewhere stays with its label');
  const everything = gallery.select(ROOT, 'all');
  assert.equal(everything.items.length, 8, 'the dataset itself shows every image, unlabelled and unpredicted ones too');
});

test('filters: labelled, predicted, disagreeing, suspicious, duplicates', () => {
  const { gallery, ds } = shop();
  const animal = ds.taxonomy.find(['animal'])!;
  const pick = (f: Parameters<Gallery['select']>[1]) => imagesOf(gallery, gallery.select(animal, f).items);
  assert.deepEqual(pick('labelled'), ['a/gold1.jpg', 'a/gold2.jpg', 'a/cat1.jpg', 'a/partial.jpg']);
  assert.deepEqual(pick('predicted'), ['u/u1.jpg']);
  assert.deepEqual(pick('disagreeing'), ['a/gold2.jpg']);
  assert.deepEqual(pick('suspicious'), ['a/gold2.jpg']);
  assert.deepEqual(pick('duplicates'), ['a/gold1.jpg']);
  assert.deepEqual(imagesOf(gallery, gallery.select(ROOT, 'duplicates').items), ['a/gold1.jpg', 'u/u3.jpg']);
});

test('sorting by confidence puts images without a prediction last; ties keep file order', () => {
  const { gallery, ds } = shop();
  const asc = imagesOf(gallery, gallery.select(ROOT, 'all', 'confidence-asc').items);
  assert.deepEqual(asc, ['u/u1.jpg', 'a/cat1.jpg', 'a/gold2.jpg', 'a/partial.jpg', 'a/gold1.jpg', 'u/u2.jpg', 'f/pizza.jpg', 'u/u3.jpg']);
  const desc = imagesOf(gallery, gallery.select(ROOT, 'all', 'confidence-desc').items);
  assert.deepEqual(desc, ['u/u2.jpg', 'a/gold1.jpg', 'a/partial.jpg', 'a/gold2.jpg', 'a/cat1.jpg', 'u/u1.jpg', 'f/pizza.jpg', 'u/u3.jpg']);
  const byName = imagesOf(gallery, gallery.select(ds.taxonomy.find(['animal'])!, 'labelled', 'name').items);
  assert.deepEqual(byName, ['a/cat1.jpg', 'a/gold1.jpg', 'a/gold2.jpg', 'a/partial.jpg']);
});

test('a tile says what the image is labelled, what the model predicts, and what the audit found', () => {
  const { gallery, ds } = shop();
  const index = (image: string) => ds.items.findIndex((i) => i.image === image);
  assert.deepEqual(gallery.tile(index('a/gold2.jpg')), {
    image: 'a/gold2.jpg',
    labels: ['animal > fish > goldfish'],
    predicted: 'food > pizza',
    confidence: 0.7,
    disagrees: true,
    suspect: { suggested: 'food > pizza', score: 0.8 },
  });
  assert.deepEqual(gallery.tile(index('u/u3.jpg')), { image: 'u/u3.jpg', labels: [], duplicate: { other: 'a/gold1.jpg', similarity: 0.99, identical: false } });
});

test('without predictions or an audit the filters say what to run instead of failing', () => {
  const { ds } = csvDataset();
  const gallery = new Gallery(ds, { unavailable: 'labels.csv has no trained classifiers. Run Taxon: Train Classifiers first.' }, undefined);
  const animal = ds.taxonomy.find(['animal'])!;
  const predicted = gallery.select(animal, 'predicted');
  assert.equal(predicted.items.length, 0);
  assert.equal(predicted.unavailable, 'labels.csv has no trained classifiers. Run Taxon: Train Classifiers first.');
  assert.equal(gallery.select(animal, 'disagreeing').unavailable, predicted.unavailable);
  const suspicious = gallery.select(animal, 'suspicious');
  assert.equal(suspicious.unavailable, AUDIT_MISSING);
  assert.match(AUDIT_MISSING, /Run Taxon: Audit Labels first/);
  assert.equal(gallery.select(animal, 'duplicates').unavailable, AUDIT_MISSING);
  const sorted = gallery.select(animal, 'all', 'confidence-desc');
  assert.equal(sorted.items.length, 4, 'sorting by confidence keeps the images, in file order');
  assert.equal(sorted.unavailable, predicted.unavailable);
  assert.equal(gallery.select(animal, 'labelled').unavailable, undefined);
});

test('an empty node selects nothing, with every count zero', () => {
  const root = writeTree(tempDir('taxon-gallery-'), { 'labels.jsonl': '{"image": "x.jpg", "path": "a > b"}\n', 'taxonomy.json': JSON.stringify({ name: 'root', children: [{ name: 'a', children: [{ name: 'b' }, { name: 'c' }] }] }) });
  const ds = loadDataset(path.join(root, 'labels.jsonl'));
  const g = new Gallery(ds, { unavailable: 'none' }, { suspects: [], duplicates: [] });
  const c = g.select(ds.taxonomy.find(['a', 'c'])!, 'all');
  assert.equal(c.items.length, 0);
  assert.deepEqual(c.counts, { all: 0, labelled: 0, predicted: 0, disagreeing: 0, suspicious: 0, duplicates: 0 });
});

// ---------------------------------------------------------------- move

test('moving images makes one label change per image and the changes that undo it', () => {
  const { ds } = csvDataset();
  const move = moveImages(ds, ['a/gold1.jpg', 'u/u1.jpg', 'a/gold1.jpg', 'f/pizza.jpg'], ['food', 'pizza'], 7);
  assert.deepEqual(move.changes, [
    { image: 'a/gold1.jpg', path: ['food', 'pizza'], at: 7 },
    { image: 'u/u1.jpg', path: ['food', 'pizza'], at: 7 },
  ]);
  assert.deepEqual(move.undo, [
    { image: 'a/gold1.jpg', path: ['animal', 'fish', 'goldfish'], at: 7 },
    { image: 'u/u1.jpg', path: null, at: 7 },
  ]);
  assert.deepEqual(move.unchanged, ['f/pizza.jpg']);
});

test('moving refuses a path outside the taxonomy and an image outside the dataset, naming the file', () => {
  const { ds, file } = csvDataset();
  assert.throws(() => moveImages(ds, ['a/gold1.jpg'], ['animal', 'dog']), (err: Error) => err.message === `${file}: cannot move images to 'animal > dog': that path is not a node of the taxonomy`);
  assert.throws(() => moveImages(ds, ['../etc/passwd'], ['food']), (err: Error) => err.message === `${file}: cannot move ../etc/passwd: it is not an item of this dataset`);
  assert.throws(() => moveImages(ds, ['a/gold1.jpg'], []), /is not a node of the taxonomy/);
});

test('a move written through the label writer is journaled, lands in the file, and its undo restores the file', () => {
  const { root, file, ds } = csvDataset();
  const before = fs.readFileSync(file, 'utf8');
  const move = moveImages(ds, ['a/gold2.jpg', 'u/u2.jpg'], ['animal', 'cat'], 1);
  const writer = new LabelWriter(ds);
  assert.equal(writer.apply(move.changes).written, 2);
  const after = fs.readFileSync(file, 'utf8');
  assert.match(after, /^a\/gold2\.jpg,animal > cat$/m);
  assert.match(after, /^u\/u2\.jpg,animal > cat$/m);
  const journal = fs.readFileSync(path.join(root, '.taxon', 'journal.jsonl'), 'utf8');
  assert.match(journal, /"image":"a\/gold2\.jpg","path":\["animal","cat"\]/);
  new LabelWriter(loadDataset(file)).apply(move.undo);
  assert.equal(fs.readFileSync(file, 'utf8'), before);
});

test('confirming gives each chosen image the path predicted for it; no prediction, no change; the writer lands it and undo restores', () => {
  const { gallery, ds, file } = shop();
  const before = fs.readFileSync(file, 'utf8');
  const t = ds.taxonomy;
  const chosen = ['u/u1.jpg', 'u/u2.jpg', 'u/u3.jpg', 'a/gold1.jpg', 'u/u1.jpg'].map((image) => {
    const i = ds.items.findIndex((it) => it.image === image);
    return { image, predicted: gallery.predictedOf(i) };
  });
  const confirm = confirmPredictions(ds, chosen, 5);
  assert.deepEqual(confirm.changes, [
    { image: 'u/u1.jpg', path: ['animal', 'cat'], at: 5 },
    { image: 'u/u2.jpg', path: ['food', 'pizza'], at: 5 },
  ]);
  assert.deepEqual(confirm.undo, [
    { image: 'u/u1.jpg', path: null, at: 5 },
    { image: 'u/u2.jpg', path: null, at: 5 },
  ]);
  assert.deepEqual(confirm.unpredicted, ['u/u3.jpg'], 'no prediction: left as it is');
  assert.deepEqual(confirm.unchanged, ['a/gold1.jpg'], 'already labelled with its prediction');
  assert.equal(t.pathString(gallery.predictedOf(ds.items.findIndex((it) => it.image === 'u/u2.jpg'))), 'food > pizza');
  assert.throws(() => confirmPredictions(ds, [{ image: '../etc/passwd', predicted: 0 }]), /it is not an item of this dataset/);
  new LabelWriter(ds).apply(confirm.changes);
  const after = fs.readFileSync(file, 'utf8');
  assert.match(after, /^u\/u1\.jpg,animal > cat$/m);
  assert.match(after, /^u\/u2\.jpg,food > pizza$/m);
  assert.match(after, /^u\/u3\.jpg,$/m);
  new LabelWriter(loadDataset(file)).apply(confirm.undo);
  assert.equal(fs.readFileSync(file, 'utf8'), before);
});
