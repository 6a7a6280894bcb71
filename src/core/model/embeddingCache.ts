/**
 * The embedding cache under `.taxon/`: one float16 vector per (model, image content), so a renamed
 * or moved image is never embedded twice and a changed one always is.
 *
 * Layout (all append-only; each run writes only files it created, so concurrent runs never touch
 * the same file, and readers merge everything they find):
 *   .taxon/.gitignore                          `*`
 *   .taxon/embeddings/<model sha256>/<run>.seg  48-byte header, then fixed-size records
 *                                               [content key: 16][float16 × dim][crc32: 4]
 *                                               (content key: the first 16 bytes of the image's SHA-256)
 *   .taxon/files/<run>.idx                      8-byte header, then blocks, one per write:
 *                                               [count u32][crc32 of the entries u32][count × entry]
 *                                               entry = [file key: 8][content key prefix: 8], the file
 *                                               key being 8 bytes of SHA-256 over the dataset-relative
 *                                               path, size, mtime and inode, so an unchanged file is not
 *                                               even re-read
 * A kill at any moment leaves at worst a partial last record (or block), which readers ignore:
 * the batch it belonged to is recomputed next time.
 *
 * For the 1280-d model that is 2,580 bytes per embedding plus 16¼ per file (2,596 in all). 16 bytes
 * of SHA-256 keep content keys collision-free for any realistic number of images (a collision
 * among 10^9 images has odds of about 10^-21). The file index names its content by an 8-byte
 * prefix; a prefix shared by two cached keys is treated as unknown (the file is hashed again).
 * Older caches (`TAXONEM1` segments with 32-byte keys) are still read, and merged into the new
 * form; the old text file lists (`files/*.txt`) are ignored: those files are hashed again once.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { DatasetError } from '../diagnostics';
import { decodeFloat16, encodeFloat16 } from './float16';

const MAGIC = Buffer.from('TAXONEM2', 'latin1');
/** The first format: 32-byte keys. Read (keys cut to 16 bytes), never written. */
const MAGIC_V1 = Buffer.from('TAXONEM1', 'latin1');
const HEADER_BYTES = 48; // magic 8, dim u32, reserved u32, model sha256 32
const KEY_BYTES = 16;
const KEY_BYTES_V1 = 32;
const FILES_MAGIC = Buffer.from('TAXONFI1', 'latin1');
const FILE_KEY_BYTES = 8;
const FILE_ENTRY_BYTES = 16;
const BLOCK_HEADER_BYTES = 8;
/** Segments last written this long ago may be merged into one (never one a running writer still appends to). */
const MERGE_AFTER_MS = 10 * 60 * 1000;
const MERGE_WHEN_MORE_THAN = 32;
/** A file modified this close to when it was hashed could change again within the same mtime tick. */
const RACY_MS = 2000;

export function defaultCacheDir(root: string): string {
  return path.join(root, '.taxon');
}

/** Creates the cache folder with its `.gitignore`; a DatasetError naming the folder when it cannot be written. */
export function prepareCacheDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const ignore = path.join(dir, '.gitignore');
    if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, '*\n');
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    throw new DatasetError(dir, `cache folder cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export interface FileStat {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface CacheRecord {
  /** SHA-256 of the image bytes, hex (only the first 16 bytes are kept as the key). */
  hash: string;
  embedding: Float32Array;
}

interface Segment {
  file: string;
  /** 16, or 32 in a first-format segment. */
  keyBytes: number;
}

/** The cache's key for an image hash: its first 16 bytes, hex. */
export function contentKey(hash: string): string {
  return hash.slice(0, 2 * KEY_BYTES).toLowerCase();
}

/** 8 bytes of SHA-256 over a file's dataset-relative path, size, mtime and inode (hex). */
export function fileKey(file: string, stat: FileStat): string {
  return createHash('sha256').update(`${file}\0${stat.size}\0${stat.mtimeMs}\0${stat.ino}`).digest('hex').slice(0, 2 * FILE_KEY_BYTES);
}

export class EmbeddingCache {
  private readonly recordBytes: number;
  /** content key → segment number · 2^36 + byte offset of the record. */
  private readonly index = new Map<string, number>();
  /** 8-byte prefix of a content key → the key, or '' when two cached keys share the prefix. */
  private readonly prefixes = new Map<string, string>();
  private readonly segments: Segment[] = [];
  private readonly readers = new Map<number, number>();
  private writer?: { fd: number; segment: number; offset: number };
  private filesWriter?: number;
  /** file key → content key prefix (8 bytes, hex). */
  private readonly files = new Map<string, string>();
  private readonly runId = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`;

  private constructor(
    readonly dir: string,
    readonly modelSha256: string,
    readonly dim: number,
  ) {
    this.recordBytes = KEY_BYTES + 2 * dim + 4;
  }

  /** Opens (creating if needed) the cache in `dir` for one model and reads every segment and file index there. */
  static async open(dir: string, model: { sha256: string; dim?: number }): Promise<EmbeddingCache> {
    if (!/^[0-9a-f]{64}$/.test(model.sha256)) throw new Error(`model sha256 must be 64 hex digits, got ${model.sha256}`);
    prepareCacheDir(dir);
    const cache = new EmbeddingCache(dir, model.sha256, model.dim ?? cachedDim(path.join(dir, 'embeddings', model.sha256)));
    fs.mkdirSync(cache.segmentDir, { recursive: true });
    fs.mkdirSync(cache.filesDir, { recursive: true });
    await cache.mergeOldSegments();
    await cache.readSegments();
    await cache.readFileIndexes();
    return cache;
  }

  get segmentDir(): string {
    return path.join(this.dir, 'embeddings', this.modelSha256);
  }

  private get filesDir(): string {
    return path.join(this.dir, 'files');
  }

  /** Number of embeddings cached for this model. */
  get size(): number {
    return this.index.size;
  }

  has(hash: string): boolean {
    return this.index.has(contentKey(hash));
  }

  /** The cached embedding of an image (by content hash or key), decoded to float32. */
  get(hash: string, out = new Float32Array(this.dim)): Float32Array | undefined {
    const at = this.index.get(contentKey(hash));
    if (at === undefined) return undefined;
    const segment = Math.floor(at / 2 ** 36);
    const offset = at % 2 ** 36;
    const buf = Buffer.allocUnsafe(2 * this.dim);
    fs.readSync(this.reader(segment), buf, 0, buf.length, offset + this.segments[segment].keyBytes);
    return decodeFloat16(new Uint16Array(buf.buffer, buf.byteOffset, this.dim), out);
  }

  /** Appends embeddings in one write (a kill cuts at most this batch). Already-cached hashes are skipped. */
  add(records: CacheRecord[]): void {
    const fresh = records.filter((r) => !this.index.has(contentKey(r.hash)));
    if (fresh.length === 0) return;
    const w = this.openWriter();
    const buf = Buffer.allocUnsafe(fresh.length * this.recordBytes);
    const seen = new Set<string>();
    let n = 0;
    for (const r of fresh) {
      const key = contentKey(r.hash);
      if (seen.has(key)) continue;
      if (!/^[0-9a-f]{32}$/.test(key)) throw new RangeError(`image hash must be hex, at least 32 digits: ${r.hash}`);
      if (r.embedding.length !== this.dim) throw new RangeError(`embedding has ${r.embedding.length} values, the cache holds ${this.dim}`);
      seen.add(key);
      const at = n * this.recordBytes;
      buf.write(key, at, KEY_BYTES, 'hex');
      encodeFloat16(r.embedding, new Uint16Array(buf.buffer, buf.byteOffset + at + KEY_BYTES, this.dim));
      buf.writeUInt32LE(crc32(buf.subarray(at, at + KEY_BYTES + 2 * this.dim)), at + KEY_BYTES + 2 * this.dim);
      n++;
    }
    const bytes = buf.subarray(0, n * this.recordBytes);
    fs.writeSync(w.fd, bytes);
    let i = 0;
    for (const key of seen) this.indexKey(key, w.segment * 2 ** 36 + w.offset + i++ * this.recordBytes);
    w.offset += bytes.length;
  }

  /**
   * The content key (16 bytes of the image's SHA-256, hex; `has` and `get` take it) recorded for
   * a file whose dataset-relative path, size, mtime and inode are unchanged since it was hashed,
   * when this model has its embedding; else undefined (read and hash the file).
   */
  knownHash(file: string, stat: FileStat): string | undefined {
    const prefix = this.files.get(fileKey(file, stat));
    if (prefix === undefined) return undefined;
    return this.prefixes.get(prefix) || undefined;
  }

  /**
   * Records which content a file (dataset-relative path) had, so the next run can skip reading it;
   * racily fresh files are not recorded. One write, one checksummed block.
   */
  rememberFiles(entries: Array<{ file: string; stat: FileStat; hash: string }>, now = Date.now()): void {
    const block = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + entries.length * FILE_ENTRY_BYTES);
    let n = 0;
    for (const { file, stat, hash } of entries) {
      if (stat.mtimeMs > now - RACY_MS) continue;
      const key = fileKey(file, stat);
      const prefix = contentKey(hash).slice(0, 2 * FILE_KEY_BYTES);
      if (this.files.get(key) === prefix) continue;
      this.files.set(key, prefix);
      const at = BLOCK_HEADER_BYTES + n * FILE_ENTRY_BYTES;
      block.write(key, at, FILE_KEY_BYTES, 'hex');
      block.write(prefix, at + FILE_KEY_BYTES, FILE_ENTRY_BYTES - FILE_KEY_BYTES, 'hex');
      n++;
    }
    if (n === 0) return;
    const end = BLOCK_HEADER_BYTES + n * FILE_ENTRY_BYTES;
    block.writeUInt32LE(n, 0);
    block.writeUInt32LE(crc32(block.subarray(BLOCK_HEADER_BYTES, end)), 4);
    if (this.filesWriter === undefined) {
      this.filesWriter = fs.openSync(path.join(this.filesDir, `${this.runId}.idx`), 'ax');
      fs.writeSync(this.filesWriter, FILES_MAGIC);
    }
    fs.writeSync(this.filesWriter, block, 0, end);
  }

  /** Flushes to disk and closes every file. The cache stays readable even if this never runs. */
  close(): void {
    if (this.writer) {
      try {
        fs.fdatasyncSync(this.writer.fd);
      } catch {
        // not every filesystem syncs; the data is written either way
      }
    }
    if (this.filesWriter !== undefined) fs.closeSync(this.filesWriter);
    this.filesWriter = undefined;
    for (const fd of this.readers.values()) fs.closeSync(fd);
    this.readers.clear();
    this.writer = undefined;
  }

  /** Bytes on disk of this model's segments (for size reports). */
  segmentBytes(): number {
    let total = 0;
    for (const name of safeReaddir(this.segmentDir)) if (name.endsWith('.seg')) total += safeSize(path.join(this.segmentDir, name));
    return total;
  }

  /** Bytes on disk of the file indexes (shared by every model). */
  fileIndexBytes(): number {
    let total = 0;
    for (const name of safeReaddir(this.filesDir)) if (name.endsWith('.idx')) total += safeSize(path.join(this.filesDir, name));
    return total;
  }

  private indexKey(key: string, at: number): void {
    this.index.set(key, at);
    const prefix = key.slice(0, 2 * FILE_KEY_BYTES);
    const known = this.prefixes.get(prefix);
    this.prefixes.set(prefix, known === undefined || known === key ? key : '');
  }

  private openWriter(): { fd: number; segment: number; offset: number } {
    if (this.writer) return this.writer;
    const file = path.join(this.segmentDir, `${this.runId}.seg`);
    const fd = fs.openSync(file, 'ax+');
    fs.writeSync(fd, this.header());
    const segment = this.segments.push({ file, keyBytes: KEY_BYTES }) - 1;
    this.readers.set(segment, fd);
    this.writer = { fd, segment, offset: HEADER_BYTES };
    return this.writer;
  }

  private header(magic = MAGIC): Buffer {
    const h = Buffer.alloc(HEADER_BYTES);
    magic.copy(h, 0);
    h.writeUInt32LE(this.dim, 8);
    h.write(this.modelSha256, 16, 32, 'hex');
    return h;
  }

  /** Bytes per key in a segment with this header (16, or 32 for the first format); 0 when it is not this model's. */
  private keyBytesOf(head: Buffer): number {
    if (head.length < HEADER_BYTES) return 0;
    if (head.subarray(0, HEADER_BYTES).equals(this.header())) return KEY_BYTES;
    if (head.subarray(0, HEADER_BYTES).equals(this.header(MAGIC_V1))) return KEY_BYTES_V1;
    return 0;
  }

  private reader(segment: number): number {
    let fd = this.readers.get(segment);
    if (fd === undefined) {
      fd = fs.openSync(this.segments[segment].file, 'r');
      this.readers.set(segment, fd);
    }
    return fd;
  }

  /** Indexes every whole, checksummed record of every segment; a torn tail or a foreign file is ignored. */
  private async readSegments(): Promise<void> {
    const names = safeReaddir(this.segmentDir).filter((n) => n.endsWith('.seg')).sort();
    for (const name of names) {
      const file = path.join(this.segmentDir, name);
      let handle: fs.promises.FileHandle;
      try {
        handle = await fs.promises.open(file, 'r');
      } catch {
        continue; // merged away by another run meanwhile
      }
      try {
        const head = Buffer.alloc(HEADER_BYTES);
        const { bytesRead } = await handle.read(head, 0, HEADER_BYTES, 0);
        const keyBytes = bytesRead === HEADER_BYTES ? this.keyBytesOf(head) : 0;
        if (keyBytes === 0) continue;
        const recordBytes = keyBytes + 2 * this.dim + 4;
        const segment = this.segments.push({ file, keyBytes }) - 1;
        const chunkRecords = Math.max(1, Math.floor((4 << 20) / recordBytes));
        const buf = Buffer.allocUnsafe(chunkRecords * recordBytes);
        let position = HEADER_BYTES;
        for (;;) {
          const { bytesRead: n } = await handle.read(buf, 0, buf.length, position);
          const whole = Math.floor(n / recordBytes);
          for (let i = 0; i < whole; i++) {
            const at = i * recordBytes;
            const payloadEnd = at + recordBytes - 4;
            if (crc32(buf.subarray(at, payloadEnd)) !== buf.readUInt32LE(payloadEnd)) continue;
            this.indexKey(buf.toString('hex', at, at + KEY_BYTES), segment * 2 ** 36 + position + at);
          }
          position += whole * recordBytes;
          if (n < buf.length) break;
        }
      } finally {
        await handle.close();
      }
    }
  }

  /** Reads every run's file index up to its first incomplete or damaged block (a kill's torn tail). */
  private async readFileIndexes(): Promise<void> {
    const names = safeReaddir(this.filesDir).filter((n) => n.endsWith('.idx')).sort();
    for (const name of names) {
      let data: Buffer;
      try {
        data = await fs.promises.readFile(path.join(this.filesDir, name));
      } catch {
        continue;
      }
      if (data.length < FILES_MAGIC.length || !data.subarray(0, FILES_MAGIC.length).equals(FILES_MAGIC)) continue;
      let at = FILES_MAGIC.length;
      while (at + BLOCK_HEADER_BYTES <= data.length) {
        const count = data.readUInt32LE(at);
        const start = at + BLOCK_HEADER_BYTES;
        const end = start + count * FILE_ENTRY_BYTES;
        if (count === 0 || end > data.length || crc32(data.subarray(start, end)) !== data.readUInt32LE(at + 4)) break;
        for (let e = start; e < end; e += FILE_ENTRY_BYTES) {
          this.files.set(data.toString('hex', e, e + FILE_KEY_BYTES), data.toString('hex', e + FILE_KEY_BYTES, e + FILE_ENTRY_BYTES));
        }
        at = end;
      }
    }
  }

  /**
   * Many runs leave many small segments; when there are too many, the ones nobody has written to
   * for a while are merged into one (written aside, then renamed into place, then the old ones
   * removed). A reader that misses a record during the swap only recomputes it. First-format
   * segments are rewritten in the current format on the way.
   */
  private async mergeOldSegments(): Promise<void> {
    const now = Date.now();
    const names = safeReaddir(this.segmentDir).filter((n) => n.endsWith('.seg'));
    if (names.length <= MERGE_WHEN_MORE_THAN) return;
    const old = names.filter((n) => {
      try {
        return now - fs.statSync(path.join(this.segmentDir, n)).mtimeMs > MERGE_AFTER_MS;
      } catch {
        return false;
      }
    });
    if (old.length < 2) return;
    const seen = new Set<string>();
    const parts: Buffer[] = [this.header()];
    for (const name of old) {
      let data: Buffer;
      try {
        data = await fs.promises.readFile(path.join(this.segmentDir, name));
      } catch {
        continue;
      }
      const keyBytes = this.keyBytesOf(data);
      if (keyBytes === 0) continue;
      const recordBytes = keyBytes + 2 * this.dim + 4;
      for (let at = HEADER_BYTES; at + recordBytes <= data.length; at += recordBytes) {
        const payloadEnd = at + recordBytes - 4;
        if (crc32(data.subarray(at, payloadEnd)) !== data.readUInt32LE(payloadEnd)) continue;
        const key = data.toString('hex', at, at + KEY_BYTES);
        if (seen.has(key)) continue;
        seen.add(key);
        if (keyBytes === KEY_BYTES) {
          parts.push(data.subarray(at, at + recordBytes));
        } else {
          const record = Buffer.allocUnsafe(this.recordBytes);
          data.copy(record, 0, at, at + KEY_BYTES);
          data.copy(record, KEY_BYTES, at + keyBytes, payloadEnd);
          record.writeUInt32LE(crc32(record.subarray(0, this.recordBytes - 4)), this.recordBytes - 4);
          parts.push(record);
        }
      }
    }
    const merged = path.join(this.segmentDir, `${this.runId}-merged.seg`);
    const tmp = merged + '.tmp';
    await fs.promises.writeFile(tmp, Buffer.concat(parts));
    await fs.promises.rename(tmp, merged);
    for (const name of old) await fs.promises.rm(path.join(this.segmentDir, name), { force: true });
  }
}

/** The embedding length written in the first readable segment header; 0 when nothing is cached yet. */
function cachedDim(segmentDir: string): number {
  for (const name of safeReaddir(segmentDir)) {
    if (!name.endsWith('.seg')) continue;
    try {
      const fd = fs.openSync(path.join(segmentDir, name), 'r');
      const head = Buffer.alloc(HEADER_BYTES);
      const n = fs.readSync(fd, head, 0, HEADER_BYTES, 0);
      fs.closeSync(fd);
      const magic = head.subarray(0, MAGIC.length);
      if (n === HEADER_BYTES && (magic.equals(MAGIC) || magic.equals(MAGIC_V1))) return head.readUInt32LE(8);
    } catch {
      // try the next one
    }
  }
  return 0;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function safeSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
