import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
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

test('cache: a record costs a 16-byte content key, the float16 vector and a 4-byte checksum; a file 16¼ bytes', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, { sha256: MODEL.sha256, dim: 1280 });
  const n = 64;
  const then = Date.now() - 60_000;
  const stat = (i: number) => ({ size: 1000 + i, mtimeMs: then, ino: i });
  for (let b = 0; b < n; b += 32) {
    const batch = Array.from({ length: 32 }, (_, k) => ({ file: `class/${b + k}.jpg`, stat: stat(b + k), hash: hashOf(`x${b + k}`) }));
    cache.add(batch.map((e, k) => ({ hash: e.hash, embedding: new Float32Array(1280).fill(b + k) })));
    cache.rememberFiles(batch);
  }
  cache.close();
  assert.equal(cache.segmentBytes(), 48 + n * (16 + 2560 + 4));
  assert.equal(cache.fileIndexBytes(), 8 + (n / 32) * (8 + 32 * 16));
  const all = (d: string): number => fs.readdirSync(d, { withFileTypes: true }).reduce((t, e) => t + (e.isDirectory() ? all(path.join(d, e.name)) : fs.statSync(path.join(d, e.name)).size), 0);
  assert.ok(all(dir) / n <= 2600 + 60, `${all(dir) / n} bytes per image`); // headers and .gitignore amortise over more images
  const reopened = await EmbeddingCache.open(dir, { sha256: MODEL.sha256 });
  for (let i = 0; i < n; i++) {
    const key = reopened.knownHash(`class/${i}.jpg`, stat(i));
    assert.equal(key, hashOf(`x${i}`).slice(0, 32));
    assert.equal(reopened.get(key!)![0], i);
  }
  reopened.close();
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
  const record = 16 + 2 * MODEL.dim + 4;
  bytes[48 + record + 20] ^= 0xff; // inside the second record's vector
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
  assert.equal(reopened.knownHash('/data/a.jpg', old), undefined, 'its embedding is not cached for this model');
  reopened.add([{ hash: hashOf('a'), embedding: vector(1) }]);
  assert.equal(reopened.knownHash('/data/a.jpg', old), hashOf('a').slice(0, 32));
  assert.equal(reopened.knownHash('/data/a.jpg', { ...old, size: 11 }), undefined);
  assert.equal(reopened.knownHash('/data/a.jpg', { ...old, mtimeMs: old.mtimeMs + 1 }), undefined);
  assert.equal(reopened.knownHash('/data/a.jpg', { ...old, ino: 70 }), undefined);
  assert.equal(reopened.knownHash('/data/b.jpg', fresh), undefined);
  reopened.close();
  // A block cut by a kill, or a damaged one, is ignored (and so is what follows it in that file).
  const list = path.join(dir, 'files', fs.readdirSync(path.join(dir, 'files'))[0]);
  const intact = fs.readFileSync(list);
  const c = { ...old, ino: 9 };
  const writer = await EmbeddingCache.open(dir, MODEL);
  writer.add([{ hash: hashOf('c'), embedding: vector(3) }]);
  writer.rememberFiles([{ file: '/data/c.jpg', stat: c, hash: hashOf('c') }], now);
  writer.close();
  const second = path.join(dir, 'files', fs.readdirSync(path.join(dir, 'files')).find((n) => list !== path.join(dir, 'files', n))!);
  fs.truncateSync(second, fs.statSync(second).size - 1);
  const third = await EmbeddingCache.open(dir, MODEL);
  assert.equal(third.knownHash('/data/c.jpg', c), undefined);
  assert.equal(third.knownHash('/data/a.jpg', old), hashOf('a').slice(0, 32));
  third.close();
  const damaged = Buffer.from(intact);
  damaged[damaged.length - 3] ^= 0xff;
  fs.writeFileSync(list, damaged);
  const fourth = await EmbeddingCache.open(dir, MODEL);
  assert.equal(fourth.knownHash('/data/a.jpg', old), undefined);
  assert.equal(fourth.has(hashOf('a')), true, 'the embedding itself is still there');
  fourth.close();
});

test('cache: a file index prefix shared by two cached contents is not trusted', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, MODEL);
  const a = '0123456789abcdef' + '1'.repeat(48);
  const b = '0123456789abcdef' + '2'.repeat(48);
  const stat = { size: 10, mtimeMs: Date.now() - 60_000, ino: 1 };
  cache.add([{ hash: a, embedding: vector(1) }]);
  cache.rememberFiles([{ file: 'a.jpg', stat, hash: a }]);
  assert.equal(cache.knownHash('a.jpg', stat), a.slice(0, 32));
  cache.add([{ hash: b, embedding: vector(2) }]);
  assert.equal(cache.knownHash('a.jpg', stat), undefined);
  assert.deepEqual(cache.get(a), asFloat16(vector(1)));
  assert.deepEqual(cache.get(b), asFloat16(vector(2)));
  cache.close();
});

test('cache: a first-format cache (32-byte keys, text file lists) is still read, and merged into the new form', async () => {
  const dir = tempDir();
  const segDir = path.join(dir, 'embeddings', MODEL.sha256);
  fs.mkdirSync(segDir, { recursive: true });
  fs.mkdirSync(path.join(dir, 'files'), { recursive: true });
  const header = Buffer.alloc(48);
  header.write('TAXONEM1', 0, 'latin1');
  header.writeUInt32LE(MODEL.dim, 8);
  header.write(MODEL.sha256, 16, 32, 'hex');
  const v1Record = (i: number) => {
    const r = Buffer.alloc(32 + 2 * MODEL.dim + 4);
    r.write(hashOf(`old${i}`), 0, 32, 'hex');
    asFloat16(vector(i)).forEach((x, k) => r.writeUInt16LE(toFloat16Bits(x), 32 + 2 * k));
    r.writeUInt32LE(crc32(r.subarray(0, 32 + 2 * MODEL.dim)), 32 + 2 * MODEL.dim);
    return r;
  };
  for (let s = 0; s < 33; s++) fs.writeFileSync(path.join(segDir, `old${s}.seg`), Buffer.concat([header, v1Record(s)]));
  fs.writeFileSync(path.join(dir, 'files', 'old.txt'), `${hashOf('old0')} 10 1000 1 "/data/x.jpg"\n`);
  const withoutDim = await EmbeddingCache.open(dir, { sha256: MODEL.sha256 });
  assert.equal(withoutDim.dim, MODEL.dim);
  assert.equal(withoutDim.size, 33);
  for (let s = 0; s < 33; s++) assert.deepEqual(withoutDim.get(hashOf(`old${s}`)), asFloat16(vector(s)));
  assert.equal(withoutDim.knownHash('/data/x.jpg', { size: 10, mtimeMs: 1000, ino: 1 }), undefined);
  withoutDim.close();
  const long = (Date.now() - 3600_000) / 1000;
  for (const name of segments(withoutDim)) fs.utimesSync(path.join(segDir, name), long, long);
  const merged = await EmbeddingCache.open(dir, MODEL);
  assert.equal(segments(merged).length, 1);
  assert.equal(fs.readFileSync(path.join(segDir, segments(merged)[0])).toString('latin1', 0, 8), 'TAXONEM2');
  assert.equal(merged.size, 33);
  for (let s = 0; s < 33; s++) assert.deepEqual(merged.get(hashOf(`old${s}`)), asFloat16(vector(s)));
  merged.close();
});

test('cache: garbage in the cache folder is ignored, never a crash', async () => {
  const dir = tempDir();
  const cache = await EmbeddingCache.open(dir, MODEL);
  cache.add([{ hash: hashOf('a'), embedding: vector(1) }]);
  cache.close();
  fs.writeFileSync(path.join(cache.segmentDir, 'junk.seg'), randomBytes(5000));
  fs.writeFileSync(path.join(dir, 'files', 'junk.idx'), Buffer.concat([Buffer.from('TAXONFI1'), randomBytes(5000)]));
  fs.writeFileSync(path.join(dir, 'files', 'huge-count.idx'), Buffer.concat([Buffer.from('TAXONFI1'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])]));
  fs.writeFileSync(path.join(dir, 'files', 'junk.txt'), randomBytes(100));
  const reopened = await EmbeddingCache.open(dir, MODEL);
  assert.equal(reopened.size, 1);
  assert.deepEqual(reopened.get(hashOf('a')), asFloat16(vector(1)));
  reopened.close();
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
