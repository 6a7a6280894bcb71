import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDataset } from '../../src/core/formats';
import { rankDataset } from '../../src/core/learn/queue';
import { LabelingSession } from '../../src/core/learn/session';
import type { StrategyName } from '../../src/core/learn/selection';
import type { Features } from '../../src/core/learn/softmax';
import { embedImages } from '../../src/core/model/embed';
import { tempDir } from './helpers';

const TINY = path.resolve(__dirname, '../fixtures/models/mobilenet_v1_0.25_128.onnx');
const SHOP = path.resolve(__dirname, '../fixtures/workspace/shop');

/** A copy of the shop fixture (24 real photos, 8 labelled) embedded with the tiny model. */
async function shop() {
  const dir = tempDir();
  fs.cpSync(SHOP, dir, { recursive: true });
  const target = path.join(dir, 'labels.csv');
  const paths = { modelPath: TINY, cacheDir: path.join(dir, '.taxon') };
  const ds = loadDataset(target);
  await embedImages({ root: ds.root, images: ds.items.map((i) => i.image), ...paths });
  return { target, paths };
}

test('the labelling queue follows the configured strategy, in the order `taxon rank` gives', async () => {
  const { target, paths } = await shop();
  const orders = new Map<StrategyName, string[]>();
  for (const strategy of ['margin', 'multilevel-entropy', 'hybrid', 'random'] as const) {
    // rank first: it trains and saves the classifiers, which the session then loads
    const ranked = await rankDataset(target, paths, { strategy, batch: 50 });
    const { session } = await LabelingSession.open(target, { ...paths, strategy });
    const queue = session.queue().map((e) => e.image);
    assert.equal(session.strategy, strategy);
    assert.equal(queue.length, 16);
    assert.deepEqual(queue, ranked.items.map((i) => i.image), strategy);
    orders.set(strategy, queue);
  }
  assert.notDeepEqual(orders.get('random'), orders.get('margin'), 'random is not the margin order');
  // rank kept the pool's clusterings in the cache folder for the sessions on the same pool (the orders agreed above)
  assert.ok(fs.readdirSync(path.join(paths.cacheDir, 'selection')).some((f) => f.endsWith('.bin')), 'the clusterings are kept in the cache folder');
  const { session } = await LabelingSession.open(target, paths);
  assert.equal(session.strategy, 'hybrid', 'hybrid is the default');
  await assert.rejects(LabelingSession.open(target, { ...paths, strategy: 'loudest' as StrategyName }), /unknown queue strategy "loudest" \(setting taxon\.queue\.strategy\)/);
  await assert.rejects(
    LabelingSession.open(target, { ...paths, strategy: 'hybrid', selection: { hybridSwitchLabelsPerLeaf: 0, hybridMeasure: 'loudness' as 'margin' } }),
    /unknown hybrid measure "loudness" \(setting taxon\.queue\.hybridMeasure\); it is bald or one of/,
  );
});

test('a label leaves the queue at once, and a retrain re-ranks what is left by the strategy', async () => {
  const { target, paths } = await shop();
  const { session } = await LabelingSession.open(target, { ...paths, strategy: 'margin' });
  const before = session.queue();
  const first = before[0];
  const leaf = session.details(first.image)!.alternatives[0].node;
  session.label(first.image, leaf);
  assert.deepEqual(
    session.queue().map((e) => e.image),
    before.slice(1).map((e) => e.image),
    'until the retrain, the order stays',
  );
  const outcome = session.retrainAffected();
  assert.ok(outcome.retrained.length > 0);
  const after = session.queue();
  assert.equal(after.length, before.length - 1);
  assert.ok(!after.some((e) => e.image === first.image));
  // the heads refreshed one by one give what the whole model predicts now
  const X = (session as unknown as { X: Features }).X;
  const images = (session as unknown as { data: { images: string[] } }).data.images;
  const fresh = session.model.predict(X, 'bottomup');
  // before anything is looked at, the queue's own marginals are within the refresh's tolerance
  // (a head is skipped for a row that reaches it with < 1 %; a row is decoded again after 3e-3 of drift)
  const inside = session as unknown as { marginals: { data: Float64Array; nodes: number } };
  const N = inside.marginals.nodes;
  let worst = 0;
  images.forEach((image, row) => {
    if (image === first.image) return;
    for (let v = 0; v < N; v++) worst = Math.max(worst, Math.abs(inside.marginals.data[row * N + v] - fresh[row].marginals[v]));
  });
  assert.ok(worst < 0.02, `queue marginals ${worst} from the model's`);
  images.forEach((image, row) => {
    const kept = session.details(image)!;
    assert.deepEqual(kept.predicted.map((l) => l.node), fresh[row].path, image);
    kept.predicted.forEach((l) => assert.ok(Math.abs(l.p - fresh[row].marginals[l.node]) < 1e-3, image));
  });
  // margin's order: scores descending
  for (let i = 1; i < after.length; i++) assert.ok(after[i - 1].score >= after[i].score, `queue position ${i} is in score order`);
});

test('a changed strategy re-ranks the open queue; a bad one leaves it as it was', async () => {
  const { target, paths } = await shop();
  const { session } = await LabelingSession.open(target, { ...paths, strategy: 'margin' });
  const margin = session.queue().map((e) => e.image);
  const { session: fresh } = await LabelingSession.open(target, { ...paths, strategy: 'least-confidence' });
  session.setStrategy('least-confidence');
  assert.equal(session.strategy, 'least-confidence');
  assert.deepEqual(session.queue().map((e) => e.image), fresh.queue().map((e) => e.image));
  session.setStrategy('margin');
  assert.deepEqual(session.queue().map((e) => e.image), margin);
  assert.throws(() => session.setStrategy('loudest' as StrategyName), /unknown queue strategy "loudest"/);
  assert.throws(() => session.setStrategy('hybrid', { hybridSwitchLabelsPerLeaf: 0, hybridMeasure: 'loudness' as 'margin' }), /unknown hybrid measure "loudness"/);
  assert.throws(() => session.setStrategy('hybrid', { hybridRepresentative: 'central' as 'cover' }), /unknown representative phase "central" \(setting taxon.queue.hybridRepresentative\)/);
  assert.throws(() => session.setStrategy('hybrid', { hybridSwitchLabelsPerLeaf: 0, hybridDiversity: 'nearest' as 'clusters' }), /unknown hybrid diversity "nearest" \(setting taxon.queue.hybridDiversity\)/);
  assert.equal(session.strategy, 'margin');
  assert.deepEqual(session.queue().map((e) => e.image), margin);
});
