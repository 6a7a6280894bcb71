import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, Taxonomy } from '../../src/core/taxonomy';
import { evaluate, lowestCommonAncestor, treeDistance } from '../../src/core/learn/metrics';

/** animal > dog > {beagle, husky}; animal > cat (a leaf at depth 2); rock (a leaf at depth 1). */
function mixedDepth() {
  const t = new Taxonomy();
  const animal = t.add('animal');
  const dog = t.add('dog', animal);
  const beagle = t.add('beagle', dog);
  const husky = t.add('husky', dog);
  const cat = t.add('cat', animal);
  const rock = t.add('rock');
  return { t, animal, dog, beagle, husky, cat, rock };
}

test('tree distance counts edges through the lowest common ancestor, the root included', () => {
  const { t, animal, dog, beagle, husky, cat, rock } = mixedDepth();
  assert.equal(lowestCommonAncestor(t, beagle, cat), animal);
  assert.equal(lowestCommonAncestor(t, beagle, rock), ROOT);
  assert.equal(treeDistance(t, beagle, husky), 2);
  assert.equal(treeDistance(t, beagle, cat), 3);
  assert.equal(treeDistance(t, rock, cat), 3);
  assert.equal(treeDistance(t, dog, beagle), 1);
  assert.equal(treeDistance(t, beagle, beagle), 0);
});

test('hand-computed metrics on a mixed-depth taxonomy with partial labels', () => {
  const { t, animal, dog, beagle, husky, cat, rock } = mixedDepth();
  const m = evaluate(t, [
    { truth: beagle, predicted: beagle, confident: beagle }, // right
    { truth: husky, predicted: beagle, confident: dog }, // sibling mistake, distance 2
    { truth: cat, predicted: beagle, confident: animal }, // distance 3
    { truth: rock, predicted: cat, confident: ROOT }, // wrong at level 1; nothing confident
    { truth: dog, predicted: husky, confident: husky }, // partial label: husky is a dog, right
    { truth: dog, predicted: cat, confident: cat }, // partial label, wrong at level 2
    { truth: beagle, predicted: dog, confident: dog }, // stopped short: wrong at level 3
  ]);
  assert.equal(m.n, 7);
  assert.equal(m.leafN, 5, 'partial labels have no leaf to hit');
  assert.equal(m.leafTop1, 1 / 5);
  assert.deepEqual(m.perLevel, [
    { level: 1, n: 7, accuracy: 6 / 7 },
    { level: 2, n: 6, accuracy: 4 / 6 },
    { level: 3, n: 3, accuracy: 1 / 3 },
  ]);
  // |P∩T| = 3+2+1+0+2+1+2, |P| = 3+3+3+2+2+2+2 (husky cut to dog), |T| = 3+3+2+1+2+2+3
  assert.equal(m.hP, 11 / 17);
  assert.equal(m.hR, 11 / 16);
  assert.ok(Math.abs(m.hF1 - (2 * (11 / 17) * (11 / 16)) / (11 / 17 + 11 / 16)) < 1e-12);
  assert.equal(m.meanTreeDistance, 11 / 7);
  assert.equal(m.mistakes, 5);
  assert.equal(m.meanTreeDistanceOnMistakes, 11 / 5);
  assert.deepEqual(m.confident, { precision: 6 / 7, meanDepth: 13 / 7 });
});

test('a prediction of nothing (the root) is wrong at every level and adds nothing to hP', () => {
  const { t, beagle } = mixedDepth();
  const m = evaluate(t, [{ truth: beagle, predicted: ROOT }]);
  assert.equal(m.leafTop1, 0);
  assert.deepEqual(m.perLevel.map((l) => l.accuracy), [0, 0, 0]);
  assert.equal(m.hP, 0);
  assert.equal(m.hR, 0);
  assert.equal(m.hF1, 0);
  assert.equal(m.meanTreeDistance, 3);
  assert.equal(m.confident, undefined);
});

test('perfect predictions: every metric at its best', () => {
  const { t, beagle, cat, rock, dog } = mixedDepth();
  const m = evaluate(t, [beagle, cat, rock, dog].map((n) => ({ truth: n, predicted: n, confident: n })));
  assert.equal(m.leafTop1, 1);
  assert.equal(m.hF1, 1);
  assert.equal(m.meanTreeDistance, 0);
  assert.equal(m.meanTreeDistanceOnMistakes, 0);
  assert.deepEqual(m.confident, { precision: 1, meanDepth: 2 });
});
