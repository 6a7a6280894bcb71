/**
 * The queue's clusterings and cover graph kept on disk between labelling sessions
 * (`<cache folder>/selection/`). They are pure functions of the strategies' geometry, the pool's
 * rows and their parameters, and they cost a minute or more on a pool of 20,000 (k-means and every
 * pair of images in 256 dimensions); a session that opens the same pool again reads them instead.
 *
 * Each file holds its full key (what it was computed from, the geometry's fingerprint included)
 * and the arrays; a file whose key, sizes or values do not check out is ignored and computed again.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicWrite';
import { defaultCacheDir } from '../model/embeddingCache';

/** Where ClusterCache keeps what it computed (keys are its own: what the bytes were computed from). */
export interface ClusterStore {
  read(key: string): Uint8Array | undefined;
  write(key: string, bytes: Uint8Array): void;
}

/** Files kept in a store's folder; the oldest go first (a changed pool leaves its old ones behind). */
export const STORE_KEEP_FILES = 8;

/** A store in `dir`: one file per key (named by the key's hash), written atomically; failures to write are reported to `log`, never thrown (a cache is not data). */
export function folderStore(dir: string, log: (message: string) => void = () => undefined): ClusterStore {
  const file = (key: string) => path.join(dir, `${crypto.createHash('sha256').update(key).digest('hex').slice(0, 32)}.bin`);
  return {
    read(key) {
      try {
        return fs.readFileSync(file(key));
      } catch {
        return undefined;
      }
    },
    write(key, bytes) {
      try {
        fs.mkdirSync(dir, { recursive: true });
        writeFileAtomic(file(key), bytes);
        prune(dir);
      } catch (err) {
        log(`could not keep the queue's clustering in ${dir}: ${(err as Error).message}`);
      }
    },
  };
}

/** The store of a dataset's queue: `selection/` in its cache folder (default `<root>/.taxon`); what cannot be written is said on stderr. */
export function datasetStore(root: string, cacheDir?: string): ClusterStore {
  return folderStore(path.join(cacheDir ?? defaultCacheDir(root), 'selection'), (m) => console.warn(`taxon: ${m}`));
}

function prune(dir: string): void {
  const mtime = (f: string) => {
    try {
      return fs.statSync(path.join(dir, f)).mtimeMs;
    } catch {
      return -1; // removed meanwhile (another session pruning)
    }
  };
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .map((f) => ({ f, t: mtime(f) }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(STORE_KEEP_FILES)) fs.rmSync(path.join(dir, f), { force: true });
}

/** An in-memory store (tests). */
export function memoryStore(): ClusterStore & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return { files, read: (key) => files.get(key), write: (key, bytes) => void files.set(key, bytes) };
}

type Packed = Int32Array | Float32Array | Float64Array;
/** What pack stores besides its key: some numbers and typed arrays. */
export interface Unpacked {
  numbers: number[];
  arrays: Packed[];
}
const KINDS = { i32: Int32Array, f32: Float32Array, f64: Float64Array } as const;
type Kind = keyof typeof KINDS;
/**
 * Names the format and what computed the values (k-means, coverGraph, typicality as they are now):
 * a change to any of them must change this, so that files written before are computed again.
 */
const MAGIC = 'taxon-selection-1';

function kindOf(a: Packed): Kind {
  return a instanceof Int32Array ? 'i32' : a instanceof Float32Array ? 'f32' : 'f64';
}

/** The key, some numbers and typed arrays as bytes: a JSON header line, then each array 8-byte aligned. */
export function pack(key: string, numbers: number[], arrays: Packed[]): Uint8Array {
  const header = Buffer.from(`${JSON.stringify({ magic: MAGIC, key, numbers, arrays: arrays.map((a) => [kindOf(a), a.length]) })}\n`, 'utf8');
  let size = align(header.length);
  for (const a of arrays) size += align(a.byteLength);
  const out = new Uint8Array(size);
  out.set(header, 0);
  let at = align(header.length);
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += align(a.byteLength);
  }
  return out;
}

/** pack's inverse; undefined for bytes that are not a pack of this key (another key, truncated, garbage). */
export function unpack(bytes: Uint8Array, key: string): Unpacked | undefined {
  const end = bytes.indexOf(10);
  if (end < 0) return undefined;
  let header: { magic?: unknown; key?: unknown; numbers?: unknown; arrays?: unknown };
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(0, end)).toString('utf8'));
  } catch {
    return undefined;
  }
  if (header.magic !== MAGIC || header.key !== key || !Array.isArray(header.numbers) || !Array.isArray(header.arrays)) return undefined;
  if (!header.numbers.every((v) => typeof v === 'number' && Number.isFinite(v))) return undefined;
  const arrays: Packed[] = [];
  let at = align(end + 1);
  for (const spec of header.arrays as unknown[]) {
    if (!Array.isArray(spec) || !(spec[0] in KINDS) || !Number.isInteger(spec[1]) || spec[1] < 0) return undefined;
    const Type = KINDS[spec[0] as Kind];
    const byteLength = spec[1] * Type.BYTES_PER_ELEMENT;
    if (at + byteLength > bytes.length) return undefined;
    // a copy: the file's bytes need not be aligned for the type
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(at, at + byteLength));
    arrays.push(new Type(copy.buffer));
    at += align(byteLength);
  }
  return { numbers: header.numbers as number[], arrays };
}

function align(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/**
 * A fingerprint of every value of a matrix (two 32-bit FNV-style hashes over the float bits): a
 * cached clustering is read for an equal geometry, and for another one only by a hash collision of
 * negligible odds.
 */
export function dataFingerprint(X: { data: Float32Array; n: number; dim: number }): string {
  const words = new Uint32Array(X.data.buffer, X.data.byteOffset, X.data.length);
  let h = 0x811c9dc5;
  let g = 0x01000193;
  for (let i = 0; i < words.length; i++) {
    h = Math.imul(h ^ words[i], 0x01000193) >>> 0;
    g = Math.imul(g ^ words[i], 0x9e3779b1) >>> 0;
  }
  return `${X.n}x${X.dim}:${h.toString(16)}${g.toString(16)}`;
}
