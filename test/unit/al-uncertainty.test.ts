import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Taxonomy } from '../../src/core/taxonomy';
import {
  leafEntropy,
  leafMargin,
  leastConfidence,
  levelDistribution,
  levelStructure,
  levelWeights,
  marginalsFromLeaves,
  multiLevelEntropy,
  multiLevelMargin,
  uniformLevelWeights,
} from '../../src/core/learn/uncertainty';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≈ ${b}`);

/** animal{dog{beagle, pug}, cat}, plant: `cat` is a leaf at depth 2, `plant` a leaf at depth 1. */
function tree() {
  const t = new Taxonomy();
  const animal = t.add('animal');
  const dog = t.add('dog', animal);
  const beagle = t.add('beagle', dog);
  const pug = t.add('pug', dog);
  const cat = t.add('cat', animal);
  const plant = t.add('plant');
  return { t, animal, dog, beagle, pug, cat, plant };
}

function marginals(t: Taxonomy, leaf: Record<number, number>): Float64Array {
  const m = new Float64Array(t.size);
  for (const [k, v] of Object.entries(leaf)) m[Number(k)] = v;
  marginalsFromLeaves(t, { data: m, n: 1, nodes: t.size });
  return m;
}

test('a leaf shallower than level L stands for itself in the level-L distribution', () => {
  const { t, animal, dog, beagle, pug, cat, plant } = tree();
  const s = levelStructure(t);
  assert.deepEqual([...s.levels[0]].sort(), [animal, plant].sort());
  assert.deepEqual([...s.levels[1]].sort(), [dog, cat, plant].sort());
  assert.deepEqual([...s.levels[2]].sort(), [beagle, pug, cat, plant].sort());
  const m = marginals(t, { [beagle]: 0.3, [pug]: 0.1, [cat]: 0.2, [plant]: 0.4 });
  const p3 = levelDistribution(s, m, 3);
  assert.deepEqual([...s.levels[2]].map((n, i) => [n, p3[i]]).sort((a, b) => a[0] - b[0]), [beagle, pug, cat, plant].map((n) => [n, m[n]]).sort((a, b) => a[0] - b[0]));
  const p2 = levelDistribution(s, m, 2);
  close(p2.reduce((a, b) => a + b, 0), 1);
  close(p2[[...s.levels[1]].indexOf(dog)], 0.4);
});

test('multi-level entropy is the weighted mean of each level\'s normalised entropy', () => {
  const { t, beagle, pug, cat, plant } = tree();
  const s = levelStructure(t);
  const m = marginals(t, { [beagle]: 0.3, [pug]: 0.1, [cat]: 0.2, [plant]: 0.4 });
  const H = (p: number[]) => -p.reduce((a, x) => a + (x > 0 ? x * Math.log(x) : 0), 0) / Math.log(p.length);
  const expected = (H([0.6, 0.4]) + H([0.4, 0.2, 0.4]) + H([0.3, 0.1, 0.2, 0.4])) / 3;
  close(multiLevelEntropy(s, uniformLevelWeights(s), m), expected);
  // A certain item has zero uncertainty at every level; a uniform one has one at the leaf level.
  close(multiLevelEntropy(s, uniformLevelWeights(s), marginals(t, { [pug]: 1 })), 0);
  close(leafEntropy(s, marginals(t, { [beagle]: 0.25, [pug]: 0.25, [cat]: 0.25, [plant]: 0.25 })), 1);
});

test('multi-level margin sums 1 − (top − second) per level with its weight', () => {
  const { t, beagle, pug, cat, plant } = tree();
  const s = levelStructure(t);
  const m = marginals(t, { [beagle]: 0.3, [pug]: 0.1, [cat]: 0.2, [plant]: 0.4 });
  close(multiLevelMargin(s, uniformLevelWeights(s), m), ((1 - 0.2) + (1 - 0) + (1 - 0.1)) / 3);
  const leafOnly = levelWeights(s, [0, 0, 1]);
  close(multiLevelMargin(s, leafOnly, m), 1 - 0.1);
  close(leafMargin(s, m), 1 - (0.4 - 0.3));
  close(leastConfidence(s, m), 0.6);
});

test('leafward weights lean to the fine levels and sum to one', () => {
  const { t } = tree();
  const s = levelStructure(t);
  const w = levelWeights(s, { leafward: 2 });
  close(w.reduce((a, b) => a + b, 0), 1);
  assert.ok(w[2] > w[1] && w[1] > w[0]);
  assert.throws(() => levelWeights(s, [1, -1]), /≥ 0/);
});

test('level distributions are renormalised when sigmoid marginals do not sum to one', () => {
  const { t, animal, plant } = tree();
  const s = levelStructure(t);
  const m = new Float64Array(t.size);
  m[animal] = 0.9;
  m[plant] = 0.9;
  const p1 = levelDistribution(s, m, 1);
  close(p1[0], 0.5);
  const w = levelWeights(s, [1, 0, 0]);
  close(multiLevelEntropy(s, w, m), 1);
});
