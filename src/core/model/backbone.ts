/**
 * The backbone: an ONNX image model that turns decoded pixels into one feature vector per image.
 * Opening one checks the model completely (ONNX bytes, an image input, the feature output, one
 * test inference) so that a bad model is one clear error before any image is read.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { DatasetError } from '../diagnostics';
import { readOnnxHeader, type OnnxHeader } from './onnxFile';
import { toTensor } from './preprocess';

/** A model that cannot be used; the message names the model file (or its sidecar) and the problem. */
export class ModelError extends DatasetError {
  constructor(file: string, message: string) {
    super(file, message);
    this.name = 'ModelError';
  }
}

export type Layout = 'NCHW' | 'NHWC';

/**
 * How pixels become the model's input: the decoded image is `size`×`size` RGB (centre crop), and
 * each channel value p (0–255) becomes `p * scale[c] + offset[c]`.
 */
export interface Preprocessing {
  input: string;
  layout: Layout;
  size: number;
  scale: [number, number, number];
  offset: [number, number, number];
}

export interface BackboneSpec extends Preprocessing {
  /** Absolute path of the .onnx file. */
  file: string;
  /** SHA-256 of the model file (hex): part of every cache key. */
  sha256: string;
  embeddingOutput: string;
  /** Length of one embedding. */
  dim: number;
  /** Where the preprocessing came from. */
  source: 'sidecar' | 'metadata' | 'default';
}

/**
 * The sidecar `<model>.json` beside the model, every field optional:
 * `{ "input": "input", "size": 224, "layout": "NCHW", "embeddingOutput": "embedding",
 *    "scale": 0.00784313725490196, "offset": -1 }` (value = pixel·scale + offset, pixel 0–255; one
 * number or one per RGB channel), or `"mean": [..3], "std": [..3]` instead of scale/offset
 * (value = (pixel/255 − mean)/std; a mean above 1 is taken as 0–255 units: (pixel − mean)/std).
 */
export interface Sidecar {
  input?: string;
  size?: number;
  layout?: Layout;
  embeddingOutput?: string;
  scale?: number | number[];
  offset?: number | number[];
  mean?: number[];
  std?: number[];
}

export interface Backbone {
  spec: BackboneSpec;
  /** Embeds `count` images given as `count`×size×size×3 RGB bytes; returns `count`×dim floats. */
  embed(pixels: Uint8Array, count: number): Promise<Float32Array>;
  /** Runs an already-built input tensor (for comparisons with onnxruntime alone). */
  run(tensor: Float32Array, count: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface BackboneOptions {
  /** onnxruntime intra-op threads; default: the number of cores. */
  threads?: number;
}

/** The bundled default model, wherever this code runs from (dist/ bundle or src/ under tsx). */
export function defaultModelPath(): string {
  const candidates = [path.resolve(__dirname, '../media/models'), path.resolve(__dirname, '../../../media/models')];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, DEFAULT_MODEL))) ?? candidates[0];
  return path.join(dir, DEFAULT_MODEL);
}
const DEFAULT_MODEL = 'mobilenet_v2_1.0_224.onnx';

export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/**
 * onnxruntime threads for the embedding pipeline: the cores minus a quarter (at least one) kept for
 * decoding and for the editor. Decoding costs about a third of the model's CPU time per image, and
 * an intra-op thread that a decoder preempts stalls every parallel operator at its barrier: on 2
 * cores, 2 threads beside a decoder ran a batch in 180 ms against 107 ms alone, 1 thread in
 * ~195 ms against 190 ms alone (see the README's inference benchmark).
 */
export function defaultInferenceThreads(cores = defaultThreads()): number {
  return Math.max(1, cores - Math.max(1, Math.round(cores / 4)));
}

/** `<dir>/<name>.json` beside `<dir>/<name>.onnx`. */
export function sidecarPath(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.json';
}

let ort: typeof import('onnxruntime-node') | undefined;
/** onnxruntime loads on first use, never at extension activation. */
export function onnxRuntime(): typeof import('onnxruntime-node') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ort ??= require('onnxruntime-node') as typeof import('onnxruntime-node');
  return ort;
}

export async function openBackbone(modelPath: string, options: BackboneOptions = {}): Promise<Backbone> {
  const file = path.resolve(modelPath);
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelError(file, code === 'ENOENT' ? 'model file does not exist' : `model file cannot be read (${code ?? String(err)})`);
  }
  const header = readOnnxHeader(bytes);
  if (typeof header === 'string') throw new ModelError(file, header);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const sidecar = await readSidecar(file);

  const rt = onnxRuntime();
  let session: InferenceSession;
  try {
    session = await rt.InferenceSession.create(bytes, {
      intraOpNumThreads: options.threads ?? defaultThreads(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new ModelError(file, `onnxruntime cannot load the model: ${firstLine(err)}`);
  }
  const partial = describeBackbone(file, session, header, sidecar);

  const run = async (tensor: Float32Array, count: number): Promise<Float32Array> => {
    const s = partial.size;
    const dims = partial.layout === 'NCHW' ? [count, 3, s, s] : [count, s, s, 3];
    const out = await session.run({ [partial.input]: new rt.Tensor('float32', tensor, dims) }, [partial.embeddingOutput]);
    const value = out[partial.embeddingOutput];
    const data = value.data as Float32Array;
    if (!(data instanceof Float32Array)) throw new ModelError(file, `output ${JSON.stringify(partial.embeddingOutput)} is not float32`);
    return data;
  };

  // One test inference: it checks the model runs on its input and gives the embedding length
  // when the output's shape is symbolic.
  let dim: number;
  try {
    const probe = await run(new Float32Array(partial.size * partial.size * 3), 1);
    dim = probe.length;
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError(file, `a test inference on a blank ${partial.size}×${partial.size} image failed: ${firstLine(err)}`);
  }
  if (dim === 0) throw new ModelError(file, `output ${JSON.stringify(partial.embeddingOutput)} is empty`);

  const spec: BackboneSpec = { ...partial, sha256, dim };
  // One input buffer reused across batches: a fresh 19 MB array per batch costs more in page
  // faults and zeroing than the normalisation itself.
  let input = new Float32Array(0);
  return {
    spec,
    run,
    embed: (pixels, count) => {
      const needed = count * spec.size * spec.size * 3;
      if (input.length < needed) input = new Float32Array(needed);
      return run(toTensor(pixels, count, spec, input.subarray(0, needed)), count);
    },
    release: () => session.release(),
  };
}

async function readSidecar(modelFile: string): Promise<Sidecar | undefined> {
  const file = sidecarPath(modelFile);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelError(file, `model sidecar is not valid JSON (${firstLine(err)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ModelError(file, 'model sidecar must be a JSON object');
  return checkSidecar(value as Record<string, unknown>, file);
}

function checkSidecar(v: Record<string, unknown>, file: string): Sidecar {
  const fail = (what: string): never => {
    throw new ModelError(file, `model sidecar: ${what}`);
  };
  const numberOrTriple = (key: string) => {
    const x = v[key];
    if (x === undefined) return;
    if (typeof x === 'number' && Number.isFinite(x)) return;
    if (Array.isArray(x) && x.length === 3 && x.every((n) => typeof n === 'number' && Number.isFinite(n))) return;
    fail(`"${key}" must be a number or an array of 3 numbers`);
  };
  if (v.input !== undefined && typeof v.input !== 'string') fail('"input" must be a string');
  if (v.embeddingOutput !== undefined && typeof v.embeddingOutput !== 'string') fail('"embeddingOutput" must be a string');
  if (v.size !== undefined && !(Number.isInteger(v.size) && (v.size as number) > 0)) fail('"size" must be a positive integer');
  if (v.layout !== undefined && v.layout !== 'NCHW' && v.layout !== 'NHWC') fail('"layout" must be "NCHW" or "NHWC"');
  numberOrTriple('scale');
  numberOrTriple('offset');
  numberOrTriple('mean');
  numberOrTriple('std');
  if ((v.mean === undefined) !== (v.std === undefined)) fail('"mean" and "std" go together');
  if (v.mean !== undefined && (v.scale !== undefined || v.offset !== undefined)) fail('give either "mean"/"std" or "scale"/"offset", not both');
  if (Array.isArray(v.std) && v.std.some((s) => s === 0)) fail('"std" must not be 0');
  return v as Sidecar;
}

/** Preprocessing read from `metadata_props`: a `taxon.preprocessing` JSON value, or the free-text form our converter writes ("value = pixel/127.5 - 1"). */
function metadataPreprocessing(header: OnnxHeader): Sidecar | undefined {
  const structured = header.metadata['taxon.preprocessing'];
  if (structured) {
    try {
      return checkSidecar(JSON.parse(structured), 'metadata_props["taxon.preprocessing"]');
    } catch {
      return undefined;
    }
  }
  const text = header.metadata.input;
  if (!text) return undefined;
  const m = /pixel\s*\/\s*([0-9.]+)\s*([-+])\s*([0-9.]+)/.exec(text);
  if (!m) return undefined;
  const divisor = Number(m[1]);
  const offset = Number(m[3]) * (m[2] === '-' ? -1 : 1);
  if (!(divisor > 0) || !Number.isFinite(offset)) return undefined;
  const layout = /\bNHWC\b/.test(text) ? 'NHWC' : /\bNCHW\b/.test(text) ? 'NCHW' : undefined;
  return { scale: 1 / divisor, offset, layout };
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Picks the image input and feature output from the session's metadata and the preprocessing hints. */
export function describeBackbone(
  file: string,
  session: Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>,
  header: OnnxHeader,
  sidecar: Sidecar | undefined,
): Omit<BackboneSpec, 'dim'> & { dim: 0 } {
  const fromMetadata = metadataPreprocessing(header);
  const hints: Sidecar = { ...fromMetadata, ...sidecar };
  const source: BackboneSpec['source'] = sidecar && (sidecar.scale !== undefined || sidecar.mean !== undefined) ? 'sidecar' : fromMetadata ? 'metadata' : sidecar ? 'sidecar' : 'default';

  const describe = (m: InferenceSession.ValueMetadata) => (m.isTensor ? `${m.name} ${m.type}[${m.shape.join(',')}]` : `${m.name} (not a tensor)`);
  const inputs = session.inputMetadata;
  let input: InferenceSession.ValueMetadata | undefined;
  if (hints.input !== undefined) {
    input = inputs.find((m) => m.name === hints.input);
    if (!input) throw new ModelError(file, `has no input named ${JSON.stringify(hints.input)} (inputs: ${inputs.map(describe).join('; ')})`);
  } else {
    input = inputs.find((m) => m.isTensor && m.type === 'float32' && m.shape.length === 4 && (m.shape[1] === 3 || m.shape[3] === 3));
    if (!input) throw new ModelError(file, `has no image-like input (a 4-D float32 tensor with 3 channels); inputs: ${inputs.map(describe).join('; ') || 'none'}`);
  }
  if (!input.isTensor || input.type !== 'float32' || input.shape.length !== 4) {
    throw new ModelError(file, `input ${describe(input)} is not image-like (a 4-D float32 tensor with 3 channels)`);
  }
  const others = inputs.filter((m) => m !== input);
  if (others.length > 0) throw new ModelError(file, `has inputs besides the image that Taxon cannot feed: ${others.map(describe).join('; ')}`);
  const shape = input.shape;
  const layout: Layout = hints.layout ?? (shape[1] === 3 ? 'NCHW' : 'NHWC');
  const channels = layout === 'NCHW' ? shape[1] : shape[3];
  if (typeof channels === 'number' && channels !== 3) throw new ModelError(file, `input ${describe(input)} has ${channels} channels in ${layout} layout; Taxon feeds RGB (3)`);
  const [h, w] = layout === 'NCHW' ? [shape[2], shape[3]] : [shape[1], shape[2]];
  let size: number;
  if (typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0) {
    if (h !== w) throw new ModelError(file, `input ${describe(input)} is not square (${h}×${w}); Taxon feeds square centre crops`);
    if (hints.size !== undefined && hints.size !== h) throw new ModelError(sidecarPath(file), `model sidecar: size ${hints.size} differs from the model's fixed input size ${h}`);
    size = h;
  } else if (hints.size !== undefined) {
    size = hints.size;
  } else {
    throw new ModelError(file, `input ${describe(input)} has no fixed height and width; give "size" in ${path.basename(sidecarPath(file))}`);
  }

  const outputs = session.outputMetadata;
  let output: InferenceSession.ValueMetadata | undefined;
  if (hints.embeddingOutput !== undefined) {
    output = outputs.find((m) => m.name === hints.embeddingOutput);
    if (!output) throw new ModelError(file, `has no output named ${JSON.stringify(hints.embeddingOutput)} (outputs: ${outputs.map(describe).join('; ')})`);
  } else {
    output =
      outputs.find((m) => /^(embedding|embeddings|features?)$/i.test(m.name)) ??
      (outputs.length === 1 ? outputs[0] : undefined);
    if (!output) throw new ModelError(file, `has several outputs and none is named "embedding"; name the feature output in ${path.basename(sidecarPath(file))} ("embeddingOutput"); outputs: ${outputs.map(describe).join('; ')}`);
  }
  if (output.isTensor && output.type !== 'float32') throw new ModelError(file, `output ${describe(output)} is not float32`);

  const triple = (x: number | number[] | undefined, fallback: number): [number, number, number] =>
    x === undefined ? [fallback, fallback, fallback] : typeof x === 'number' ? [x, x, x] : [x[0], x[1], x[2]];
  let scale: [number, number, number];
  let offset: [number, number, number];
  if (hints.mean !== undefined && hints.std !== undefined) {
    const unit = hints.mean.some((m) => m > 1) ? 1 : 255;
    scale = [0, 1, 2].map((c) => 1 / (unit * hints.std![c])) as [number, number, number];
    offset = [0, 1, 2].map((c) => -hints.mean![c] / hints.std![c]) as [number, number, number];
  } else if (hints.scale !== undefined || hints.offset !== undefined) {
    scale = triple(hints.scale, 1 / 255);
    offset = triple(hints.offset, 0);
  } else {
    // Nothing said: the convention of most exported torchvision/timm models.
    scale = [0, 1, 2].map((c) => 1 / (255 * IMAGENET_STD[c])) as [number, number, number];
    offset = [0, 1, 2].map((c) => -IMAGENET_MEAN[c] / IMAGENET_STD[c]) as [number, number, number];
  }
  return { file, sha256: '', input: input.name, layout, size, scale, offset, embeddingOutput: output.name, dim: 0, source };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
