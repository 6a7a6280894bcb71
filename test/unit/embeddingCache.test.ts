import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EmbeddingCache } from '../../src/core/model/embeddingCache';
import { fromFloat16Bits, toFloat16Bits } from '../../src/core/model/float16';
import { tempDir } from './helpers';

const MODEL = { sha256: 'ab'.repeat(32), dim: 8 };

const hashOf = (s: string) => createHash('sha256').update(s).digest('hex');
const vector = (seed: number) => Float32Array.from({ length: MODEL.dim }, (_, i) => Math.sin(seed * 7 + i) * 3);
const asFloat16 = (v: Float32Array) => Float32Array.from(v, (x) => fromFloat16Bits(toFloat16Bits(x)));
const segments = (cache: EmbeddingCache) => fs.readdirSync(cache.segmentDir).filter((n) => n.endsWith('.seg'));

test('cache: what is added is read back as float16-rounded float32, also after reopening', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, MODEL);
  cache.add([1, 2, 3].map((i) => ({ hash: hashOf(`img${i}`), embedding: vector(i) })));
  assert.deepEqual(cache.get(hashOf('img2')), asFloat16(vector(2)));
  assert.equal(cache.get(hashOf('missing')), undefined);
  cache.close();
  const again = await EmbeddingCache.open(dir, MODEL);
  assert.equal(again.size, 3);
  for (const i of [1, 2, 3]) assert.deepEqual(again.get(hashOf(`img${i}`)), asFloat16(vector(i)));
  again.close();
  assert.equal(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'), '*\n');
});

test('cache: a record costs the 32-byte image hash, the float16 vector and a 4-byte checksum', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, { sha256: MODEL.sha256, dim: 1280 });
  cache.add(Array.from({ length: 10 }, (_, i) => ({ hash: hashOf(`x${i}`), embedding: new Float32Array(1280).fill(i) })));
  cache.close();
  assert.equal(cache.segmentBytes(), 48 + 10 * (32 + 2560 + 4));
});

test('cache: a record cut short by a kill is ignored and every earlier record stays readable', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, MODEL);
  cache.add([1, 2, 3, 4].map((i) => ({ hash: hashOf(`img${i}`), embedding: vector(i) })));
  cache.close();
  const file = path.join(cache.segmentDir, segments(cache)[0]);
  fs.truncateSync(file, fs.statSync(file).size - 5);
  const reopened = await EmbeddingCache.open(dir, MODEL);
  assert.equal(reopened.size, 3);
  assert.equal(reopened.has(hashOf('img4')), false);
  assert.deepEqual(reopened.get(hashOf('img3')), asFloat16(vector(3)));
  // The next run appends to its own segment; the torn one is left as it is and still read.
  reopened.add([{ hash: hashOf('img4'), embedding: vector(4) }]);
  reopened.close();
  const third = await EmbeddingCache.open(dir, MODEL);
  assert.equal(third.size, 4);
  third.close();
});

test('cache: a damaged record (bad checksum) is ignored, its neighbours are not', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, MODEL);
  cache.add([1, 2, 3].map((i) => ({ hash: hashOf(`img${i}`), embedding: vector(i) })));
  cache.close();
  const file = path.join(cache.segmentDir, segments(cache)[0]);
  const bytes = fs.readFileSync(file);
  const record = 32 + 2 * MODEL.dim + 4;
  bytes[48 + record + 40] ^= 0xff; // inside the second record's vector
  fs.writeFileSync(file, bytes);
  const reopened = await EmbeddingCache.open(dir, MODEL);
  assert.deepEqual([1, 2, 3].map((i) => reopened.has(hashOf(`img${i}`))), [true, false, true]);
  reopened.close();
});

test('cache: a segment holding only a partial header (killed right after creating it) is skipped', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, MODEL);
  cache.add([{ hash: hashOf('a'), embedding: vector(1) }]);
  cache.close();
  fs.writeFileSync(path.join(cache.segmentDir, 'torn.seg'), Buffer.from('TAXON'));
  const reopened = await EmbeddingCache.open(dir, MODEL);
  assert.equal(reopened.size, 1);
  reopened.close();
});

test('cache: two writers at once each append to their own segment and a reader sees both', async () => {
  const dir = tempDir();
  const a = await EmbeddingCache.open(dir, MODEL);
  const b = await EmbeddingCache.open(dir, MODEL);
  for (let i = 0; i < 20; i++) {
    (i % 2 ? a : b).add([{ hash: hashOf(`img${i}`), embedding: vector(i) }]);
  }
  a.add([{ hash: hashOf('img1'), embedding: vector(1) }]); // already there: not written twice
  assert.equal(segments(a).length, 2);
  a.close();
  b.close();
  const reader = await EmbeddingCache.open(dir, MODEL);
  assert.equal(reader.size, 20);
  for (let i = 0; i < 20; i++) assert.deepEqual(reader.get(hashOf(`img${i}`)), asFloat16(vector(i)));
  reader.close();
});

test('cache: another model (different hash or length) never sees these embeddings', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, MODEL);
  cache.add([{ hash: hashOf('a'), embedding: vector(1) }]);
  cache.close();
  const other = await EmbeddingCache.open(dir, { sha256: 'cd'.repeat(32), dim: 8 });
  assert.equal(other.size, 0);
  other.close();
  const withoutDim = await EmbeddingCache.open(dir, { sha256: MODEL.sha256 });
  assert.equal(withoutDim.dim, 8, 'the length is read from the segment header');
  assert.equal(withoutDim.size, 1);
  withoutDim.close();
});

test('cache: file hashes are remembered unless the file changed, and racily fresh files are not trusted', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, MODEL);
  const now = Date.now();
  const old = { size: 10, mtimeMs: now - 60_000, ino: 7 };
  const fresh = { size: 10, mtimeMs: now - 100, ino: 8 };
  cache.rememberFiles([
    { file: '/data/a.jpg', stat: old, hash: hashOf('a') },
    { file: '/data/b.jpg', stat: fresh, hash: hashOf('b') },
  ], now);
  cache.close();
  const reopened = await EmbeddingCache.open(dir, MODEL);
  assert.equal(reopened.knownHash('/data/a.jpg', old), hashOf('a'));
  assert.equal(reopened.knownHash('/data/a.jpg', { ...old, size: 11 }), undefined);
  assert.equal(reopened.knownHash('/data/a.jpg', { ...old, mtimeMs: old.mtimeMs + 1 }), undefined);
  assert.equal(reopened.knownHash('/data/b.jpg', fresh), undefined);
  reopened.close();
  // A line cut by a kill is ignored.
  const list = path.join(dir, 'files', fs.readdirSync(path.join(dir, 'files'))[0]);
  fs.appendFileSync(list, `${hashOf('c')} 10 ${old.mtimeMs} 9 "/data/c.j`);
  const third = await EmbeddingCache.open(dir, MODEL);
  assert.equal(third.knownHash('/data/c.jpg', { ...old, ino: 9 }), undefined);
  assert.equal(third.knownHash('/data/a.jpg', old), hashOf('a'));
  third.close();
});

test('cache: many old segments are merged into one without losing a record', async () => {
  const dir = tempDir();
  for (let s = 0; s < 34; s++) {
    const c = await EmbeddingCache.open(dir, MODEL);
    c.add([{ hash: hashOf(`img${s}`), embedding: vector(s) }]);
    c.close();
  }
  const probe = await EmbeddingCache.open(dir, MODEL);
  const long = (Date.now() - 3600_000) / 1000;
  for (const name of segments(probe)) fs.utimesSync(path.join(probe.segmentDir, name), long, long);
  probe.close();
  const merged = await EmbeddingCache.open(dir, MODEL);
  assert.equal(segments(merged).length, 1);
  assert.equal(merged.size, 34);
  for (let s = 0; s < 34; s++) assert.deepEqual(merged.get(hashOf(`img${s}`)), asFloat16(vector(s)));
  merged.close();
});

test('cache: a cache folder that cannot be created is one error naming it', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'file'), 'x');
  await assert.rejects(EmbeddingCache.open(path.join(dir, 'file', '.taxon'), MODEL), /file[\\/]\.taxon: cache folder cannot be written \(ENOTDIR\)/);
});
