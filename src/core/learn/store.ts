/**
 * Trained LCPN classifiers on disk, under the dataset's `.taxon/classifiers/`: `lcpn.json` (a
 * header: format version, backbone model hash, taxonomy hash, preprocessing, α, one entry per
 * classifier named by its parent's path) and `lcpn.bin` (Float32 weights, then the mean vector,
 * then the input projection if there is one).
 * It is a cache: a corrupt, old or unreadable file is reported and rebuilt, never trusted.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicWrite';
import { ROOT, type Taxonomy } from '../taxonomy';
import { LcpnClassifier, type HeadKind, type NodeClassifier } from './hierarchy';
import { TaxonModel } from './model';
import type { Preprocessing } from './softmax';

export const CLASSIFIER_FORMAT = 'taxon-lcpn';
/** 2: the input projection (softmax.ts `Preprocessing.projection`) and the embeddings' dimension. */
export const CLASSIFIER_VERSION = 2;

interface Header {
  format: string;
  version: number;
  modelSha256: string;
  taxonomyHash: string;
  /** The classifiers' input dimension. */
  dim: number;
  /** The embeddings' dimension (the mean's and each projection row's length). */
  inputDim: number;
  alpha: number;
  tau: number;
  scale: number;
  meanLength: number;
  projectionLength: number;
  bin: { bytes: number; sha256: string };
  classifiers: Array<{ parent: string[]; children: string[]; kind: HeadKind; trained: boolean; examples: number; iterations: number; offset: number; length: number }>;
  trainedAt: string;
}

export type LoadResult =
  | { status: 'ok'; model: TaxonModel; /** Parents to retrain because the taxonomy changed around them. */ stale: number[]; /** Saved classifiers whose node no longer exists. */ dropped: number }
  | { status: 'missing' }
  | { status: 'rejected'; reason: string };

export function classifierDir(cacheDir: string): string {
  return path.join(cacheDir, 'classifiers');
}

/** Hash of the taxonomy's structure: every node's path, in tree order. */
export function taxonomyHash(t: Taxonomy): string {
  const h = createHash('sha256');
  for (const id of t.walk()) h.update(JSON.stringify(t.path(id))).update('\n');
  return h.digest('hex');
}

export function saveClassifiers(cacheDir: string, model: TaxonModel, modelSha256: string): string {
  if (!model.lcpn) throw new Error('only LCPN models are saved');
  const t = model.taxonomy;
  const dir = classifierDir(cacheDir);
  fs.mkdirSync(dir, { recursive: true });
  const entries: Header['classifiers'] = [];
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const c of model.lcpn.classifiers.values()) {
    entries.push({
      parent: c.parent === ROOT ? [] : t.path(c.parent),
      children: c.children.map((k) => t.nodes[k].name),
      kind: c.kind,
      trained: c.trained,
      examples: c.examples,
      iterations: c.iterations,
      offset,
      length: c.weights.length,
    });
    parts.push(c.weights);
    offset += c.weights.length;
  }
  const pre = model.preprocessing;
  const projection = pre.projection ?? new Float32Array(0);
  parts.push(pre.mean, projection);
  const total = offset + pre.mean.length + projection.length;
  const floats = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    floats.set(p, o);
    o += p.length;
  }
  const bin = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
  const header: Header = {
    format: CLASSIFIER_FORMAT,
    version: CLASSIFIER_VERSION,
    modelSha256,
    taxonomyHash: taxonomyHash(t),
    dim: model.dim,
    inputDim: pre.projection ? pre.projection.length / model.dim : model.dim,
    alpha: model.alpha,
    tau: model.decoder.tau,
    scale: pre.scale,
    meanLength: pre.mean.length,
    projectionLength: projection.length,
    bin: { bytes: bin.length, sha256: createHash('sha256').update(bin).digest('hex') },
    classifiers: entries,
    trainedAt: new Date().toISOString(),
  };
  // The weights first: a header never points at a .bin that is not there yet.
  writeFileAtomic(path.join(dir, 'lcpn.bin'), bin);
  writeFileAtomic(path.join(dir, 'lcpn.json'), JSON.stringify(header));
  return dir;
}

/**
 * Loads saved classifiers for this taxonomy and backbone model. A file from another model is
 * rejected with the reason; a corrupt or old one too (the caller retrains). When the taxonomy
 * changed, classifiers whose parent and children are unchanged are kept, the others are listed
 * in `stale` (untrained until retrained) and those of removed nodes are dropped.
 */
export function loadClassifiers(cacheDir: string, taxonomy: Taxonomy, modelSha256: string): LoadResult {
  const dir = classifierDir(cacheDir);
  const headerFile = path.join(dir, 'lcpn.json');
  if (!fs.existsSync(headerFile)) return { status: 'missing' };
  let header: Header;
  let bin: Buffer;
  try {
    header = JSON.parse(fs.readFileSync(headerFile, 'utf8')) as Header;
    bin = fs.readFileSync(path.join(dir, 'lcpn.bin'));
  } catch (err) {
    return { status: 'rejected', reason: `${headerFile} cannot be read (${(err as Error).message}); the classifiers will be retrained` };
  }
  const problem = checkHeader(header, bin);
  if (problem) return { status: 'rejected', reason: `${headerFile}: ${problem}; the classifiers will be retrained` };
  if (header.modelSha256 !== modelSha256) {
    return {
      status: 'rejected',
      reason: `${headerFile} was trained on embeddings of another model (sha256 ${header.modelSha256.slice(0, 12)}…, not ${modelSha256.slice(0, 12)}…); its classifiers cannot be used and will be retrained`,
    };
  }
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const meanStart = floats.length - header.projectionLength - header.meanLength;
  const pre: Preprocessing = { mean: floats.slice(meanStart, meanStart + header.meanLength), scale: header.scale };
  if (header.projectionLength > 0) pre.projection = floats.slice(meanStart + header.meanLength);
  const model = new TaxonModel(taxonomy, 'lcpn', pre, header.dim, header.alpha, header.tau);
  const lcpn = new LcpnClassifier(taxonomy, header.dim);
  model.lcpn = lcpn;
  let dropped = 0;
  const D = header.dim + 1;
  for (const e of header.classifiers) {
    const parent = e.parent.length === 0 ? ROOT : taxonomy.find(e.parent);
    if (parent === undefined) {
      dropped++;
      continue;
    }
    const children = [...taxonomy.childrenOf(parent)];
    const same = children.length === e.children.length && children.every((c, i) => taxonomy.nodes[c].name === e.children[i]);
    if (!same) continue; // stale: retrained below by the caller
    const weights = floats.slice(e.offset, e.offset + e.length);
    if (e.trained && weights.length !== children.length * D) return { status: 'rejected', reason: `${headerFile}: a classifier has the wrong number of weights; the classifiers will be retrained` };
    const c: NodeClassifier = { parent, children, kind: e.kind, weights, trained: e.trained, examples: e.examples, iterations: e.iterations };
    lcpn.classifiers.set(parent, c);
  }
  const stale = lcpn.parents().filter((p) => !lcpn.classifiers.has(p));
  return { status: 'ok', model, stale, dropped };
}

function checkHeader(h: Header, bin: Buffer): string | undefined {
  if (typeof h !== 'object' || h === null || h.format !== CLASSIFIER_FORMAT) return 'is not a Taxon classifier file';
  if (h.version !== CLASSIFIER_VERSION) return `has format version ${String(h.version)}, this Taxon reads version ${CLASSIFIER_VERSION}`;
  if (typeof h.modelSha256 !== 'string' || !Number.isInteger(h.dim) || h.dim <= 0 || !Array.isArray(h.classifiers)) return 'has a malformed header';
  if (!(h.alpha >= 0 && h.alpha < 1) || !(h.scale > 0) || !(h.tau >= 0 && h.tau <= 1)) return 'has out-of-range settings';
  if (!h.bin || bin.length !== h.bin.bytes || createHash('sha256').update(bin).digest('hex') !== h.bin.sha256) return 'weights file does not match its header (truncated or changed)';
  if (!Number.isInteger(h.inputDim) || h.inputDim <= 0 || !Number.isInteger(h.projectionLength)) return 'has a malformed header';
  const projected = h.projectionLength > 0;
  if (projected ? h.projectionLength !== h.dim * h.inputDim : h.projectionLength !== 0 || h.inputDim !== h.dim) return 'has a projection that does not match its dimensions';
  const extra = h.meanLength + h.projectionLength;
  if (bin.length % 4 !== 0 || !(h.meanLength === 0 || h.meanLength === h.inputDim) || extra * 4 > bin.length) return 'has a malformed weights file';
  const floats = bin.length / 4;
  for (const e of h.classifiers) {
    if (!Array.isArray(e.parent) || !Array.isArray(e.children) || !Number.isInteger(e.offset) || !Number.isInteger(e.length) || e.offset < 0 || e.offset + e.length > floats - extra) {
      return 'has a malformed classifier entry';
    }
  }
  const view = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  for (const v of view) if (!Number.isFinite(v)) return 'has non-finite weights';
  return undefined;
}

/** sha256 of a file (the backbone model): the key that ties classifiers to the embeddings they were trained on. */
export function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
