/**
 * The embedding cache under `.taxon/`: one float16 vector per (model, image content), so a renamed
 * or moved image is never embedded twice and a changed one always is.
 *
 * Layout (all append-only; each run writes only files it created, so concurrent runs never touch
 * the same file, and readers merge everything they find):
 *   .taxon/.gitignore                          `*`
 *   .taxon/embeddings/<model sha256>/<run>.seg  48-byte header, then fixed-size records
 *                                               [image sha256: 32][float16 × dim][crc32: 4]
 *   .taxon/files/<run>.txt                      lines `<image sha256> <size> <mtimeMs> <ino> <JSON path>`
 *                                               so an unchanged file is not even re-read
 * A kill at any moment leaves at worst a partial last record (or line), which readers ignore:
 * the batch it belonged to is recomputed next time.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { DatasetError } from '../diagnostics';
import { decodeFloat16, encodeFloat16 } from './float16';

const MAGIC = Buffer.from('TAXONEM1', 'latin1');
const HEADER_BYTES = 48; // magic 8, dim u32, reserved u32, model sha256 32
const KEY_BYTES = 32;
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

interface FileEntry {
  hash: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface FileStat {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface CacheRecord {
  /** SHA-256 of the image bytes, hex. */
  hash: string;
  embedding: Float32Array;
}

export class EmbeddingCache {
  private readonly recordBytes: number;
  /** image hash → segment number · 2^36 + byte offset of the record. */
  private readonly index = new Map<string, number>();
  private readonly segments: string[] = [];
  private readonly readers = new Map<number, number>();
  private writer?: { fd: number; segment: number; offset: number };
  private filesWriter?: number;
  private readonly files = new Map<string, FileEntry>();
  private readonly runId = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`;

  private constructor(
    readonly dir: string,
    readonly modelSha256: string,
    readonly dim: number,
  ) {
    this.recordBytes = KEY_BYTES + 2 * dim + 4;
  }

  /** Opens (creating if needed) the cache in `dir` for one model and reads every segment and file list there. */
  static async open(dir: string, model: { sha256: string; dim?: number }): Promise<EmbeddingCache> {
    if (!/^[0-9a-f]{64}$/.test(model.sha256)) throw new Error(`model sha256 must be 64 hex digits, got ${model.sha256}`);
    prepareCacheDir(dir);
    const cache = new EmbeddingCache(dir, model.sha256, model.dim ?? cachedDim(path.join(dir, 'embeddings', model.sha256)));
    fs.mkdirSync(cache.segmentDir, { recursive: true });
    fs.mkdirSync(cache.filesDir, { recursive: true });
    await cache.mergeOldSegments();
    await cache.readSegments();
    await cache.readFileLists();
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
    return this.index.has(hash);
  }

  /** The cached embedding of an image (by content hash), decoded to float32. */
  get(hash: string, out = new Float32Array(this.dim)): Float32Array | undefined {
    const at = this.index.get(hash);
    if (at === undefined) return undefined;
    const segment = Math.floor(at / 2 ** 36);
    const offset = at % 2 ** 36;
    const buf = Buffer.allocUnsafe(2 * this.dim);
    fs.readSync(this.reader(segment), buf, 0, buf.length, offset + KEY_BYTES);
    return decodeFloat16(new Uint16Array(buf.buffer, buf.byteOffset, this.dim), out);
  }

  /** Appends embeddings in one write (a kill cuts at most this batch). Already-cached hashes are skipped. */
  add(records: CacheRecord[]): void {
    const fresh = records.filter((r) => !this.index.has(r.hash));
    if (fresh.length === 0) return;
    const w = this.openWriter();
    const buf = Buffer.allocUnsafe(fresh.length * this.recordBytes);
    const seen = new Set<string>();
    let n = 0;
    for (const r of fresh) {
      if (seen.has(r.hash)) continue;
      seen.add(r.hash);
      if (r.embedding.length !== this.dim) throw new RangeError(`embedding has ${r.embedding.length} values, the cache holds ${this.dim}`);
      const at = n * this.recordBytes;
      buf.write(r.hash, at, KEY_BYTES, 'hex');
      encodeFloat16(r.embedding, new Uint16Array(buf.buffer, buf.byteOffset + at + KEY_BYTES, this.dim));
      buf.writeUInt32LE(crc32(buf.subarray(at, at + KEY_BYTES + 2 * this.dim)), at + KEY_BYTES + 2 * this.dim);
      n++;
    }
    const bytes = buf.subarray(0, n * this.recordBytes);
    fs.writeSync(w.fd, bytes);
    let i = 0;
    for (const hash of seen) this.index.set(hash, w.segment * 2 ** 36 + w.offset + i++ * this.recordBytes);
    w.offset += bytes.length;
  }

  /** The content hash recorded for a file whose size, mtime and inode are unchanged since it was hashed. */
  knownHash(file: string, stat: FileStat): string | undefined {
    const e = this.files.get(file);
    if (!e || e.size !== stat.size || e.mtimeMs !== stat.mtimeMs || e.ino !== stat.ino) return undefined;
    return e.hash;
  }

  /** Records which content a file had, so the next run can skip reading it; racily fresh files are not recorded. */
  rememberFiles(entries: Array<{ file: string; stat: FileStat; hash: string }>, now = Date.now()): void {
    let text = '';
    for (const { file, stat, hash } of entries) {
      if (stat.mtimeMs > now - RACY_MS) continue;
      const known = this.files.get(file);
      if (known && known.hash === hash && known.size === stat.size && known.mtimeMs === stat.mtimeMs && known.ino === stat.ino) continue;
      this.files.set(file, { hash, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino });
      text += `${hash} ${stat.size} ${stat.mtimeMs} ${stat.ino} ${JSON.stringify(file)}\n`;
    }
    if (!text) return;
    this.filesWriter ??= fs.openSync(path.join(this.filesDir, `${this.runId}.txt`), 'ax');
    fs.writeSync(this.filesWriter, text);
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

  private openWriter(): { fd: number; segment: number; offset: number } {
    if (this.writer) return this.writer;
    const file = path.join(this.segmentDir, `${this.runId}.seg`);
    const fd = fs.openSync(file, 'ax+');
    fs.writeSync(fd, this.header());
    const segment = this.segments.push(file) - 1;
    this.readers.set(segment, fd);
    this.writer = { fd, segment, offset: HEADER_BYTES };
    return this.writer;
  }

  private header(): Buffer {
    const h = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(h, 0);
    h.writeUInt32LE(this.dim, 8);
    h.write(this.modelSha256, 16, 32, 'hex');
    return h;
  }

  private reader(segment: number): number {
    let fd = this.readers.get(segment);
    if (fd === undefined) {
      fd = fs.openSync(this.segments[segment], 'r');
      this.readers.set(segment, fd);
    }
    return fd;
  }

  /** Indexes every whole, checksummed record of every segment; a torn tail or a foreign file is ignored. */
  private async readSegments(): Promise<void> {
    const names = safeReaddir(this.segmentDir).filter((n) => n.endsWith('.seg')).sort();
    const expected = this.header();
    const chunkRecords = Math.max(1, Math.floor((4 << 20) / this.recordBytes));
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
        if (bytesRead < HEADER_BYTES || !head.equals(expected)) continue;
        const segment = this.segments.push(file) - 1;
        const buf = Buffer.allocUnsafe(chunkRecords * this.recordBytes);
        let position = HEADER_BYTES;
        for (;;) {
          const { bytesRead: n } = await handle.read(buf, 0, buf.length, position);
          const whole = Math.floor(n / this.recordBytes);
          for (let i = 0; i < whole; i++) {
            const at = i * this.recordBytes;
            const payloadEnd = at + KEY_BYTES + 2 * this.dim;
            if (crc32(buf.subarray(at, payloadEnd)) !== buf.readUInt32LE(payloadEnd)) continue;
            this.index.set(buf.toString('hex', at, at + KEY_BYTES), segment * 2 ** 36 + position + at);
          }
          position += whole * this.recordBytes;
          if (n < buf.length) break;
        }
      } finally {
        await handle.close();
      }
    }
  }

  private async readFileLists(): Promise<void> {
    const names = safeReaddir(this.filesDir).filter((n) => n.endsWith('.txt')).sort();
    for (const name of names) {
      let text: string;
      try {
        text = await fs.promises.readFile(path.join(this.filesDir, name), 'utf8');
      } catch {
        continue;
      }
      const end = text.lastIndexOf('\n'); // a line without its newline was cut by a kill
      if (end < 0) continue;
      for (const line of text.slice(0, end).split('\n')) {
        const m = /^([0-9a-f]{64}) (\d+) ([0-9.e+]+) (\d+) (".*")$/.exec(line);
        if (!m) continue;
        let file: string;
        try {
          file = JSON.parse(m[5]);
        } catch {
          continue;
        }
        this.files.set(file, { hash: m[1], size: Number(m[2]), mtimeMs: Number(m[3]), ino: Number(m[4]) });
      }
    }
  }

  /**
   * Many runs leave many small segments; when there are too many, the ones nobody has written to
   * for a while are merged into one (written aside, then renamed into place, then the old ones
   * removed). A reader that misses a record during the swap only recomputes it.
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
    const expected = this.header();
    const seen = new Set<string>();
    const parts: Buffer[] = [expected];
    for (const name of old) {
      let data: Buffer;
      try {
        data = await fs.promises.readFile(path.join(this.segmentDir, name));
      } catch {
        continue;
      }
      if (data.length < HEADER_BYTES || !data.subarray(0, HEADER_BYTES).equals(expected)) continue;
      for (let at = HEADER_BYTES; at + this.recordBytes <= data.length; at += this.recordBytes) {
        const payloadEnd = at + KEY_BYTES + 2 * this.dim;
        if (crc32(data.subarray(at, payloadEnd)) !== data.readUInt32LE(payloadEnd)) continue;
        const key = data.toString('hex', at, at + KEY_BYTES);
        if (seen.has(key)) continue;
        seen.add(key);
        parts.push(data.subarray(at, at + this.recordBytes));
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
      if (n === HEADER_BYTES && head.subarray(0, MAGIC.length).equals(MAGIC)) return head.readUInt32LE(8);
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
