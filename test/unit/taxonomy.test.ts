import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, Taxonomy } from '../../src/core/taxonomy';
import { closestNode, editDistance } from '../../src/core/fuzzy';

function pets(): Taxonomy {
  const t = new Taxonomy();
  const animal = t.add('animal');
  t.add('cat', animal, 'a small felid');
  t.add('dog', animal);
  const vehicle = t.add('vehicle');
  t.add('car', vehicle);
  return t;
}

test('paths run from the top level down to the node', () => {
  const t = pets();
  const cat = t.find(['animal', 'cat'])!;
  assert.deepEqual(t.path(cat), ['animal', 'cat']);
  assert.equal(t.pathString(cat), 'animal > cat');
  assert.equal(t.depth(cat), 2);
  assert.equal(t.nodes[cat].description, 'a small felid');
});

test('names are unique among siblings only: the same name under two parents is two nodes', () => {
  const t = new Taxonomy();
  const a = t.add('matter');
  const f1 = t.add('food', a);
  const b = t.add('other');
  const f2 = t.add('food', b);
  assert.notEqual(f1, f2);
  assert.equal(t.add('food', a), f1, 'adding an existing sibling returns it');
});

test('ancestor-or-self follows parents only', () => {
  const t = pets();
  const animal = t.find(['animal'])!;
  const cat = t.find(['animal', 'cat'])!;
  const car = t.find(['vehicle', 'car'])!;
  assert.equal(t.isAncestorOrSelf(animal, cat), true);
  assert.equal(t.isAncestorOrSelf(cat, cat), true);
  assert.equal(t.isAncestorOrSelf(cat, animal), false);
  assert.equal(t.isAncestorOrSelf(animal, car), false);
});

test('a 10,000-level chain walks and measures depth without recursion', () => {
  const t = new Taxonomy();
  let parent = ROOT;
  for (let i = 0; i < 10000; i++) parent = t.add(`n${i}`, parent);
  assert.equal(t.maxDepth(), 10000);
  assert.equal([...t.walk()].length, 10000);
  assert.equal(t.path(parent).length, 10000);
});

test('leaves and depth-first walk order', () => {
  const t = pets();
  assert.deepEqual(t.leaves().map((id) => t.nodes[id].name), ['cat', 'dog', 'car']);
  assert.deepEqual([...t.walk()].map((id) => t.nodes[id].name), ['animal', 'cat', 'dog', 'vehicle', 'car']);
});

test('edit distance counts insertions, deletions and substitutions', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
});

test('the closest node to a misspelt label is suggested, a far-off one is not', () => {
  const t = pets();
  assert.equal(closestNode(t, 'animal > catt'), t.find(['animal', 'cat']));
  assert.equal(closestNode(t, 'vehicle/car'), t.find(['vehicle', 'car']));
  assert.equal(closestNode(t, 'Dog'), t.find(['animal', 'dog']));
  assert.equal(closestNode(t, 'spaceship launch pad'), undefined);
});
