import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dataFingerprint, folderStore, memoryStore, pack, STORE_KEEP_FILES, unpack } from '../../src/core/learn/clusterStore';
import { seededRandom } from '../../src/core/learn/clustering';
import { ClusterCache } from '../../src/core/learn/selection';
import type { Features } from '../../src/core/learn/softmax';

function points(n = 300, dim = 8, seed = 5): Features {
  const rand = seededRandom(seed);
  return { data: Float32Array.from({ length: n * dim }, (_, i) => (Math.floor(i / dim) % 6) * 3 + rand()), n, dim };
}

test('pack and unpack: the same numbers and arrays back, and nothing for another key, a cut file or garbage', () => {
  const arrays = [Int32Array.from([1, -2, 3]), Float32Array.from([0.5, 1.25]), Float64Array.from([Math.PI])];
  const bytes = pack('k1', [7, 0.25], arrays);
  const back = unpack(bytes, 'k1');
  assert.ok(back);
  assert.deepEqual(back.numbers, [7, 0.25]);
  assert.deepEqual(back.arrays, arrays);
  assert.equal(unpack(bytes, 'k2'), undefined);
  assert.equal(unpack(bytes.subarray(0, bytes.length - 8), 'k1'), undefined);
  assert.equal(unpack(Uint8Array.from([1, 2, 3, 10, 5]), 'k1'), undefined);
  assert.equal(unpack(new Uint8Array(0), 'k1'), undefined);
});

test('a second cache on the same store reads the cover graph and the clustering instead of computing them; the same values', () => {
  const X = points();
  const rows = Int32Array.from({ length: X.n }, (_, i) => i);
  const store = memoryStore();
  const first = new ClusterCache(store);
  const graph = first.cover(X, rows, 6, 1, 0.5);
  const clusters = first.get(X, rows, 6, 1, 10);
  assert.equal(store.files.size, 2);
  let writes = 0;
  const counting = { read: store.read, write: (k: string, b: Uint8Array) => (writes++, store.write(k, b)) };
  const second = new ClusterCache(counting);
  assert.deepEqual(second.cover(X, rows, 6, 1, 0.5), graph);
  assert.deepEqual(second.get(X, rows, 6, 1, 10), clusters);
  assert.equal(writes, 0, 'read, not computed');
  // the same as computing without a store
  assert.deepEqual(new ClusterCache().cover(X, rows, 6, 1, 0.5), graph);
  assert.deepEqual(new ClusterCache().get(X, rows, 6, 1, 10), clusters);
});

test('a cached clustering is not used for other embeddings, other rows or other parameters, nor when its file is damaged', () => {
  const X = points();
  const rows = Int32Array.from({ length: X.n }, (_, i) => i);
  const store = memoryStore();
  new ClusterCache(store).cover(X, rows, 6, 1, 0.5);
  // one value changed: another fingerprint, another key
  const Y = { ...X, data: Float32Array.from(X.data) };
  Y.data[17] += 1;
  assert.notEqual(dataFingerprint(X), dataFingerprint(Y));
  new ClusterCache(store).cover(Y, rows, 6, 1, 0.5);
  new ClusterCache(store).cover(X, rows.subarray(0, 200), 6, 1, 0.5);
  new ClusterCache(store).cover(X, rows, 6, 1, 0.7);
  assert.equal(store.files.size, 4);
  // a file of the right key whose neighbours point outside the pool
  const [key] = [...store.files.keys()].filter((k) => k.startsWith('cover:') && k.includes(dataFingerprint(X)) && k.includes(':0.7:'));
  const unpacked = unpack(store.files.get(key)!, key)!;
  (unpacked.arrays[1] as Int32Array)[0] = 10_000;
  store.files.set(key, pack(key, unpacked.numbers, unpacked.arrays));
  assert.deepEqual(new ClusterCache(store).cover(X, rows, 6, 1, 0.7), new ClusterCache().cover(X, rows, 6, 1, 0.7));
  // damaged files: computed again (the same graph) and written anew
  for (const [key, bytes] of store.files) {
    const cut = bytes.slice(0, bytes.length - 16);
    store.files.set(key, cut);
  }
  const again = new ClusterCache(store).cover(X, rows, 6, 1, 0.5);
  assert.deepEqual(again, new ClusterCache().cover(X, rows, 6, 1, 0.5));
});

test('the folder store writes files atomically, keeps the newest few, and a folder it cannot write to is reported, not thrown', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taxon-store-'));
  try {
    const store = folderStore(path.join(dir, 'selection'));
    store.write('a', Uint8Array.from([1, 2, 3]));
    assert.deepEqual(Array.from(store.read('a')!), [1, 2, 3]);
    assert.equal(store.read('b'), undefined);
    for (let i = 0; i < STORE_KEEP_FILES + 3; i++) store.write(`k${i}`, Uint8Array.from([i]));
    assert.equal(fs.readdirSync(path.join(dir, 'selection')).length, STORE_KEEP_FILES);
    assert.deepEqual(Array.from(store.read(`k${STORE_KEEP_FILES + 2}`)!), [STORE_KEEP_FILES + 2]);
    // a file where the folder should be
    fs.writeFileSync(path.join(dir, 'blocked'), 'x');
    const messages: string[] = [];
    const blocked = folderStore(path.join(dir, 'blocked', 'selection'), (m) => messages.push(m));
    blocked.write('a', Uint8Array.from([1]));
    assert.equal(messages.length, 1);
    assert.match(messages[0], /could not keep the queue's clustering in .*blocked/);
    assert.equal(blocked.read('a'), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
