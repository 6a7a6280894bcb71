import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Taxonomy } from '../../src/core/taxonomy';
import { farthestFirst, kmeans, seededRandom, typicality } from '../../src/core/learn/clustering';
import { ClusterCache, DEFAULT_SELECTION, DEFAULT_STRATEGY, QUEUE_SETTINGS, scoreItems, selectBatch, STRATEGIES, STRATEGY_NAMES, topIndices, type SelectionContext, type SelectionOptions } from '../../src/core/learn/selection';
import { accuracyAt, labelsToReach, matchRandom } from '../../src/core/learn/simulate';
import { marginalsFromLeaves } from '../../src/core/learn/uncertainty';
import type { Features } from '../../src/core/learn/softmax';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Four tight 2-d blobs of 30 points around (±10, ±10), plus 4 far outliers; row order interleaved. */
function blobs(): { X: Features; blobOf: number[] } {
  const rand = seededRandom(3);
  const centres = [[10, 10], [-10, 10], [10, -10], [-10, -10]];
  const data: number[] = [];
  const blobOf: number[] = [];
  for (let i = 0; i < 120; i++) {
    const c = i % 4;
    data.push(centres[c][0] + (rand() - 0.5) * 2, centres[c][1] + (rand() - 0.5) * 2);
    blobOf.push(c);
  }
  for (const [x, y] of [[40, 0], [0, 40], [-40, 0], [0, -40]]) {
    data.push(x, y);
    blobOf.push(-1);
  }
  return { X: { data: Float32Array.from(data), n: blobOf.length, dim: 2 }, blobOf };
}

test('the registry names the eight strategies, hybrid first (the default)', () => {
  assert.deepEqual(STRATEGY_NAMES, ['hybrid', 'typical', 'multilevel-entropy', 'multilevel-margin', 'entropy', 'margin', 'least-confidence', 'random']);
  assert.ok(STRATEGIES.every((s) => s.description.length > 0));
});

test('every queue setting the core names is contributed by package.json, with the same default as the core', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));
  const sections = [manifest.contributes.configuration].flat();
  const properties: Record<string, { default?: unknown }> = Object.assign({}, ...sections.map((c: { properties: object }) => c.properties));
  for (const [option, setting] of Object.entries(QUEUE_SETTINGS)) {
    assert.ok(setting in properties, `${setting} is contributed`);
    const expected = option === 'strategy' ? DEFAULT_STRATEGY : option === 'levelWeights' ? [] : DEFAULT_SELECTION[option as keyof typeof DEFAULT_SELECTION];
    assert.deepEqual(properties[setting].default, expected, `the default of ${setting}`);
  }
});

test('k-means with a fixed seed finds the four blobs, the same way every time', () => {
  const { X, blobOf } = blobs();
  const rows = Array.from({ length: 120 }, (_, i) => i);
  const a = kmeans(X, rows, 4, { seed: 5 });
  const b = kmeans(X, rows, 4, { seed: 5 });
  assert.deepEqual(a.assignment, b.assignment);
  for (let i = 0; i < 120; i++) for (let j = 0; j < 120; j++) assert.equal(a.assignment[i] === a.assignment[j], blobOf[i] === blobOf[j]);
});

test('k-means on more rows than it fits on: centres from an evenly spaced sample, every row to its nearest centre', () => {
  const { X, blobOf } = blobs();
  const rows = Array.from({ length: 120 }, (_, i) => i);
  const whole = kmeans(X, rows, 4, { seed: 5 });
  assert.deepEqual(kmeans(X, rows, 4, { seed: 5, fitRows: 120 }), whole);
  const sampled = kmeans(X, rows, 4, { seed: 5, fitRows: 40 });
  assert.deepEqual(kmeans(X, rows, 4, { seed: 5, fitRows: 40 }), sampled);
  assert.equal(sampled.assignment.length, 120);
  // the centres are the sample's (every third row), not the whole pool's: but the blobs are still found
  assert.notDeepEqual(Array.from(sampled.centres), Array.from(whole.centres));
  for (let i = 0; i < 120; i++) for (let j = 0; j < 120; j++) assert.equal(sampled.assignment[i] === sampled.assignment[j], blobOf[i] === blobOf[j]);
  // each row's cluster is its nearest centre
  for (let i = 0; i < 120; i++) {
    const dist = (c: number) => (X.data[i * 2] - sampled.centres[c * 2]) ** 2 + (X.data[i * 2 + 1] - sampled.centres[c * 2 + 1]) ** 2;
    for (let c = 0; c < 4; c++) assert.ok(dist(sampled.assignment[i]) <= dist(c));
  }
});

test('typical picks one representative per cluster: its most typical point', () => {
  const all = blobs();
  const blobOf = all.blobOf.slice(0, 120);
  const X = { ...all.X, data: all.X.data.subarray(0, 240), n: 120 };
  const t = new Taxonomy();
  t.add('a');
  t.add('b');
  const candidates = Array.from({ length: X.n }, (_, i) => i);
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled: [], embeddings: X, options: { typicalMaxClusters: 4, typicalMinClusterSize: 5 } };
  const batch = selectBatch('typical', ctx, 4);
  assert.deepEqual(batch.map((r) => blobOf[r]).sort(), [0, 1, 2, 3]);
  const rows = Array.from({ length: X.n }, (_, i) => i);
  const cl = kmeans(X, rows, 4, { seed: 1 });
  const typ = typicality(X, rows, cl.assignment, 4, DEFAULT_SELECTION.typicalNeighbours);
  for (const r of batch) {
    const same = rows.filter((q) => cl.assignment[q] === cl.assignment[r]);
    assert.equal(Math.max(...same.map((q) => typ[q])), typ[r]);
  }
  // Clusters that already hold a label come after those that hold none.
  const labelledInBlob0 = candidates.filter((r) => blobOf[r] === 0).slice(0, 1);
  const next = selectBatch('typical', { ...ctx, labelled: labelledInBlob0, candidates: candidates.filter((r) => r !== labelledInBlob0[0]), options: { typicalMaxClusters: 4 } }, 3);
  assert.deepEqual(next.map((r) => blobOf[r]).sort(), [1, 2, 3]);
});

test('farthest-first spreads a batch over the blobs instead of taking near-duplicates', () => {
  const { X, blobOf } = blobs();
  // Candidates ordered so that a plain top-4 would take four points of blob 0.
  const inBlob = (b: number) => Array.from({ length: 120 }, (_, i) => i).filter((i) => blobOf[i] === b);
  const candidates = [...inBlob(0), ...inBlob(1), ...inBlob(2), ...inBlob(3)];
  const batch = farthestFirst(X, candidates, 4);
  assert.deepEqual(batch.map((r) => blobOf[r]).sort(), [0, 1, 2, 3]);
  // With the labelled blob-0 point as an anchor, the first pick is elsewhere.
  const anchored = farthestFirst(X, candidates, 3, [inBlob(0)[0]]);
  assert.ok(anchored.every((r) => blobOf[r] !== 0));
});

test('each uncertainty strategy ranks the confused item above the certain one', () => {
  const t = new Taxonomy();
  const A = t.add('A');
  const a1 = t.add('a1', A);
  const a2 = t.add('a2', A);
  const b = t.add('b');
  const M = { data: new Float64Array(2 * t.size), n: 2, nodes: t.size };
  M.data[a1] = 0.98; // row 0: sure
  M.data[a2] = 0.01;
  M.data[b] = 0.01;
  M.data[t.size + a1] = 0.4; // row 1: torn
  M.data[t.size + a2] = 0.35;
  M.data[t.size + b] = 0.25;
  marginalsFromLeaves(t, M);
  // the multi-level strategies' batches are drawn (power sampling): here their plain top-K, from the first label on (no warm start)
  const ctx: SelectionContext = { taxonomy: t, candidates: [0, 1], labelled: [], marginals: M, options: { multilevelPower: 0, multilevelWarmStart: 0 } };
  for (const s of ['multilevel-entropy', 'multilevel-margin', 'entropy', 'margin', 'least-confidence'] as const) {
    const sc = scoreItems(s, ctx);
    assert.ok(sc[1] > sc[0], `${s}: ${sc[1]} > ${sc[0]}`);
    assert.deepEqual(selectBatch(s, ctx, 1), [1], s);
  }
});

test('random and every other strategy give the same batch for the same seed', () => {
  const { X } = blobs();
  const t = new Taxonomy();
  const a = t.add('a');
  const b = t.add('b');
  const M = { data: new Float64Array(X.n * t.size), n: X.n, nodes: t.size };
  const rand = seededRandom(9);
  for (let i = 0; i < X.n; i++) {
    const p = rand();
    M.data[i * t.size + a] = p;
    M.data[i * t.size + b] = 1 - p;
  }
  const candidates = Array.from({ length: X.n - 10 }, (_, i) => i + 10);
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled: Array.from({ length: 10 }, (_, i) => i), embeddings: X, marginals: M, options: { hybridSwitchLabelsPerLeaf: 1 } };
  for (const s of STRATEGY_NAMES) {
    const one = selectBatch(s, ctx, 8, seededRandom(4));
    const two = selectBatch(s, ctx, 8, seededRandom(4));
    assert.deepEqual(one, two, s);
    assert.equal(new Set(one).size, 8, `${s} picks distinct items`);
    assert.ok(one.every((r) => r >= 10), `${s} picks only candidates`);
  }
  assert.notDeepEqual(selectBatch('random', ctx, 8, seededRandom(4)), selectBatch('random', ctx, 8, seededRandom(5)));
});

test('hybrid set to typical is typical while labels per leaf are few, then uncertain and diverse', () => {
  const { X } = blobs();
  const t = new Taxonomy();
  const a = t.add('a');
  const b = t.add('b');
  const M = { data: new Float64Array(X.n * t.size), n: X.n, nodes: t.size };
  for (let i = 0; i < X.n; i++) {
    M.data[i * t.size + a] = i % 2 ? 0.5 : 0.99;
    M.data[i * t.size + b] = 1 - M.data[i * t.size + a];
  }
  const candidates = Array.from({ length: X.n - 4 }, (_, i) => i + 4);
  const few: SelectionContext = { taxonomy: t, candidates, labelled: [0, 1, 2, 3], embeddings: X, marginals: M, options: { hybridSwitchLabelsPerLeaf: 5, typicalMaxClusters: 8, hybridRepresentative: 'typical' } };
  assert.deepEqual(selectBatch('hybrid', few, 4), selectBatch('typical', few, 4));
  const many = { ...few, options: { hybridSwitchLabelsPerLeaf: 1, hybridCandidates: 3 } };
  const batch = selectBatch('hybrid', many, 4);
  assert.ok(batch.every((r) => r % 2 === 1), 'all from the uncertain half');
});

test('topIndices returns the k largest, largest first, ties in input order', () => {
  const s = Float64Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
  assert.deepEqual(topIndices(s, 3), [...s].map((v, i) => [v, i]).sort((x, y) => y[0] - x[0] || x[1] - y[1]).slice(0, 3).map((p) => p[1]));
  assert.deepEqual(topIndices([1, 3, 3, 2], 2), [1, 2]);
});

test('labelsToMatchRandom interpolates linearly between rounds, null when never reached', () => {
  const curve = [
    { labels: 200, leafTop1: 0.1, hF1: 0 },
    { labels: 400, leafTop1: 0.2, hF1: 0 },
    { labels: 600, leafTop1: 0.4, hF1: 0 },
  ];
  assert.equal(labelsToReach(curve, 0.3), 500);
  assert.equal(labelsToReach(curve, 0.05), 200);
  assert.equal(labelsToReach(curve, 0.5), null);
  assert.ok(Math.abs(accuracyAt(curve, 300) - 0.15) < 1e-12);
  const random = [
    { labels: 200, leafTop1: 0.1, hF1: 0 },
    { labels: 400, leafTop1: 0.15, hF1: 0 },
    { labels: 600, leafTop1: 0.3, hF1: 0 },
    { labels: 800, leafTop1: 0.45, hF1: 0 },
  ];
  assert.deepEqual(matchRandom(curve, random, 800), { '200': 200, '400': 300, '800': null });
});

/** Two leaves; blob 0's points are the most uncertain (p = 0.5), the other blobs' less so, each blob's first point the least. */
function uncertainBlobs() {
  const { X, blobOf } = blobs();
  const t = new Taxonomy();
  const a = t.add('a');
  const b = t.add('b');
  const M = { data: new Float64Array(X.n * t.size), n: X.n, nodes: t.size };
  const seen = new Set<number>();
  for (let i = 0; i < X.n; i++) {
    const first = !seen.has(blobOf[i]);
    seen.add(blobOf[i]);
    const p = blobOf[i] === 0 ? 0.5 : first ? 0.99 : 0.97 - (i % 7) * 0.005;
    M.data[i * t.size + a] = p;
    M.data[i * t.size + b] = 1 - p;
  }
  return { X, blobOf, t, M };
}

test('stratified multi-level picks take one image per cluster, the most uncertain in it, before any cluster gets a second', () => {
  const { X, blobOf, t, M } = uncertainBlobs();
  const candidates = Array.from({ length: 120 }, (_, i) => i);
  const base: SelectionContext = { taxonomy: t, candidates, labelled: [], embeddings: X, marginals: M, options: { typicalMaxClusters: 4, typicalMinClusterSize: 5, multilevelPower: 0, densityWeight: 0, multilevelWarmStart: 0 } };
  // the plain top-4 (no power sampling, no density) all come from blob 0
  assert.deepEqual(new Set(selectBatch('multilevel-entropy', base, 4).map((r) => blobOf[r])), new Set([0]));
  const u = scoreItems('multilevel-entropy', base);
  const mostUncertainOfBlob = (r: number) => u[r] === Math.max(...candidates.filter((q) => blobOf[q] === blobOf[r]).map((q) => u[q]));
  const byLabels = selectBatch('multilevel-entropy', { ...base, options: { ...base.options, multilevelStratify: 'labels' } }, 4);
  assert.deepEqual(byLabels.map((r) => blobOf[r]).sort(), [0, 1, 2, 3]);
  assert.ok(byLabels.every(mostUncertainOfBlob));
  // 'mass': a cluster's turn comes with its summed uncertainty per (1 + picks): blob 0 (30 × 1)
  // takes three picks before the next blob (30 × ~0.25) takes one
  const byMass = selectBatch('multilevel-entropy', { ...base, options: { ...base.options, multilevelStratify: 'mass' } }, 4);
  assert.deepEqual(byMass.map((r) => blobOf[r]).slice(0, 3), [0, 0, 0]);
  assert.notEqual(blobOf[byMass[3]], 0);
  assert.ok(mostUncertainOfBlob(byMass[3]));
});

test('hybrid set to clusters (Cluster-Margin) takes the most uncertain of each cluster among its candidates, the clusters with the fewest first', () => {
  const { X, blobOf, t, M } = uncertainBlobs();
  const candidates = Array.from({ length: 120 }, (_, i) => i);
  const base: SelectionContext = { taxonomy: t, candidates, labelled: [], embeddings: X, marginals: M, options: { hybridSwitchLabelsPerLeaf: 0, typicalMaxClusters: 4, typicalMinClusterSize: 5, hybridCandidates: 10 } };
  const u = scoreItems('hybrid', base);
  // the top 4 by the measure are all in blob 0
  assert.deepEqual(new Set(topIndices(u, 4).map((i) => blobOf[candidates[i]])), new Set([0]));
  const batch = selectBatch('hybrid', { ...base, options: { ...base.options, hybridDiversity: 'clusters' } }, 4);
  assert.deepEqual(batch.map((r) => blobOf[r]).sort(), [0, 1, 2, 3]);
  // blob 0 holds the most candidates among the top 40 (all 30 of its images): it gives last
  assert.equal(blobOf[batch[3]], 0);
  const top40 = new Set(topIndices(u, 40).map((i) => candidates[i]));
  for (const r of batch) {
    assert.ok(top40.has(r), `pick ${r} is among the top c·B`);
    assert.equal(u[r], Math.max(...candidates.filter((q) => blobOf[q] === blobOf[r] && top40.has(q)).map((q) => u[q])), `pick ${r} is its cluster's most uncertain`);
  }
  assert.throws(() => selectBatch('hybrid', { ...base, options: { hybridDiversity: 'nearest' as 'clusters' } }, 4), /unknown hybrid diversity "nearest" \(setting taxon\.queue\.hybridDiversity\)/);
  assert.throws(() => selectBatch('hybrid', { ...base, options: { coverBalance: -1 } }, 4), /cover balance -1 is not a number ≥ 0/);
});

test('power sampling draws uncertain images more often, the same draw for the same seed', () => {
  const { X, t, M } = uncertainBlobs();
  const candidates = Array.from({ length: 120 }, (_, i) => i);
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled: [], embeddings: X, marginals: M, options: { multilevelPower: 2, densityWeight: 0, multilevelWarmStart: 0 } };
  assert.deepEqual(selectBatch('multilevel-entropy', ctx, 10, seededRandom(2)), selectBatch('multilevel-entropy', ctx, 10, seededRandom(2)));
  const u = scoreItems('multilevel-entropy', ctx);
  let fromTop = 0;
  let drawn = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const batch = selectBatch('multilevel-entropy', ctx, 10, seededRandom(seed));
    assert.equal(new Set(batch).size, 10);
    drawn += batch.length;
    fromTop += batch.filter((r) => u[r] === 1).length; // blob 0: a quarter of the images
  }
  // odds ∝ u²: blob 0 (u = 1) against the rest (u ≈ 0.2–0.3, u² < 0.1): mostly blob 0, yet not only
  assert.ok(fromTop / drawn > 0.6 && fromTop / drawn < 0.98, `${fromTop} of ${drawn} from the most uncertain blob`);
});

test('a ranking memo gives the same scores and batches as computing them again', () => {
  const { X, t, M } = uncertainBlobs();
  const candidates = Array.from({ length: 116 }, (_, i) => i + 4);
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled: [0, 1, 2, 3], embeddings: X, marginals: M, options: { hybridSwitchLabelsPerLeaf: 1 } };
  const memo = new Map();
  for (const s of STRATEGY_NAMES) {
    assert.deepEqual(scoreItems(s, { ...ctx, memo }, seededRandom(3)), scoreItems(s, ctx, seededRandom(3)), s);
    assert.deepEqual(selectBatch(s, { ...ctx, memo }, 6, seededRandom(3)), selectBatch(s, ctx, 6, seededRandom(3)), s);
  }
});

/** The blobs under two leaves, leaf a's probability per blob (-1: the four far outliers). */
function twoLeafBlobs(pOf: (blob: number) => number) {
  const { X, blobOf } = blobs();
  const t = new Taxonomy();
  const a = t.add('a');
  const b = t.add('b');
  const M = { data: new Float64Array(X.n * t.size), n: X.n, nodes: t.size };
  for (let i = 0; i < X.n; i++) {
    M.data[i * t.size + a] = pOf(blobOf[i]);
    M.data[i * t.size + b] = 1 - pOf(blobOf[i]);
  }
  return { X, blobOf, t, M };
}

test('multi-level entropy by default passes over uncertain outliers that the textbook top-K takes', () => {
  // the four far outliers are the most uncertain
  const { X, blobOf, t, M } = twoLeafBlobs((blob) => (blob < 0 ? 0.5 : 0.75));
  const candidates = Array.from({ length: X.n }, (_, i) => i);
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled: [], embeddings: X, marginals: M, options: { typicalMaxClusters: 4, multilevelWarmStart: 0 } };
  const textbook = selectBatch('multilevel-entropy', { ...ctx, options: { ...ctx.options, multilevelPower: 0, densityWeight: 0 } }, 4);
  assert.deepEqual(textbook.map((r) => blobOf[r]), [-1, -1, -1, -1]);
  let outliers = 0;
  for (let seed = 1; seed <= 20; seed++) outliers += selectBatch('multilevel-entropy', ctx, 4, seededRandom(seed)).filter((r) => blobOf[r] < 0).length;
  assert.ok(outliers <= 2, `${outliers} outliers in 20 default batches of 4`);
});

test('hybrid after the switch weighs uncertainty by typicality: uncertain outliers come after uncertain typical images', () => {
  // the four far outliers are the most uncertain; blob 0 is nearly as uncertain. With no labels the
  // posterior is its prior: a precise one (1,000), so that BALD is not saturated in every image
  // (the blobs' logits would have a standard deviation of 4.5 with the default 10)
  const { X, blobOf, t, M } = twoLeafBlobs((blob) => (blob < 0 ? 0.5 : blob === 0 ? 0.55 : 0.9));
  const candidates = Array.from({ length: X.n }, (_, i) => i);
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled: [], embeddings: X, marginals: M, options: { hybridSwitchLabelsPerLeaf: 0, typicalMaxClusters: 5, typicalMinClusterSize: 1, hybridCandidates: 1, baldPriorPrecision: 1000 } };
  // without the density factor the top of the queue and the batch are the outliers
  const plain = { ...ctx, options: { ...ctx.options, hybridDensity: 0 } };
  assert.deepEqual(selectBatch('hybrid', plain, 4).map((r) => blobOf[r]), [-1, -1, -1, -1]);
  assert.deepEqual(topIndices(scoreItems('hybrid', plain), 4).map((i) => blobOf[i]), [-1, -1, -1, -1]);
  // by default (density 1) blob 0's images come first
  assert.equal(DEFAULT_SELECTION.hybridDensity, 1);
  assert.deepEqual(selectBatch('hybrid', ctx, 4).map((r) => blobOf[r]), [0, 0, 0, 0]);
  assert.deepEqual(topIndices(scoreItems('hybrid', ctx), 4).map((i) => blobOf[i]), [0, 0, 0, 0]);
  assert.throws(() => selectBatch('hybrid', { ...ctx, options: { hybridDensity: -1 } }, 4), /hybrid density -1 is not a number ≥ 0 \(setting taxon\.queue\.hybridDensity\)/);
  assert.throws(() => selectBatch('hybrid', { ...ctx, options: { baldClasses: 1 } }, 4), /BALD's classes 1 is not a whole number ≥ 2/);
  assert.throws(() => selectBatch('hybrid', { ...ctx, options: { baldClasses: 2.5 } }, 4), /BALD's classes 2\.5 is not a whole number ≥ 2/);
  assert.throws(() => selectBatch('hybrid', { ...ctx, options: { hybridMeasure: 'magic' as 'margin' } }, 4), /unknown hybrid measure "magic" \(setting taxon\.queue\.hybridMeasure\); it is bald or one of multilevel-entropy, /);
});

test('on a pool of a few dozen images, typical scores are not all zero (no singleton clusters)', () => {
  const { X } = blobs();
  const small = { ...X, data: X.data.subarray(0, 24 * 2), n: 24 };
  const t = new Taxonomy();
  t.add('a');
  t.add('b');
  const ctx: SelectionContext = { taxonomy: t, candidates: Array.from({ length: 22 }, (_, i) => i + 2), labelled: [0, 1], embeddings: small };
  const scores = scoreItems('typical', ctx);
  assert.ok(scores.some((v) => v > 0), `scores ${Array.from(scores).join(' ')}`);
  assert.ok(scores.every((v) => v >= 0 && v <= 1));
});

test('hybrid set to cover takes the centre of each blob no label covers yet, then typical picks; its queue scores favour uncovered blobs', () => {
  const { X, blobOf } = blobs();
  const t = new Taxonomy();
  for (const name of ['a', 'b', 'c', 'd']) t.add(name);
  const M = { data: new Float64Array(X.n * t.size).fill(0.25), n: X.n, nodes: t.size };
  // two labels in blob 0 (rows 0 and 4): it is covered
  const labelled = [0, 4];
  const candidates = Array.from({ length: X.n }, (_, i) => i).filter((r) => !labelled.includes(r));
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled, embeddings: X, marginals: M, options: { hybridRepresentative: 'cover', coverPurity: 1, hybridSwitchLabelsPerLeaf: 5, typicalMaxClusters: 8 } };
  const three = selectBatch('hybrid', ctx, 3);
  assert.deepEqual(new Set(three.map((r) => blobOf[r])), new Set([1, 2, 3]), 'one per uncovered blob');
  // once the blobs are covered, the rest of the batch is typical's (no outlier among the first picks)
  const eight = selectBatch('hybrid', ctx, 8);
  assert.equal(new Set(eight).size, 8);
  assert.deepEqual(eight.slice(0, 3), three);
  assert.ok(eight.every((r) => blobOf[r] !== -1), 'no outlier');
  const scores = scoreItems('hybrid', ctx);
  const mean = (blob: number) => {
    const s = candidates.map((r, i) => (blobOf[r] === blob ? scores[i] : NaN)).filter((v) => v === v);
    return s.reduce((a, b) => a + b, 0) / s.length;
  };
  assert.ok(mean(1) > 5 * mean(0), `uncovered blob ${mean(1)} vs covered ${mean(0)}`);
  // the same with the typical representative phase is typical's batch
  assert.deepEqual(selectBatch('hybrid', { ...ctx, options: { ...ctx.options, hybridRepresentative: 'typical' } }, 3), selectBatch('typical', { ...ctx, options: { ...ctx.options } }, 3));
});

test("hybrid after the switch takes the uncertain images next to a label before those no labelled image's ball holds", () => {
  // blob 1 is the most uncertain, but only blob 0 holds labels (rows 0 and 4): its δ-balls cover it
  const { X, blobOf, t, M } = twoLeafBlobs((blob) => (blob === 0 ? 0.6 : blob === 1 ? 0.52 : 0.95));
  const labelled = [0, 4];
  const candidates = Array.from({ length: X.n }, (_, i) => i).filter((r) => !labelled.includes(r));
  const options: SelectionOptions = { hybridSwitchLabelsPerLeaf: 0, hybridMeasure: 'margin', hybridDensity: 0, hybridCandidates: 1, coverPurity: 1, typicalMaxClusters: 8 };
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled, embeddings: X, marginals: M, options };
  assert.equal(DEFAULT_SELECTION.hybridUncoveredWeight, 0.1);
  assert.deepEqual(selectBatch('hybrid', ctx, 4).map((r) => blobOf[r]), [0, 0, 0, 0]);
  assert.deepEqual(topIndices(scoreItems('hybrid', ctx), 4).map((i) => blobOf[candidates[i]]), [0, 0, 0, 0]);
  // off (1), the most uncertain come first wherever they are
  const off = { ...ctx, options: { ...options, hybridUncoveredWeight: 1 } };
  assert.deepEqual(selectBatch('hybrid', off, 4).map((r) => blobOf[r]), [1, 1, 1, 1]);
  assert.deepEqual(topIndices(scoreItems('hybrid', off), 4).map((i) => blobOf[candidates[i]]), [1, 1, 1, 1]);
  // without a cover graph (the typical representative phase) nothing is weighed
  assert.deepEqual(selectBatch('hybrid', { ...ctx, options: { ...options, hybridRepresentative: 'typical' } }, 4).map((r) => blobOf[r]), [1, 1, 1, 1]);
  assert.throws(() => selectBatch('hybrid', { ...ctx, options: { ...options, hybridUncoveredWeight: 2 } }, 4), /hybrid uncovered weight 2 is not a number from 0 to 1 \(setting taxon\.queue\.hybridUncoveredWeight\)/);
});

test('hybrid set to cover scores its cover picks above the rest, and is typical where no ball covers more than itself', () => {
  const { X, blobOf } = blobs();
  const t = new Taxonomy();
  for (const name of ['a', 'b', 'c', 'd']) t.add(name);
  const labelled = [0, 4];
  const candidates = Array.from({ length: X.n }, (_, i) => i).filter((r) => !labelled.includes(r));
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled, embeddings: X, options: { hybridRepresentative: 'cover', coverPurity: 1, typicalMaxClusters: 8 } };
  const scores = scoreItems('hybrid', ctx);
  const top = candidates[scores.indexOf(Math.max(...scores))];
  assert.ok([1, 2, 3].includes(blobOf[top]), 'the best score is in an uncovered blob');
  assert.ok(scores.every((v) => v >= 0 && v <= 1));
  for (const r of selectBatch('hybrid', ctx, 3)) assert.ok(scores[candidates.indexOf(r)] > 0.5, 'cover picks score above 0.5');
  // points ever further apart, each its own leaf: every ball holds its centre only
  const line = Float32Array.from([0, 1, 3, 7, 15, 31, 63, 127], (v) => v);
  const u = new Taxonomy();
  for (let i = 0; i < 8; i++) u.add(`leaf${i}`);
  const sparse: SelectionContext = { taxonomy: u, candidates: [2, 3, 4, 5, 6, 7], labelled: [0, 1], embeddings: { data: line, n: 8, dim: 1 }, options: { hybridRepresentative: 'cover', coverPurity: 1, typicalMinClusterSize: 2 } };
  assert.deepEqual(scoreItems('hybrid', sparse), scoreItems('typical', sparse));
  assert.deepEqual(selectBatch('hybrid', sparse, 3), selectBatch('typical', sparse, 3));
});

test('the cluster cache tells apart two pools of the same size (a skipped row swapped for a labelled one)', () => {
  const { X } = blobs();
  const cache = new ClusterCache();
  const a = Int32Array.from({ length: 100 }, (_, i) => i);
  const b = Int32Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(cache.cover(X, a, 4, 1, 0.5), cache.cover(X, a, 4, 1, 0.5), 'the same pool: cached');
  assert.notEqual(cache.cover(X, a, 4, 1, 0.5), cache.cover(X, b, 4, 1, 0.5));
  assert.notEqual(cache.get(X, a, 4, 1, 10), cache.get(X, b, 4, 1, 10));
});

test('multi-level strategies start with the hybrid\'s representative picks until the warm start, then rank by their measure', () => {
  // the four far outliers are the most uncertain at every level
  const { X, blobOf, t, M } = twoLeafBlobs((blob) => (blob < 0 ? 0.5 : 0.75));
  const candidates = Array.from({ length: X.n }, (_, i) => i);
  // two labels per leaf (4 of the 2 leaves' rows), below the default warm start (the hybrid's switch, 8)
  const labelled = [0, 1, 2, 3];
  const rest = candidates.filter((r) => !labelled.includes(r));
  const ctx: SelectionContext = { taxonomy: t, candidates: rest, labelled, embeddings: X, marginals: M, options: { typicalMaxClusters: 4, multilevelPower: 0, densityWeight: 0 } };
  assert.equal(DEFAULT_SELECTION.multilevelWarmStart, 8);
  assert.equal(DEFAULT_SELECTION.multilevelWarmStart, DEFAULT_SELECTION.hybridSwitchLabelsPerLeaf);
  for (const s of ['multilevel-entropy', 'multilevel-margin'] as const) {
    // while warming: the hybrid's representative batch and queue order, no outlier
    const batch = selectBatch(s, ctx, 4);
    assert.deepEqual(batch, selectBatch('hybrid', ctx, 4), s);
    assert.ok(batch.every((r) => blobOf[r] >= 0), `${s}: ${batch.map((r) => blobOf[r])}`);
    assert.deepEqual(Array.from(scoreItems(s, ctx)), Array.from(scoreItems('hybrid', ctx)), s);
    // from the warm start on: the measure (here its plain top-K, which takes the uncertain outliers)
    const warm = { ...ctx, options: { ...ctx.options, multilevelWarmStart: 2 } };
    assert.deepEqual(selectBatch(s, warm, 4).map((r) => blobOf[r]), [-1, -1, -1, -1], s);
  }
  assert.throws(() => selectBatch('multilevel-entropy', { ...ctx, options: { multilevelWarmStart: -1 } }, 4), /multi-level warm start -1 is not a number ≥ 0 \(setting taxon\.queue\.multilevelWarmStartLabelsPerLeaf\)/);
});

test('hybrid after the switch (BALD by default) passes over images whose doubt many labels around them already share, for doubt that no label has met', () => {
  // (BALD alone: the weight on images no label's ball holds is off here)
  // blob 0: even odds between the leaves, and 20 of its 30 images labelled; blob 1: 60 / 40, no
  // labels; blobs 2 and 3: sure
  const { X, blobOf, t, M } = twoLeafBlobs((blob) => (blob === 0 ? 0.5 : blob === 1 ? 0.6 : 0.95));
  const inBlob0 = blobOf.map((b, i) => (b === 0 ? i : -1)).filter((i) => i >= 0);
  const labelled = inBlob0.slice(0, 20);
  const candidates = blobOf.map((_, i) => i).filter((i) => !labelled.includes(i));
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled, embeddings: X, marginals: M, options: { hybridSwitchLabelsPerLeaf: 0, typicalMaxClusters: 5, typicalMinClusterSize: 1, hybridCandidates: 1, hybridUncoveredWeight: 1 } };
  assert.equal(DEFAULT_SELECTION.hybridMeasure, 'bald');
  assert.deepEqual(selectBatch('hybrid', ctx, 4).map((r) => blobOf[r]), [1, 1, 1, 1]);
  assert.deepEqual(topIndices(scoreItems('hybrid', ctx), 4).map((i) => blobOf[candidates[i]]), [1, 1, 1, 1]);
  // the leaf margin takes blob 0's remaining images: the most even odds
  const margin = { ...ctx, options: { ...ctx.options, hybridMeasure: 'margin' as const } };
  assert.deepEqual(selectBatch('hybrid', margin, 4).map((r) => blobOf[r]), [0, 0, 0, 0]);
  // labels in blob 1 too: its doubt is then the data's, and its score falls
  const before = scoreItems('hybrid', ctx);
  const inBlob1 = blobOf.map((b, i) => (b === 1 ? i : -1)).filter((i) => i >= 0);
  const more = { ...ctx, labelled: [...labelled, ...inBlob1.slice(0, 20)], candidates: candidates.filter((r) => !inBlob1.slice(0, 20).includes(r)) };
  const after = scoreItems('hybrid', more);
  const last = inBlob1[29];
  assert.ok(after[more.candidates.indexOf(last)] < before[candidates.indexOf(last)] / 2, `${after[more.candidates.indexOf(last)]} against ${before[candidates.indexOf(last)]}`);
});

test('hybrid\'s BALD is built on the posterior features when the context has them, its clusters on the geometry', () => {
  const { X, blobOf, t, M } = twoLeafBlobs((blob) => (blob === 0 ? 0.5 : blob === 1 ? 0.6 : 0.95));
  const inBlob0 = blobOf.map((b, i) => (b === 0 ? i : -1)).filter((i) => i >= 0);
  const labelled = inBlob0.slice(0, 20);
  const candidates = blobOf.map((_, i) => i).filter((i) => !labelled.includes(i));
  const options = { hybridSwitchLabelsPerLeaf: 0, typicalMaxClusters: 5, typicalMinClusterSize: 1, hybridCandidates: 1 };
  const ctx: SelectionContext = { taxonomy: t, candidates, labelled, embeddings: X, marginals: M, options };
  // the same features given as the posterior's: the same scores
  const same = scoreItems('hybrid', { ...ctx, posteriorFeatures: X, clusters: new ClusterCache() });
  assert.deepEqual(Array.from(same), Array.from(scoreItems('hybrid', { ...ctx, clusters: new ClusterCache() })));
  // posterior features in which blob 1 lies where blob 0's labels are: its doubt has met those labels
  const P = { data: Float32Array.from(X.data), n: X.n, dim: X.dim };
  blobOf.forEach((b, i) => {
    if (b === 1) P.data[i * 2] = -P.data[i * 2];
  });
  const moved = scoreItems('hybrid', { ...ctx, posteriorFeatures: P, clusters: new ClusterCache() });
  const last = candidates.indexOf(blobOf.lastIndexOf(1));
  assert.ok(moved[last] < same[last] / 2, `${moved[last]} against ${same[last]}`);
  // the picks still spread over the geometry's clusters: blob 1 is no longer first
  assert.notDeepEqual(selectBatch('hybrid', { ...ctx, posteriorFeatures: P, clusters: new ClusterCache() }, 4).map((r) => blobOf[r]), [1, 1, 1, 1]);
});
