import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathIndex } from '../../webview/labeling/pathSearch';

const labels = (index: PathIndex, query: string, limit = 50): string[] => index.search(query, limit).matches.map((m) => m.entry.label);

const taxonomy = () =>
  new PathIndex([
    ['animal', 'mammal', 'dog'],
    ['animal', 'mammal', 'dog', 'chihuahua'],
    ['animal', 'mammal', 'hot_dog_lover'],
    ['animal', 'bird', 'bulldog_bat'],
    ['food', 'hot dog'],
    ['animal', 'mammal', 'cat'],
  ]);

test('every node is searchable, internal nodes included, each once', () => {
  const index = taxonomy();
  assert.equal(index.size, 10);
  const mammal = index.entries.find((e) => e.label === 'animal > mammal')!;
  assert.equal(mammal.internal, true, 'a node with children is internal: choosing it is a partial label');
  assert.equal(index.entries.find((e) => e.label === 'animal > mammal > cat')!.internal, false);
});

test('an exact leaf name ranks first, then leaf prefixes, then the name inside a leaf, then ancestors', () => {
  assert.deepEqual(labels(taxonomy(), 'dog'), [
    'animal > mammal > dog',
    'food > hot dog',
    'animal > mammal > hot_dog_lover',
    'animal > bird > bulldog_bat',
    'animal > mammal > dog > chihuahua',
  ]);
});

test('search ignores case and takes path separators as spaces', () => {
  assert.deepEqual(labels(taxonomy(), 'MAMMAL > Cat'), ['animal > mammal > cat']);
  assert.deepEqual(labels(taxonomy(), 'mammal/cat'), ['animal > mammal > cat']);
});

test('every word must match, in any order', () => {
  assert.deepEqual(labels(taxonomy(), 'chihua mammal'), ['animal > mammal > dog > chihuahua']);
  assert.deepEqual(labels(taxonomy(), 'mammal bird'), []);
});

test('letters in order across the path match when nothing matches as a substring', () => {
  assert.deepEqual(labels(taxonomy(), 'amchi'), ['animal > mammal > dog > chihuahua']);
  assert.deepEqual(labels(taxonomy(), 'zzz'), []);
});

test('substring matches rank above letters-in-order matches', () => {
  const found = labels(taxonomy(), 'cat');
  assert.equal(found[0], 'animal > mammal > cat');
});

test('at most `limit` matches come back, with the total count', () => {
  const index = new PathIndex(Array.from({ length: 1000 }, (_, i) => ['root', `leaf ${i}`]));
  const { matches, total } = index.search('leaf', 50);
  assert.equal(matches.length, 50);
  assert.equal(total, 1000);
});

test('a longer query narrows the previous results and gives what a fresh search gives', () => {
  const index = taxonomy();
  index.search('d');
  index.search('do');
  const narrowed = labels(index, 'dog l');
  assert.deepEqual(narrowed, labels(taxonomy(), 'dog l'));
  assert.deepEqual(labels(index, 'c'), labels(taxonomy(), 'c'), 'a different query starts afresh');
});

test('the highlight covers the first word inside the leaf name', () => {
  const match = taxonomy().search('hot').matches.find((m) => m.entry.label === 'food > hot dog')!;
  assert.equal(match.entry.label.slice(...match.highlight!), 'hot');
});

test('names with markup or quotes are plain strings to the index', () => {
  const index = new PathIndex([['animal', '<script>alert("x")</script>']]);
  assert.deepEqual(labels(index, 'script'), ['animal > <script>alert("x")</script>']);
});

test('30,000 paths: indexing and a search stay fast', () => {
  const paths: string[][] = [];
  for (let i = 0; paths.length < 30_000; i++) paths.push(['kingdom ' + (i % 7), 'family ' + (i % 700), `species ${i} ${(i * 7919).toString(36)}`]);
  let t = performance.now();
  const index = new PathIndex(paths);
  const buildMs = performance.now() - t;
  t = performance.now();
  for (const q of ['a', 'spec', 'family 12 species', 'zq9']) index.search(q);
  const searchMs = (performance.now() - t) / 4;
  assert.ok(buildMs < 1500, `index built in ${buildMs.toFixed(0)} ms`);
  assert.ok(searchMs < 100, `a search took ${searchMs.toFixed(1)} ms`);
});
