import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { runAsync } from '../../src/cli/main';
import { defaultInferenceThreads, onnxRuntime, openBackbone } from '../../src/core/model/backbone';
import { embedImages, imagesIn, readEmbeddings, type EmbedOptions } from '../../src/core/model/embed';
import { fromFloat16Bits, toFloat16Bits } from '../../src/core/model/float16';
import { decodeImage, toTensor } from '../../src/core/model/preprocess';
import { tempDir, writeTree } from './helpers';

// The tiny MobileNetV1 (128×128 → 256-d) keeps these tests fast; the default model is exercised by the bench.
const TINY = path.resolve(__dirname, '../fixtures/models/mobilenet_v1_0.25_128.onnx');
const PHOTOS = path.resolve(__dirname, '../../../shared/models/testimages');

async function photo(seed: number, format: 'jpeg' | 'png' = 'jpeg'): Promise<Buffer> {
  const w = 40 + seed * 3;
  const raw = Buffer.alloc(w * 32 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * (seed + 3) * 2654435761) >>> 24;
  const img = sharp(raw, { raw: { width: w, height: 32, channels: 3 } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 90 }).toBuffer();
}

async function folderOf(count: number): Promise<string> {
  const root = tempDir('taxon-embed-');
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < count; i++) files[`images/${i % 2 ? 'cat' : 'dog'}/img${String(i).padStart(2, '0')}.${i % 3 ? 'jpg' : 'png'}`] = await photo(i, i % 3 ? 'jpeg' : 'png');
  return writeTree(root, files);
}

async function embed(root: string, extra: Partial<EmbedOptions> = {}) {
  const source = await imagesIn(root);
  return embedImages({ root: source.root, images: source.images, modelPath: TINY, batchSize: 4, threads: 1, ...extra });
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('a folder is embedded once; the second run takes every image from the .taxon cache', async () => {
  const root = await folderOf(10);
  const first = await embed(root);
  assert.equal(first.images, 10);
  assert.equal(first.embedded, 10);
  assert.equal(first.fromCache, 0);
  assert.deepEqual(first.skipped, []);
  assert.deepEqual(first.model, { path: TINY, sha256: '9a5120a7a036689e3c658e8f0d33e1008b30c9d73fecd051a01c37d4ced8af9d', inputSize: 128, dim: 256 });
  assert.equal(first.cacheDir, path.join(root, '.taxon'));
  assert.equal(fs.readFileSync(path.join(root, '.taxon', '.gitignore'), 'utf8'), '*\n');
  const second = await embed(root);
  assert.equal(second.embedded, 0);
  assert.equal(second.fromCache, 10);
  // The cache's own folder is never taken for images.
  assert.equal((await imagesIn(root)).images.some((f) => f.startsWith('.taxon')), false);
});

test('a renamed image comes from the cache; a changed image is embedded again', async () => {
  const root = await folderOf(4);
  await embed(root);
  fs.renameSync(path.join(root, 'images/cat/img01.jpg'), path.join(root, 'images/cat/renamed.jpg'));
  fs.writeFileSync(path.join(root, 'images/dog/img02.jpg'), await photo(99));
  const again = await embed(root);
  assert.equal(again.embedded, 1);
  assert.equal(again.fromCache, 3);
});

test('embeddings match a direct onnxruntime call on the same tensor (fp32 exactly enough, the float16 cache within its rounding)', async () => {
  const images = fs.existsSync(PHOTOS) ? fs.readdirSync(PHOTOS).filter((f) => f.endsWith('.jpg')).slice(0, 4) : [];
  const root = tempDir();
  if (images.length === 0) for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(root, `p${i}.jpg`), await photo(i));
  else for (const f of images) fs.copyFileSync(path.join(PHOTOS, f), path.join(root, f));
  const files = fs.readdirSync(root).filter((f) => f.endsWith('.jpg')).sort();

  const backbone = await openBackbone(TINY, { threads: 1 });
  const { size } = backbone.spec;
  const pixels = new Uint8Array(files.length * size * size * 3);
  for (let i = 0; i < files.length; i++) {
    const d = await decodeImage(fs.readFileSync(path.join(root, files[i])), { size });
    assert.ok('pixels' in d);
    pixels.set(d.pixels, i * size * size * 3);
  }
  const tensor = toTensor(pixels, files.length, backbone.spec);
  // Reference: onnxruntime on its own, the preprocessing the model's documentation gives (pixel / 127.5 − 1, NCHW).
  const ort = onnxRuntime();
  const session = await ort.InferenceSession.create(TINY);
  const reference = (await session.run({ input: new ort.Tensor('float32', tensor, [files.length, 3, size, size]) }, ['embedding'])).embedding.data as Float32Array;
  await session.release();
  assert.ok(maxAbsDiff(tensor, toTensor(pixels, files.length, { size, layout: 'NCHW', scale: [1 / 127.5, 1 / 127.5, 1 / 127.5], offset: [-1, -1, -1] })) < 1e-6);

  const fp32 = await backbone.embed(pixels, files.length);
  await backbone.release();
  assert.ok(maxAbsDiff(fp32, reference) < 1e-4, `fp32 path differs by ${maxAbsDiff(fp32, reference)}`);

  const run = await embedImages({ root, images: files, modelPath: TINY, batchSize: 3, threads: 1 });
  assert.equal(run.embedded, files.length);
  const { matrix, dim, missing } = await readEmbeddings({ root, images: files, modelPath: TINY });
  assert.equal(dim, 256);
  assert.deepEqual(missing, []);
  for (let i = 0; i < matrix.length; i++) {
    const x = reference[i];
    const rounded = fromFloat16Bits(toFloat16Bits(x));
    // The worker's fp32 result may differ from the reference by < 1e-4 before rounding to float16.
    assert.ok(Math.abs(matrix[i] - rounded) <= Math.abs(x) * 2 ** -11 + 1e-4, `value ${i}: cached ${matrix[i]}, reference ${x}`);
  }
});

test('bad files are skipped with a reason and the run goes on', async (t) => {
  const root = await folderOf(3);
  const jpeg = await photo(42);
  writeTree(root, {
    'bad/empty.jpg': Buffer.alloc(0),
    'bad/truncated.jpg': jpeg.subarray(0, Math.floor(jpeg.length / 2)),
    'bad/text.jpg': 'just some text\n',
  });
  fs.mkdirSync(path.join(root, 'bad/folder.jpg'));
  fs.symlinkSync('loop.jpg', path.join(root, 'bad/loop.jpg'));
  fs.symlinkSync(root, path.join(root, 'bad/up')); // a folder link back to the root: not followed
  const unreadable = path.join(root, 'bad/locked.jpg');
  fs.writeFileSync(unreadable, await photo(43));
  fs.chmodSync(unreadable, 0o000);
  let canStillRead = false;
  try {
    fs.readFileSync(unreadable);
    canStillRead = true;
  } catch {
    // permissions apply
  }
  const source = await imagesIn(root);
  // A folder walk does not list the folder named .jpg; an annotation file may name it.
  const images = [...source.images, 'bad/folder.jpg', '../outside.jpg', 'images/never-there.jpg'];
  const r = await embedImages({ root, images, modelPath: TINY, batchSize: 2, threads: 1 });
  const reasons = Object.fromEntries(r.skipped.map((s) => [s.file, s.reason]));
  assert.equal(r.embedded, canStillRead ? 4 : 3);
  assert.equal(reasons['bad/empty.jpg'], 'is empty (0 bytes)');
  assert.match(reasons['bad/truncated.jpg'], /corrupt or truncated/);
  assert.match(reasons['bad/text.jpg'], /not an image Taxon can decode/);
  assert.equal(reasons['bad/folder.jpg'], 'is a folder, not an image file');
  assert.equal(reasons['bad/loop.jpg'], 'is a symbolic link loop');
  assert.match(reasons['../outside.jpg'], /leaves the dataset root/);
  assert.match(reasons['images/never-there.jpg'], /does not exist/);
  if (canStillRead) t.diagnostic('running as root: chmod 000 does not stop reading, so the permission case is not checked here');
  else assert.equal(reasons['bad/locked.jpg'], 'cannot be read (permission denied)');
});

test('a file deleted during the run is skipped; the rest is embedded', async () => {
  const root = await folderOf(12);
  const source = await imagesIn(root);
  const victim = source.images[source.images.length - 1];
  let deleted = false;
  const r = await embedImages({
    root,
    images: source.images,
    modelPath: TINY,
    batchSize: 2,
    threads: 1,
    onProgress: () => {
      if (!deleted) fs.rmSync(path.join(root, victim));
      deleted = true;
    },
  });
  assert.equal(r.embedded, 11);
  assert.deepEqual(r.skipped, [{ file: victim, reason: 'does not exist (deleted or moved during the run?)' }]);
});

test('cancel stops within one batch, keeps what is done, and the next run completes from there', async () => {
  const root = await folderOf(16);
  const controller = new AbortController();
  const first = await embed(root, {
    batchSize: 2,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.embedded >= 2) controller.abort();
    },
  });
  assert.equal(first.cancelled, true);
  assert.ok(first.embedded >= 2 && first.embedded <= 6, `stopped within a batch or so, embedded ${first.embedded}`);
  const second = await embed(root, { batchSize: 2 });
  assert.equal(second.cancelled, false);
  assert.equal(second.fromCache, first.embedded);
  assert.equal(second.embedded, 16 - first.embedded);
});

test('two runs at once on the same cache both finish and leave it whole', async () => {
  const root = await folderOf(8);
  const [a, b] = await Promise.all([embed(root), embed(root)]);
  assert.equal(a.embedded + a.fromCache, 8);
  assert.equal(b.embedded + b.fromCache, 8);
  const third = await embed(root);
  assert.equal(third.fromCache, 8);
  const { missing } = await readEmbeddings({ root, images: (await imagesIn(root)).images, modelPath: TINY });
  assert.deepEqual(missing, []);
});

/** A hand-made ONNX model: one float input of `shape`, output = GlobalAveragePool then Flatten (or Identity for 2-D). */
function tinyOnnx(inputShape: Array<number | string>, outputName = 'embedding'): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const field = (no: number, value: Buffer | string | number): Buffer => {
    if (typeof value === 'number') return Buffer.concat([varint(no * 8), varint(value)]);
    const bytes = typeof value === 'string' ? Buffer.from(value) : value;
    return Buffer.concat([varint(no * 8 + 2), varint(bytes.length), bytes]);
  };
  const shape = (dims: Array<number | string>) => Buffer.concat(dims.map((d) => field(1, typeof d === 'number' ? field(1, d) : field(2, d))));
  const valueInfo = (name: string, dims: Array<number | string>) => Buffer.concat([field(1, name), field(2, field(1, Buffer.concat([field(1, 1), field(2, shape(dims))])))]);
  const node = (inputs: string[], output: string, op: string) => Buffer.concat([...inputs.map((i) => field(1, i)), field(2, output), field(4, op)]);
  const nodes = inputShape.length === 4 ? [node(['x'], 'pooled', 'GlobalAveragePool'), node(['pooled'], outputName, 'Flatten')] : [node(['x'], outputName, 'Identity')];
  const outDims = inputShape.length === 4 ? ['N', 3] : inputShape;
  const graph = Buffer.concat([...nodes.map((n) => field(1, n)), field(2, 'g'), field(11, valueInfo('x', inputShape)), field(12, valueInfo(outputName, outDims))]);
  return Buffer.concat([field(1, 7), field(7, graph), field(8, Buffer.concat([field(1, ''), field(2, 13)]))]);
}

test('a model that cannot be used is one error naming the file and the problem, before any image is read', async () => {
  const dir = tempDir();
  const root = await folderOf(2);
  const images = (await imagesIn(root)).images;
  const notOnnx = path.join(dir, 'notes.onnx');
  fs.writeFileSync(notOnnx, 'hello, I am text');
  const tabular = path.join(dir, 'tabular.onnx');
  fs.writeFileSync(tabular, tinyOnnx(['N', 10]));
  const noEmbedding = path.join(dir, 'pool.onnx');
  fs.writeFileSync(noEmbedding, tinyOnnx(['N', 3, 8, 8]));
  fs.writeFileSync(path.join(dir, 'pool.json'), JSON.stringify({ embeddingOutput: 'features' }));
  const grey = path.join(dir, 'grey.onnx');
  fs.writeFileSync(grey, tinyOnnx(['N', 1, 8, 8]));

  const cases: Array<[string, RegExp]> = [
    [notOnnx, /notes\.onnx: is not an ONNX model/],
    [path.join(dir, 'missing.onnx'), /missing\.onnx: model file does not exist/],
    [tabular, /tabular\.onnx: has no image-like input \(a 4-D float32 tensor with 3 channels\); inputs: x float32\[N,10\]/],
    [noEmbedding, /pool\.onnx: has no output named "features" \(outputs: embedding float32\[N,3\]\)/],
    [grey, /grey\.onnx: has no image-like input/],
  ];
  for (const [model, message] of cases) {
    await assert.rejects(embedImages({ root, images, modelPath: model, threads: 1 }), message);
  }
  assert.equal(fs.existsSync(path.join(root, '.taxon', 'embeddings')), false, 'no image was embedded or cached');

  // The same hand-made pooling model is a usable backbone once its sidecar is right (size from the input, [0,1] scaling).
  fs.writeFileSync(path.join(dir, 'pool.json'), JSON.stringify({ scale: 1 / 255, offset: 0 }));
  const ok = await embedImages({ root, images, modelPath: noEmbedding, threads: 1 });
  assert.equal(ok.embedded, 2);
  assert.equal(ok.model.dim, 3);
  assert.equal(ok.model.inputSize, 8);
});

test('taxon embed --json prints exactly the documented keys; bad model or empty folder exit 2', async () => {
  const root = await folderOf(3);
  const cache = path.join(tempDir(), 'cache');
  const cli = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await runAsync(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n'), cwd: root });
    return { code, out, err };
  };
  const r = await cli(['embed', '.', '--model', TINY, '--cache', cache, '--batch', '2', '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out);
  assert.deepEqual(Object.keys(json), ['images', 'embedded', 'fromCache', 'skipped', 'seconds', 'imagesPerSecond', 'model']);
  assert.deepEqual(Object.keys(json.model), ['path', 'sha256', 'inputSize', 'dim']);
  assert.equal(json.embedded, 3);
  assert.ok(fs.existsSync(path.join(cache, '.gitignore')));
  assert.equal(fs.existsSync(path.join(root, '.taxon')), false, '--cache replaces <root>/.taxon');

  const human = await cli(['embed', '.', '--model', TINY, '--cache', cache]);
  assert.equal(human.code, 0);
  assert.match(human.out, /3 images: 0 embedded, 3 from cache, 0 skipped/);

  const bad = await cli(['embed', '.', '--model', path.join(root, 'images/cat/img01.jpg')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /img01\.jpg: is not an ONNX model/);
  const empty = tempDir();
  fs.writeFileSync(path.join(empty, 'notes.txt'), 'no images here');
  const none = await cli(['embed', empty, '--model', TINY]);
  assert.equal(none.code, 2);
  assert.match(none.err, /contains no images/);
  const usage = await cli(['embed', '.', '--batch', '0']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--batch must be a positive integer/);
});

test('when <root>/.taxon cannot be written, the cache falls back to a per-user folder and says so', async () => {
  const root = await folderOf(2);
  fs.writeFileSync(path.join(root, '.taxon'), 'a file where the cache folder would go');
  const home = tempDir();
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = home;
  try {
    const r = await embed(root);
    assert.equal(r.embedded, 2);
    assert.ok(r.cacheDir.startsWith(path.join(home, 'taxon')), r.cacheDir);
    assert.match(r.notes[0], /\.taxon: cache folder cannot be written \(.*\); using .* instead/);
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }
});

test('the default inference threads keep a quarter of the cores, at least one, for decoding', () => {
  assert.deepEqual([1, 2, 3, 4, 8, 16, 64].map((cores) => defaultInferenceThreads(cores)), [1, 1, 2, 3, 6, 12, 48]);
});

test('a run served wholly from the cache opens no model; a new image opens it', async () => {
  const root = await folderOf(6);
  const first = await embed(root);
  assert.equal(first.embedded, 6);
  // a worker file that cannot start: any run that opens the model fails
  const noWorker = { workerFile: path.join(root, 'no-such-worker.js') };
  const cached = await embed(root, noWorker);
  assert.equal(cached.fromCache, 6);
  assert.deepEqual({ inputSize: cached.model.inputSize, dim: cached.model.dim, sha256: cached.model.sha256 }, { inputSize: first.model.inputSize, dim: first.model.dim, sha256: first.model.sha256 });
  fs.writeFileSync(path.join(root, 'images', 'cat', 'new.jpg'), await photo(40));
  await assert.rejects(embed(root, noWorker), /worker/);
  const again = await embed(root);
  assert.deepEqual([again.embedded, again.fromCache], [1, 6]);
});
