import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, Taxonomy } from '../../src/core/taxonomy';
import { TaxonModel } from '../../src/core/learn/model';
import { classifierDir, loadClassifiers, saveClassifiers } from '../../src/core/learn/store';
import { hierarchicalClusters } from './learn-synthetic';
import { tempDir } from './helpers';

const MODEL = 'a'.repeat(64);

function trained() {
  const s = hierarchicalClusters({ n: 400, dim: 16, branching: [3, 3], seed: 4 });
  const { model, X } = TaxonModel.train(s.taxonomy, { data: s.data, n: s.n, dim: s.dim }, s.labels.map((l) => [l]), s.images, { alpha: 0.3 });
  return { s, model, X };
}

test('saved classifiers load back and predict exactly the same', () => {
  const { s, model, X } = trained();
  const dir = tempDir();
  saveClassifiers(dir, model, MODEL);
  const r = loadClassifiers(dir, s.taxonomy, MODEL);
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.deepEqual(r.stale, []);
  assert.equal(r.model.alpha, 0.3);
  const X2 = r.model.prepare({ data: s.data, n: s.n, dim: s.dim });
  const a = model.predict(X, 'diffusion');
  const b = r.model.predict(X2, 'diffusion');
  assert.deepEqual(b.map((p) => p.path), a.map((p) => p.path));
});

test('a corrupt, truncated or old classifier file is rejected, never trusted', () => {
  const { s, model } = trained();
  const dir = tempDir();
  saveClassifiers(dir, model, MODEL);
  const bin = path.join(classifierDir(dir), 'lcpn.bin');
  const json = path.join(classifierDir(dir), 'lcpn.json');
  const original = fs.readFileSync(bin);
  const flipped = Buffer.from(original);
  flipped[100] ^= 0xff;
  fs.writeFileSync(bin, flipped);
  assert.equal(loadClassifiers(dir, s.taxonomy, MODEL).status, 'rejected');
  fs.writeFileSync(bin, original.subarray(0, original.length - 8));
  assert.equal(loadClassifiers(dir, s.taxonomy, MODEL).status, 'rejected');
  fs.writeFileSync(bin, original);
  const header = JSON.parse(fs.readFileSync(json, 'utf8'));
  fs.writeFileSync(json, JSON.stringify({ ...header, version: 0 }));
  const old = loadClassifiers(dir, s.taxonomy, MODEL);
  assert.equal(old.status, 'rejected');
  assert.match(old.status === 'rejected' ? old.reason : '', /format version 0/);
  fs.writeFileSync(json, '{"format": "taxon-lcpn", "vers');
  assert.equal(loadClassifiers(dir, s.taxonomy, MODEL).status, 'rejected');
});

test('a classifier file from another backbone model is rejected with a clear message', () => {
  const { s, model } = trained();
  const dir = tempDir();
  saveClassifiers(dir, model, MODEL);
  const r = loadClassifiers(dir, s.taxonomy, 'b'.repeat(64));
  assert.equal(r.status, 'rejected');
  assert.match(r.status === 'rejected' ? r.reason : '', /trained on embeddings of another model/);
});

test('after a taxonomy change, unchanged classifiers are kept, changed ones are stale and removed ones dropped', () => {
  const { s, model } = trained();
  const dir = tempDir();
  saveClassifiers(dir, model, MODEL);
  // Same names, but n0 gets a new child, n2 is gone.
  const t = new Taxonomy();
  for (const id of s.taxonomy.walk()) {
    const p = s.taxonomy.path(id);
    if (p[0] === 'n2') continue;
    const parent = p.length === 1 ? ROOT : t.find(p.slice(0, -1))!;
    t.add(p[p.length - 1], parent);
  }
  const n0 = t.find(['n0'])!;
  t.add('n0.new', n0);
  const r = loadClassifiers(dir, t, MODEL);
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.dropped, 1, 'n2 is gone');
  assert.deepEqual(new Set(r.stale), new Set([ROOT, n0]), 'the root lost a child, n0 gained one');
  assert.ok(r.model.lcpn!.classifiers.has(t.find(['n1'])!), 'n1 is unchanged and kept');
});

test('a model with an input projection saves and loads back with it, predicting the same', () => {
  const s = hierarchicalClusters({ n: 400, dim: 16, branching: [3, 3], seed: 6 });
  const raw = { data: s.data, n: s.n, dim: s.dim };
  const { model, X } = TaxonModel.train(s.taxonomy, raw, s.labels.map((l) => [l]), s.images, { alpha: 0.2, projection: { dims: 6, shrinkage: 0.25 } });
  assert.equal(X.dim, 6);
  assert.equal(model.dim, 6);
  const dir = tempDir();
  saveClassifiers(dir, model, MODEL);
  const r = loadClassifiers(dir, s.taxonomy, MODEL);
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.model.preprocessing.projection?.length, 6 * 16);
  const X2 = r.model.prepare(raw);
  assert.equal(X2.dim, 6);
  assert.deepEqual(
    r.model.predict(X2, 'bottomup').map((p) => p.path),
    model.predict(X, 'bottomup').map((p) => p.path),
  );
  // A header whose projection does not match its dimensions is rejected.
  const json = path.join(classifierDir(dir), 'lcpn.json');
  const header = JSON.parse(fs.readFileSync(json, 'utf8'));
  fs.writeFileSync(json, JSON.stringify({ ...header, inputDim: 15 }));
  const bad = loadClassifiers(dir, s.taxonomy, MODEL);
  assert.equal(bad.status, 'rejected');
});
