import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runAsync } from '../../src/cli/main';
import { auditLabels, NotEnoughClassesError, partingLevel } from '../../src/core/learn/audit';
import { duplicateKey, markReviewed, readAuditFindings, suspectKey } from '../../src/core/learn/auditStore';
import { auditDataset } from '../../src/core/learn/auditWorkflow';
import { nearDuplicates, nearDuplicatesExact } from '../../src/core/learn/duplicates';
import { cholesky, choleskySolve, crossValidatedLda, fitLda, ldaProbabilities, softmaxAt } from '../../src/core/learn/lda';
import { NonFiniteEmbeddingError } from '../../src/core/learn/softmax';
import { identicalFileGroups } from '../../src/core/identical';
import { loadDataset } from '../../src/core/formats';
import { embedImages } from '../../src/core/model/embed';
import { ROOT, Taxonomy } from '../../src/core/taxonomy';
import { fakeJpeg, tempDir, writeTree } from './helpers';
import { gaussian, hierarchicalClusters, rng } from './learn-synthetic';

test('Cholesky solve gives the solution of a small SPD system', () => {
  // A = [[4,2,0],[2,3,1],[0,1,2]], x = [1,-2,3] → b = A x
  const A = Float64Array.from([4, 2, 0, 2, 3, 1, 0, 1, 2]);
  const b = Float64Array.from([4 * 1 + 2 * -2, 2 * 1 + 3 * -2 + 3, -2 + 6]);
  cholesky(A, 3);
  choleskySolve(A, 3, b);
  [1, -2, 3].forEach((x, i) => assert.ok(Math.abs(b[i] - x) < 1e-12, `x[${i}] = ${b[i]}`));
});

test('cross-validated LDA separates two Gaussian classes out of fold', async () => {
  const rand = rng(3);
  const g = gaussian(rand);
  const n = 400;
  const dim = 6;
  const data = new Float32Array(n * dim);
  const cls = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    cls[i] = i % 2;
    for (let j = 0; j < dim; j++) data[i * dim + j] = (cls[i] ? 2 : -2) * (j === 0 ? 1 : 0) + g();
  }
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const fold = Int32Array.from({ length: n }, (_, i) => i % 5);
  const logits = await crossValidatedLda({ data, n, dim }, rows, cls, fold, 5, 2);
  const p = new Float64Array(2);
  let right = 0;
  for (let i = 0; i < n; i++) {
    softmaxAt(logits, i * 2, 2, 1, p);
    assert.ok(Math.abs(p[0] + p[1] - 1) < 1e-12);
    if (p[cls[i]] > 0.5) right++;
  }
  assert.ok(right / n > 0.95, `accuracy ${right / n}`);
});

test('LDA fits classes of one row each (no within-class spread) and repeated rows without failing', async () => {
  const dim = 5;
  // Three classes of one row; then two identical rows of one class beside one of another.
  const data = Float32Array.from([1, 2, 3, 4, 5, 0.1, 0.2, 0.3, 0.4, 0.5, -1, 0, 1, 0, -1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
  const X = { data, n: 6, dim };
  const single = fitLda(X, [0, 1, 2], [0, 1, 2], 3);
  const p = new Float64Array(3);
  ldaProbabilities(single, X, 0, p);
  assert.ok(p.every(Number.isFinite) && Math.abs(p[0] + p[1] + p[2] - 1) < 1e-9);
  assert.ok(p[0] > p[1] && p[0] > p[2], 'a row is closest to its own class');
  const repeated = fitLda(X, [3, 4, 5], [0, 0, 1], 2);
  ldaProbabilities(repeated, X, 3, p);
  assert.ok(Number.isFinite(p[0]) && p[0] > 0.5);
  // Out of fold with folds that leave a class of one row out entirely.
  const logits = await crossValidatedLda(X, [0, 1, 2, 3, 4, 5], [0, 1, 2, 0, 0, 1], [0, 1, 2, 0, 1, 2], 3, 3, { skipEmptyFolds: true });
  assert.equal(logits.length, 18);
});

/** Four leaves under two parents; a few labels moved to a sibling or across the tree. */
function noisyClusters() {
  const s = hierarchicalClusters({ n: 800, dim: 16, branching: [2, 2], spread: [6, 3], noise: 1, seed: 5 });
  const t = s.taxonomy;
  const labels = s.labels.map((l) => [l]);
  const sibling = (l: number) => t.childrenOf(t.nodes[l].parent).find((c) => c !== l)!;
  const cousin = (l: number) => t.leaves().find((c) => t.nodes[c].parent !== t.nodes[l].parent)!;
  const flipped = new Map<number, { truth: number; kind: 'sibling' | 'cousin' }>();
  for (let i = 0; i < 40; i++) {
    const row = i * 20;
    const truth = s.labels[row];
    const kind = i % 2 ? 'sibling' : 'cousin';
    labels[row] = [kind === 'sibling' ? sibling(truth) : cousin(truth)];
    flipped.set(row, { truth, kind });
  }
  return { s, t, labels, flipped };
}

test('the audit ranks moved labels first, suggests the true leaf and names the level where the paths part', async () => {
  const { s, t, labels, flipped } = noisyClusters();
  const report = await auditLabels(t, { data: s.data, n: s.n, dim: s.dim }, labels, s.images, { dims: 8 });
  assert.equal(report.items.length, s.n);
  assert.equal(report.unjudged, 0);
  const top = report.items.slice(0, flipped.size);
  const caught = top.filter((i) => flipped.has(i.row)).length;
  assert.ok(caught >= flipped.size * 0.9, `${caught} of ${flipped.size} moved labels in the top ${flipped.size}`);
  for (const item of top) {
    const f = flipped.get(item.row);
    if (!f) continue;
    assert.equal(item.suggested, f.truth, `row ${item.row}: suggests the true leaf`);
    assert.equal(item.level, f.kind === 'sibling' ? 2 : 1, `row ${item.row}: ${f.kind} move parts at level ${f.kind === 'sibling' ? 2 : 1}`);
    assert.equal(item.levels.length, 2);
  }
  // Scores are sorted, in [0, 1], and a clean item the model agrees with has level 0.
  for (let i = 1; i < report.items.length; i++) assert.ok(report.items[i - 1].score >= report.items[i].score);
  assert.ok(report.items.every((i) => i.score >= 0 && i.score <= 1));
  assert.ok(report.items.some((i) => i.level === 0 && !flipped.has(i.row)));
});

test('an item is judged out of fold: a label that only it carries is not judged (no model has seen it elsewhere)', async () => {
  const { s, t, labels } = noisyClusters();
  const lone = t.add('lone', t.roots[0]);
  labels[3] = [lone];
  const report = await auditLabels(t, { data: s.data, n: s.n, dim: s.dim }, labels, s.images, { dims: 8 });
  assert.equal(report.unjudged, 1);
  assert.ok(!report.items.some((i) => i.row === 3));
});

test('partial labels are judged at their own node, and agreeing with a deeper suggestion is no contradiction', async () => {
  const t = new Taxonomy();
  const a = t.add('a');
  const a1 = t.add('a1', a);
  const b = t.add('b');
  assert.equal(partingLevel(t, a, a1), 0);
  assert.equal(partingLevel(t, a1, b), 1);
  assert.equal(partingLevel(t, a1, a1), 0);
  const { s, t: t2, labels } = noisyClusters();
  // Give ten items only their parent.
  for (let r = 1; r < 200; r += 20) labels[r] = [t2.nodes[s.labels[r]].parent];
  const report = await auditLabels(t2, { data: s.data, n: s.n, dim: s.dim }, labels, s.images, { dims: 8 });
  const partial = report.items.filter((i) => t2.nodes[i.given].parent === ROOT);
  assert.equal(partial.length, 10);
  assert.ok(partial.every((i) => i.levels.length === 1));
});

test('the audit refuses one class or none, and names the image of a non-finite embedding', async () => {
  const { s, t } = noisyClusters();
  const X = { data: s.data, n: s.n, dim: s.dim };
  await assert.rejects(auditLabels(t, X, s.labels.map(() => []), s.images), (e: Error) => e instanceof NotEnoughClassesError && /no labelled items/.test(e.message));
  const leaf = t.leaves()[0];
  await assert.rejects(auditLabels(t, X, s.labels.map(() => [leaf]), s.images), (e: Error) => e instanceof NotEnoughClassesError && /only one class/.test(e.message));
  const bad = Float32Array.from(s.data);
  bad[5 * s.dim + 2] = NaN;
  await assert.rejects(auditLabels(t, { ...X, data: bad }, s.labels.map((l) => [l]), s.images, { dims: 8 }), (e: Error) => e instanceof NonFiniteEmbeddingError && e.message.includes(s.images[5]));
});

test('a cancelled audit stops with an abort error', async () => {
  const { s, t, labels } = noisyClusters();
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(auditLabels(t, { data: s.data, n: s.n, dim: s.dim }, labels, s.images, { signal: controller.signal }), (e: Error) => e.name === 'AbortError');
});

test('near-duplicate search finds the same pairs as the exact search, without comparing all pairs', () => {
  const rand = rng(11);
  const g = gaussian(rand);
  const n = 3000;
  const dim = 64;
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = g();
  // 60 planted pairs at similarities from about 0.9 to 1.
  for (let k = 0; k < 60; k++) {
    const a = 2 * k;
    const b = 2000 + 7 * k;
    const eps = 0.05 + 0.4 * rand();
    for (let j = 0; j < dim; j++) data[b * dim + j] = data[a * dim + j] + eps * g();
  }
  const X = { data, n, dim };
  const exact = nearDuplicatesExact(X, 0.92);
  assert.ok(exact.length >= 30, `${exact.length} planted pairs above 0.92`);
  const { pairs, stats } = nearDuplicates(X, { threshold: 0.92 });
  assert.deepEqual(
    pairs.map((p) => [p.a, p.b]),
    exact.map((p) => [p.a, p.b]),
  );
  pairs.forEach((p, i) => assert.ok(Math.abs(p.similarity - exact[i].similarity) < 1e-5));
  assert.ok(stats.compared < (n * (n - 1)) / 2 / 20, `${stats.compared} exact comparisons`);
});

test('byte-identical files are grouped; files of equal size but other bytes are not', () => {
  const dir = writeTree(tempDir(), { 'a.jpg': fakeJpeg(1), 'b.jpg': fakeJpeg(1), 'c.jpg': fakeJpeg(2), 'd.bin': Buffer.from('xyzw'), 'e.bin': Buffer.from('wxyz') });
  const files = ['a.jpg', 'c.jpg', 'b.jpg', 'd.bin', 'e.bin', 'missing.jpg'].map((f) => path.join(dir, f));
  assert.deepEqual(identicalFileGroups(files), [[0, 2]]);
});

const TINY = path.resolve(__dirname, '../fixtures/models/mobilenet_v1_0.25_128.onnx');
const SHOP = path.resolve(__dirname, '../fixtures/workspace/shop');

test('taxon audit on a real dataset: JSON of the documented shape, duplicates with different labels, reviewed findings hidden', async () => {
  const dir = tempDir();
  fs.cpSync(SHOP, dir, { recursive: true });
  const csv = path.join(dir, 'labels.csv');
  const ds = loadDataset(csv);
  const labelled = ds.items.filter((i) => i.labels.length > 0);
  assert.ok(labelled.length >= 4);
  // Make one labelled image a byte-identical copy of another with a different label.
  const [first, other] = [labelled[0], labelled.find((i) => i.labels[0] !== labelled[0].labels[0])!];
  fs.copyFileSync(path.join(dir, first.image), path.join(dir, other.image));
  const paths = { modelPath: TINY, cacheDir: path.join(dir, '.taxon') };
  await embedImages({ root: ds.root, images: ds.items.map((i) => i.image), ...paths });

  let out = '';
  let err = '';
  const io = { out: (s: string) => (out += s + '\n'), err: (s: string) => (err += s + '\n'), cwd: dir };
  const code = await runAsync(['audit', 'labels.csv', '--all', '--json', '--model', TINY, '--cache', paths.cacheDir], io);
  assert.equal(code, 0, err);
  const json = JSON.parse(out);
  assert.deepEqual(Object.keys(json), ['suspects', 'duplicates']);
  assert.ok(json.suspects.length > 0);
  for (const s of json.suspects) assert.deepEqual(Object.keys(s), ['image', 'given', 'suggested', 'level', 'score']);
  for (let i = 1; i < json.suspects.length; i++) assert.ok(json.suspects[i - 1].score >= json.suspects[i].score);
  const pair = json.duplicates.find((d: { a: string; b: string }) => [d.a, d.b].sort().join() === [first.image, other.image].sort().join());
  assert.ok(pair, JSON.stringify(json.duplicates));
  assert.equal(pair.sameLabel, false);
  assert.equal(pair.similarity, 1);
  assert.ok(!path.isAbsolute(pair.a) && !pair.a.startsWith('..'));

  // Saved for the gallery and the diagnostics; a reviewed pair is not raised again.
  const saved = readAuditFindings(paths.cacheDir)!;
  assert.ok(saved.duplicates.some((d) => d.a === pair.a && d.b === pair.b));
  markReviewed(paths.cacheDir, [duplicateKey(pair)]);
  const again = await auditDataset(csv, paths, { all: true });
  assert.ok(!again.duplicates.some((d) => duplicateKey(d) === duplicateKey(pair)));
  assert.equal(again.reviewedHidden, 1);
  if (again.suspects[0]) {
    markReviewed(paths.cacheDir, [suspectKey(again.suspects[0])]);
    const third = await auditDataset(csv, paths, { minScore: 0 });
    assert.ok(!third.suspects.some((s) => s.image === again.suspects[0].image));
  }
});

test('taxon audit explains a dataset with one class, and a cancelled audit writes nothing', async () => {
  const dir = tempDir();
  fs.cpSync(SHOP, dir, { recursive: true });
  const images = loadDataset(path.join(dir, 'labels.csv')).items.map((i) => i.image).slice(0, 3);
  fs.writeFileSync(path.join(dir, 'labels.csv'), ['image,path', ...images.map((i) => `${i},x > y`)].join('\n') + '\n');
  const paths = { modelPath: TINY, cacheDir: path.join(dir, '.taxon') };
  await embedImages({ root: dir, images, ...paths });
  let err = '';
  const io = { out: () => {}, err: (s: string) => (err += s), cwd: dir };
  assert.equal(await runAsync(['audit', 'labels.csv', '--model', TINY, '--cache', paths.cacheDir], io), 2);
  assert.match(err, /labels\.csv.*only one class.*at least two classes/);
  assert.ok(!fs.existsSync(path.join(paths.cacheDir, 'audit.json')));

  const shop = tempDir();
  fs.cpSync(SHOP, shop, { recursive: true });
  const csv = path.join(shop, 'labels.csv');
  const sp = { modelPath: TINY, cacheDir: path.join(shop, '.taxon') };
  await embedImages({ root: shop, images: loadDataset(csv).items.map((i) => i.image), ...sp });
  const controller = new AbortController();
  await assert.rejects(
    auditDataset(csv, sp, {
      signal: controller.signal,
      progress: (message) => {
        if (/Fold 2/.test(message)) controller.abort();
      },
    }),
    (e: Error) => e.name === 'AbortError',
  );
  assert.ok(!fs.existsSync(path.join(sp.cacheDir, 'audit.json')), 'nothing written');
});

test('a handful of labels with the default model: no factorisation failure, the planted label first', async () => {
  // Regression: 9 labels (one pizza photo labelled goldfish) made a sibling group's covariance
  // indefinite by rounding ("the covariance is not positive definite").
  const dir = tempDir();
  fs.cpSync(SHOP, dir, { recursive: true });
  const csv = path.join(dir, 'labels.csv');
  fs.writeFileSync(csv, fs.readFileSync(csv, 'utf8').replace('photos/n07873807_10.JPEG,\n', 'photos/n07873807_10.JPEG,animal > goldfish\n'));
  const ds = loadDataset(csv);
  assert.equal(ds.items.filter((i) => i.labels.length).length, 9);
  const paths = { cacheDir: path.join(dir, '.taxon') };
  await embedImages({ root: dir, images: ds.items.map((i) => i.image), ...paths });
  const r = await auditDataset(csv, paths, { minScore: 0.5 });
  assert.equal(r.judged, 9);
  assert.equal(r.suspects[0]?.image, 'photos/n07873807_10.JPEG');
  assert.equal(r.suspects[0]?.suggested, 'food > pizza');
});

test('the duplicate search never reads an image path that leaves the dataset root', async () => {
  const parent = tempDir();
  const dir = path.join(parent, 'ds');
  fs.cpSync(SHOP, dir, { recursive: true });
  const csv = path.join(dir, 'labels.csv');
  // ../outside.JPEG is byte-identical to a labelled photo, with another label
  fs.copyFileSync(path.join(dir, 'photos', 'n01443537_0.JPEG'), path.join(parent, 'outside.JPEG'));
  fs.appendFileSync(csv, '../outside.JPEG,food > pizza\n');
  const ds = loadDataset(csv);
  const paths = { modelPath: TINY, cacheDir: path.join(dir, '.taxon') };
  await embedImages({ root: dir, images: ds.items.map((i) => i.image).filter((i) => !i.startsWith('..')), ...paths });
  const r = await auditDataset(csv, paths, { minScore: 0 });
  assert.ok(!r.duplicates.some((d) => d.a.includes('outside') || d.b.includes('outside')), JSON.stringify(r.duplicates));
  assert.ok(!r.suspects.some((x) => x.image.includes('outside')));
});
