/**
 * Embedding a folder or a dataset: the pipeline that reads, hashes and decodes images on this
 * thread's async I/O (sharp decodes on the libuv pool) while a worker thread runs the model on the
 * previous batch, and keeps every result in the embedding cache as soon as it exists.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DatasetError } from '../diagnostics';
import { detectFormat, loadDataset } from '../formats';
import { IMAGE_EXTENSIONS, isImageFile } from '../formats/folder';
import { describeContainmentProblem, RootContainment } from '../paths';
import { defaultInferenceThreads, defaultModelPath, defaultThreads, ModelError, type BackboneSpec } from './backbone';
import { defaultCacheDir, EmbeddingCache, prepareCacheDir, type FileStat } from './embeddingCache';
import type { InferenceReply, InferenceRequest, InferenceWorkerData } from './inferenceWorker';
import { decodeImage, DEFAULT_PIXEL_LIMIT } from './preprocess';

/** Measured on a 2-core VM: 32 keeps onnxruntime's threads busy without holding much memory. */
export const DEFAULT_BATCH_SIZE = 32;
/** Image files larger than this are not read at all (no real photo is). */
const MAX_IMAGE_BYTES = 512 * 1024 * 1024;

export interface EmbedProgress {
  /** Images handled so far (embedded, from the cache, or skipped). */
  done: number;
  total: number;
  embedded: number;
  fromCache: number;
  skipped: number;
  imagesPerSecond: number;
  /** Estimated seconds left; undefined until there is a rate to go by. */
  etaSeconds: number | undefined;
}

export interface EmbedOptions {
  /** Dataset root: image paths are relative to it and must stay inside it. */
  root: string;
  /** Dataset-relative image paths ('/'-separated). */
  images: string[];
  /** The .onnx file; default: the bundled MobileNetV2. */
  modelPath?: string;
  batchSize?: number;
  /** onnxruntime intra-op threads; default: `defaultInferenceThreads()` (a quarter of the cores, at least one, left for decoding). */
  threads?: number;
  /** Default `<root>/.taxon`; when that cannot be written, a per-user cache folder (see `notes`). */
  cacheDir?: string;
  /** Largest width×height decoded; default 100 megapixels. */
  pixelLimit?: number;
  /** Cancel: stops within one batch; everything embedded so far stays cached. */
  signal?: AbortSignal;
  onProgress?: (progress: EmbedProgress) => void;
  /** The inference worker's script; default: found beside this code (dist/inferenceWorker.js, or the .ts under tsx). */
  workerFile?: string;
}

export interface SkippedImage {
  file: string;
  reason: string;
}

export interface ModelSummary {
  path: string;
  sha256: string;
  inputSize: number;
  dim: number;
}

export interface EmbedResult {
  images: number;
  embedded: number;
  fromCache: number;
  skipped: SkippedImage[];
  seconds: number;
  /** Part of `seconds` spent opening and checking the model, before the first image. */
  modelSeconds: number;
  imagesPerSecond: number;
  model: ModelSummary;
  /** True when the signal stopped the run before every image was handled. */
  cancelled: boolean;
  cacheDir: string;
  /** Things the curator should know that are not failures (e.g. the cache folder moved). */
  notes: string[];
}

/** Where the images to embed come from. */
export interface ImageSource {
  root: string;
  images: string[];
  /** 'folder' when the images were found by walking the folder; else the annotation format. */
  kind: 'folder' | 'datumaro' | 'csv' | 'jsonl';
}

/**
 * The images of a dataset (its items' images) or, for a folder that holds no annotation file
 * Taxon reads, every image under it (hidden folders such as .taxon/ skipped, symbolic links to
 * folders not followed, so link loops cannot trap the walk).
 */
export async function imagesIn(target: string): Promise<ImageSource> {
  const abs = path.resolve(target);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(abs);
  } catch (err) {
    throw new DatasetError(abs, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  if (stat.isDirectory()) {
    let format: string | undefined;
    try {
      format = detectFormat(abs).format;
    } catch {
      format = 'folder';
    }
    if (format === 'folder') return { root: abs, images: await walkImages(abs), kind: 'folder' };
  }
  const ds = loadDataset(abs);
  const images = [...new Set(ds.items.map((item) => item.image))];
  return { root: ds.root, images, kind: ds.format as ImageSource['kind'] };
}

async function walkImages(root: string): Promise<string[]> {
  const found: string[] = [];
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(path.join(root, rel), { withFileTypes: true });
    } catch (err) {
      if (rel === '') throw new DatasetError(root, `cannot be listed (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      continue; // an unreadable sub-folder holds nothing we can embed
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) stack.push(child);
      else if ((entry.isFile() || entry.isSymbolicLink()) && isImageFile(entry.name)) found.push(child);
    }
  }
  return found.sort();
}

export function noImagesMessage(): string {
  return `contains no images (looked for ${IMAGE_EXTENSIONS.join(', ')})`;
}

/**
 * The cache folder to use: the one asked for (which must be writable), or `<root>/.taxon`, or,
 * when the dataset folder is read-only, a per-user cache folder named after the root.
 */
export function resolveCacheDir(root: string, requested?: string): { dir: string; note?: string } {
  if (requested !== undefined) {
    const dir = path.resolve(requested);
    prepareCacheDir(dir);
    return { dir };
  }
  const dir = defaultCacheDir(root);
  try {
    prepareCacheDir(dir);
    return { dir };
  } catch (err) {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    const fallback = path.join(base, 'taxon', createHash('sha256').update(root).digest('hex').slice(0, 16));
    prepareCacheDir(fallback);
    return { dir: fallback, note: `${(err as Error).message}; using ${fallback} instead` };
  }
}

/** Starts the inference worker and waits until the model is open (or found unusable). */
class InferenceWorker {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: Float32Array) => void; reject: (e: Error) => void }>();
  private exited?: Error;

  private constructor(
    private readonly worker: Worker,
    readonly spec: BackboneSpec,
  ) {
    worker.on('message', (reply: InferenceReply) => {
      if (reply.type !== 'embedded' && reply.type !== 'failed') return;
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.type === 'embedded') w?.resolve(reply.embeddings);
      else w?.reject(new Error(reply.message));
    });
    const fail = (err: Error) => {
      this.exited = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => fail(err));
    worker.on('exit', (code) => fail(new Error(`the inference worker stopped (exit code ${code})`)));
  }

  static start(modelPath: string, threads: number, batchSize: number, workerFile: string): Promise<InferenceWorker> {
    const data: InferenceWorkerData = { modelPath, threads, warmUpBatch: batchSize };
    // Under tsx (tests, the bench from source) the worker is TypeScript too. tsx's CommonJS hook
    // loads it; `--import tsx` would not (Node 20 then loads a worker's entry as an ES module).
    const worker = new Worker(workerFile, { workerData: data, execArgv: workerFile.endsWith('.ts') ? ['--require', 'tsx/cjs'] : undefined });
    return new Promise((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`the inference worker stopped before the model was open (exit code ${code})`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (reply: InferenceReply) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (reply.type === 'ready') resolve(new InferenceWorker(worker, reply.spec));
        else if (reply.type === 'unusable-model') {
          void worker.terminate();
          reject(new ModelError(reply.file, reply.message.startsWith(reply.file + ': ') ? reply.message.slice(reply.file.length + 2) : reply.message));
        } else reject(new Error(`unexpected first message from the inference worker: ${reply.type}`));
      });
    });
  }

  embed(pixels: Uint8Array, count: number): Promise<Float32Array> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const request: InferenceRequest = { type: 'embed', id, pixels, count };
      this.worker.postMessage(request, [pixels.buffer as ArrayBuffer]);
    });
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

export function defaultWorkerFile(): string {
  // Bundled: dist/inferenceWorker.js beside dist/cli.js / dist/extension.js. From source: this folder.
  const bundled = path.join(__dirname, 'inferenceWorker.js');
  if (fs.existsSync(bundled)) return bundled;
  return path.join(__dirname, 'inferenceWorker.ts');
}

type Prepared =
  | { kind: 'skipped'; file: string; reason: string }
  | { kind: 'cached'; file: string; rel: string; stat: FileStat; hash: string; remember: boolean }
  | { kind: 'decoded'; file: string; rel: string; stat: FileStat; hash: string; pixels: Uint8Array };

/** Embeds images into the cache. Throws ModelError / DatasetError (before any image is read) when the model or cache cannot be used. */
export async function embedImages(options: EmbedOptions): Promise<EmbedResult> {
  const t0 = performance.now();
  const root = path.resolve(options.root);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new DatasetError(root, 'is not a folder');
  const modelPath = path.resolve(options.modelPath ?? defaultModelPath());
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_BATCH_SIZE));
  const threads = Math.max(1, Math.floor(options.threads ?? defaultInferenceThreads()));
  const pixelLimit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  const { dir: cacheDir, note } = resolveCacheDir(root, options.cacheDir);
  const notes = note ? [note] : [];

  // The model opens (and is checked) before any image is read, unless the cache already holds
  // embeddings of this very model file: then it opens only if an image turns out to be new, so a
  // run served from the cache loads no model at all.
  // (the model file is hashed here only when the cache has such records: otherwise the worker's
  // opening, which hashes it anyway, comes first)
  const sha256 = fs.existsSync(path.join(cacheDir, 'models')) ? modelFileSha256(modelPath) : undefined;
  const known = sha256 === undefined ? undefined : knownModel(cacheDir, sha256);
  let worker: InferenceWorker | undefined;
  let starting: Promise<InferenceWorker> | undefined;
  const startWorker = (): Promise<InferenceWorker> =>
    (starting ??= InferenceWorker.start(modelPath, threads, Math.min(batchSize, options.images.length), options.workerFile ?? defaultWorkerFile()).then((w) => {
      worker = w;
      rememberModel(cacheDir, w.spec);
      return w;
    }));
  let cache: EmbeddingCache | undefined;
  try {
    if (!known) await startWorker();
    cache = await EmbeddingCache.open(cacheDir, known ?? worker!.spec);
    const c = cache;
    const total = options.images.length;
    const skipped: SkippedImage[] = [];
    let embedded = 0;
    let fromCache = 0;
    const tStart = performance.now();
    const modelSeconds = (tStart - t0) / 1000;
    const inBatches = new Set<string>();
    // Decoding shares the cores with onnxruntime's threads: while a batch runs, only the cores it
    // leaves (at least one) decode, so the two do not oversubscribe the machine; while the worker
    // waits for a batch, every core decodes.
    const cores = defaultThreads();
    const decodersBesideInference = Math.max(1, cores - threads);
    const decodeSlots = new Limiter(cores);

    const progress = () => {
      if (!options.onProgress) return;
      const done = embedded + fromCache + skipped.length;
      const elapsed = (performance.now() - tStart) / 1000;
      const rate = elapsed > 0 ? done / elapsed : 0;
      options.onProgress({ done, total, embedded, fromCache, skipped: skipped.length, imagesPerSecond: rate, etaSeconds: rate > 0 && done > 0 ? (total - done) / rate : undefined });
    };

    const containment = new RootContainment(root);
    const prepare = async (file: string): Promise<Prepared> => {
      const inside = containment.resolve(file);
      if (!inside.absolute) return { kind: 'skipped', file, reason: describeContainmentProblem(inside.problem!) };
      const abs = inside.absolute;
      const rel = relativeKey(root, abs);
      let stat: FileStat;
      try {
        const s = await fs.promises.stat(abs);
        if (s.isDirectory()) return { kind: 'skipped', file, reason: 'is a folder, not an image file' };
        stat = { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
      } catch (err) {
        return { kind: 'skipped', file, reason: describeReadError(err) };
      }
      const known = c.knownHash(rel, stat);
      if (known !== undefined) return { kind: 'cached', file, rel, stat, hash: known, remember: false };
      if (stat.size > MAX_IMAGE_BYTES) return { kind: 'skipped', file, reason: `is larger than ${MAX_IMAGE_BYTES / 2 ** 20} MB; not read` };
      let bytes: Buffer;
      try {
        const handle = await fs.promises.open(abs, 'r');
        try {
          const s = await handle.stat();
          stat = { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
          bytes = await handle.readFile();
        } finally {
          await handle.close();
        }
      } catch (err) {
        return { kind: 'skipped', file, reason: describeReadError(err) };
      }
      const hash = createHash('sha256').update(bytes).digest('hex');
      if (c.has(hash) || inBatches.has(hash)) return { kind: 'cached', file, rel, stat, hash, remember: true };
      const { size } = (await startWorker()).spec;
      const decoded = await decodeSlots.run(() => decodeImage(bytes, { size, pixelLimit }));
      if ('reason' in decoded) return { kind: 'skipped', file, reason: decoded.reason };
      return { kind: 'decoded', file, rel, stat, hash, pixels: decoded.pixels };
    };

    const infer = (batch: Array<Extract<Prepared, { kind: 'decoded' }>>): Promise<void> =>
      inferBatch(batch).finally(() => decodeSlots.setCapacity(cores));
    const inferBatch = async (batch: Array<Extract<Prepared, { kind: 'decoded' }>>): Promise<void> => {
      const w = await startWorker();
      const { size, dim } = w.spec;
      const plane = size * size * 3;
      const pixels = new Uint8Array(batch.length * plane);
      batch.forEach((p, i) => pixels.set(p.pixels, i * plane));
      let out: Float32Array;
      try {
        decodeSlots.setCapacity(decodersBesideInference);
        out = await w.embed(pixels, batch.length);
      } catch (err) {
        for (const p of batch) skipped.push({ file: p.file, reason: `inference failed: ${(err as Error).message}` });
        for (const p of batch) inBatches.delete(p.hash);
        return;
      }
      c.add(batch.map((p, i) => ({ hash: p.hash, embedding: out.subarray(i * dim, (i + 1) * dim) })));
      c.rememberFiles(batch.map((p) => ({ file: p.rel, stat: p.stat, hash: p.hash })));
      for (const p of batch) inBatches.delete(p.hash);
      embedded += batch.length;
      progress();
    };

    // One batch at the worker while this thread decodes the next: cancel then waits for one batch at most.
    let inFlight: Promise<void> = Promise.resolve();
    let pending: Array<Extract<Prepared, { kind: 'decoded' }>> = [];
    let cancelled = false;
    for (let i = 0; i < total && !cancelled; i += batchSize) {
      if (options.signal?.aborted) {
        cancelled = true;
        break;
      }
      const window = await Promise.all(options.images.slice(i, i + batchSize).map(prepare));
      const remember: Array<{ file: string; stat: FileStat; hash: string }> = [];
      for (const p of window) {
        if (p.kind === 'skipped') skipped.push({ file: p.file, reason: p.reason });
        else if (p.kind === 'cached') {
          fromCache++;
          if (p.remember) remember.push({ file: p.rel, stat: p.stat, hash: p.hash });
        } else if (inBatches.has(p.hash)) {
          fromCache++; // the same content twice in this run: embedded once
        } else {
          inBatches.add(p.hash);
          pending.push(p);
        }
      }
      c.rememberFiles(remember);
      const last = i + batchSize >= total;
      while (pending.length >= batchSize || (last && pending.length > 0)) {
        const batch = pending.slice(0, batchSize);
        pending = pending.slice(batchSize);
        await inFlight;
        if (options.signal?.aborted) {
          cancelled = true;
          break;
        }
        inFlight = infer(batch);
      }
      progress();
    }
    await inFlight;
    if (options.signal?.aborted && embedded + fromCache + skipped.length < total) cancelled = true;
    progress();
    const seconds = (performance.now() - t0) / 1000;
    const handled = embedded + fromCache + skipped.length;
    return {
      images: total,
      embedded,
      fromCache,
      skipped,
      seconds,
      modelSeconds,
      imagesPerSecond: seconds > 0 ? handled / seconds : 0,
      model: worker ? { path: worker.spec.file, sha256: worker.spec.sha256, inputSize: worker.spec.size, dim: worker.spec.dim } : { path: modelPath, sha256: known!.sha256, inputSize: known!.inputSize, dim: known!.dim },
      cancelled,
      cacheDir,
      notes,
    };
  } finally {
    cache?.close();
    if (starting) await starting.then((w) => w.stop(), () => undefined);
  }
}

/** What the cache remembers of a model it holds embeddings of: enough to report it without opening it. */
interface KnownModel {
  sha256: string;
  inputSize: number;
  dim: number;
}

function modelRecordFile(cacheDir: string, sha256: string): string {
  return path.join(cacheDir, 'models', `${sha256}.json`);
}

/** SHA-256 of the model file, or undefined when it cannot be read (opening it then says why). */
function modelFileSha256(file: string): string | undefined {
  try {
    return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

function knownModel(cacheDir: string, sha256: string): KnownModel | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(modelRecordFile(cacheDir, sha256), 'utf8')) as Partial<KnownModel>;
    const ok = v.sha256 === sha256 && Number.isInteger(v.inputSize) && v.inputSize! > 0 && Number.isInteger(v.dim) && v.dim! > 0;
    // only a model with embeddings here: otherwise there is nothing to spare it for
    return ok && fs.existsSync(path.join(cacheDir, 'embeddings', sha256)) ? (v as KnownModel) : undefined;
  } catch {
    return undefined; // absent or unreadable: the model opens as usual
  }
}

function rememberModel(cacheDir: string, spec: BackboneSpec): void {
  const file = modelRecordFile(cacheDir, spec.sha256);
  try {
    if (fs.existsSync(file)) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ sha256: spec.sha256, inputSize: spec.size, dim: spec.dim } satisfies KnownModel) + '\n');
    fs.renameSync(tmp, file);
  } catch {
    // a cache that cannot keep the record only costs the next run a model load
  }
}

/** Runs at most `capacity` of the functions it is given at once; the others wait their turn (first come, first served). */
class Limiter {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private capacity: number) {}

  setCapacity(capacity: number): void {
    this.capacity = capacity;
    this.wake();
  }

  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.running >= this.capacity) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    try {
      return await f();
    } finally {
      this.running--;
      this.wake();
    }
  }

  private wake(): void {
    while (this.running < this.capacity && this.queue.length > 0) {
      this.running++;
      this.queue.shift()!();
    }
  }
}

/** The dataset-relative, '/'-separated path the file index is keyed by (so a moved dataset keeps its index). */
function relativeKey(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join('/');
}

function describeReadError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'does not exist (deleted or moved during the run?)';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    case 'ELOOP':
      return 'is a symbolic link loop';
    case 'EISDIR':
      return 'is a folder, not an image file';
    default:
      return `cannot be read (${code ?? (err instanceof Error ? err.message : String(err))})`;
  }
}

export interface EmbeddingMatrix {
  dim: number;
  /** Row i is the embedding of `images[i]` (zeros where missing). */
  matrix: Float32Array;
  /** Row indices that have no cached embedding (not embedded yet, unreadable, or changed since). */
  missing: number[];
}

/**
 * The cached embeddings of a list of images, one row each, for the classifiers. Reads image bytes
 * only for files changed since they were hashed; never runs the model.
 */
export async function readEmbeddings(options: { root: string; images: string[]; modelPath?: string; cacheDir?: string }): Promise<EmbeddingMatrix> {
  const root = path.resolve(options.root);
  const modelPath = path.resolve(options.modelPath ?? defaultModelPath());
  let modelBytes: Buffer;
  try {
    modelBytes = await fs.promises.readFile(modelPath);
  } catch (err) {
    throw new ModelError(modelPath, `model file cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const sha256 = createHash('sha256').update(modelBytes).digest('hex');
  const { dir } = resolveCacheDir(root, options.cacheDir);
  const cache = await EmbeddingCache.open(dir, { sha256 });
  try {
    const dim = cache.dim;
    const matrix = new Float32Array(options.images.length * dim);
    const missing: number[] = [];
    const containment = new RootContainment(root);
    for (let i = 0; i < options.images.length; i++) {
      const hash = dim > 0 ? await contentHash(root, containment, options.images[i], cache) : undefined;
      if (hash === undefined || !cache.get(hash, matrix.subarray(i * dim, (i + 1) * dim))) missing.push(i);
    }
    return { dim, matrix, missing };
  } finally {
    cache.close();
  }
}

async function contentHash(root: string, containment: RootContainment, image: string, cache: EmbeddingCache): Promise<string | undefined> {
  const inside = containment.resolve(image);
  if (!inside.absolute) return undefined;
  try {
    const s = await fs.promises.stat(inside.absolute);
    const known = cache.knownHash(relativeKey(root, inside.absolute), { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino });
    if (known) return known;
    return createHash('sha256').update(await fs.promises.readFile(inside.absolute)).digest('hex');
  } catch {
    return undefined;
  }
}
