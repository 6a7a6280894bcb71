/**
 * Writes a dataset's label changes to its label file safely: journal first (the change is
 * confirmed once its journal line is fsynced), then the file, re-read and checked against what
 * Taxon last saw so a hand edit is never overwritten, written atomically; then the journal
 * records it as applied. `recover()` finishes whatever a crash interrupted.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicWrite';
import type { Dataset } from '../dataset';
import { DatasetError } from '../diagnostics';
import { prepareCacheDir } from '../model/embeddingCache';
import { toPosix } from '../paths';
import { DEFAULT_MAX_BYTES, decodeText } from '../textInput';
import { checkChange, LabelError, labelFile, showPath, type LabelChange } from './change';
import { applyTextEdits, labelEdits } from './edits';
import { LabelJournal, type JournalEntry } from './journal';

export interface LabelWriterOptions {
  /** Workspace state folder holding `journal.jsonl`; default `<root>/.taxon`. */
  stateDir?: string;
  /** `recover()` rewrites the journal without its applied changes once it is larger than this (bytes). */
  compactBytes?: number;
}

export interface WriteResult {
  /** Journal changes now in the file (written by this call, or found already there). */
  written: number;
  /** Someone else changed the file since Taxon last read it: it was re-read and the labels applied on top. */
  changedOnDisk: boolean;
}

/** The label file could not be written; the changes are safe in the journal (`pending`). */
export class LabelWriteError extends DatasetError {
  constructor(
    file: string,
    message: string,
    readonly pending: readonly JournalEntry[],
  ) {
    super(file, message);
    this.name = 'LabelWriteError';
  }
}

/** What Taxon last read or wrote, to tell its own writes from someone else's. */
interface Snapshot {
  exists: boolean;
  /** Decoded text without a byte-order mark. */
  text: string;
  bom: boolean;
  mtimeMs: number;
  size: number;
  mode: number;
  hash: string;
}

const MAX_ATTEMPTS = 5;

export class LabelWriter {
  /** The file labels go to: the annotation file, or `taxon-labels.jsonl` for a folder tree. */
  readonly file: string;
  readonly journal: LabelJournal;
  private readonly key: string;
  private readonly stateDir: string;
  private readonly compactBytes: number;
  private queue: JournalEntry[] = [];
  private nextSeq = 1;
  private seen: Snapshot | undefined;
  /** The journal's size after this writer's last read or append; another size means another writer appended. */
  private journalSize = -1;

  constructor(
    readonly dataset: Dataset,
    options: LabelWriterOptions = {},
  ) {
    this.file = labelFile(dataset);
    this.stateDir = options.stateDir ?? path.join(dataset.root, '.taxon');
    this.compactBytes = options.compactBytes ?? 1024 * 1024;
    this.journal = new LabelJournal(path.join(this.stateDir, 'journal.jsonl'));
    this.key = toPosix(path.relative(dataset.root, this.file));
    this.syncWithJournal();
    this.seen = readSnapshot(this.file);
  }

  /**
   * Takes in what another writer of the same journal appended since (the gallery's writer beside
   * the labelling panel's): numbers continue after theirs, and their pending changes join the
   * queue, so that a flush writes them too and its `applied` record is true for every change.
   */
  private syncWithJournal(): void {
    const size = fileSize(this.journal.file);
    if (size === this.journalSize) return;
    const state = this.journal.read();
    this.nextSeq = Math.max(this.nextSeq, state.maxSeq + 1);
    const applied = state.applied.get(this.key) ?? 0;
    this.queue = state.entries.filter((e) => e.file === this.key && e.seq > applied && !state.discarded.has(e.seq)).sort((a, b) => a.seq - b.seq);
    this.journalSize = size;
  }

  /** Appends to the journal, keeping track of its size when no one else wrote in between. */
  private appendToJournal(records: Parameters<LabelJournal['append']>[0], options?: Parameters<LabelJournal['append']>[1]): void {
    const before = fileSize(this.journal.file);
    this.journal.append(records, options);
    if (before === this.journalSize) this.journalSize = fileSize(this.journal.file);
  }

  /** Confirmed changes not yet in the file, oldest first. */
  pending(): JournalEntry[] {
    return this.queue.map((e) => ({ ...e, path: e.path && [...e.path] }));
  }

  /**
   * Journals the changes (one write, fsync): from the moment this returns they survive a crash.
   * Refuses (LabelError, nothing journaled) a change the file can never hold.
   */
  confirm(changes: readonly LabelChange[]): JournalEntry[] {
    const ds = this.dataset;
    // Only CSV, a folder tree's sidecar and a JSONL without a taxonomy file grow their taxonomy from paths.
    const fixedTaxonomy = ds.format === 'datumaro' || (ds.format === 'jsonl' && ds.nodeSources !== undefined);
    for (const c of changes) {
      checkChange(ds, this.file, c);
      if (fixedTaxonomy && c.path !== null && ds.taxonomy.find(c.path) === undefined) {
        throw new LabelError(this.file, `cannot label ${c.image} as ${showPath(c.path)}: that path is not in the taxonomy`);
      }
    }
    if (!changes.length) return [];
    this.syncWithJournal();
    const entries = changes.map((c, i) => ({ seq: this.nextSeq + i, file: this.key, image: c.image, path: c.path === null ? null : [...c.path], at: c.at }));
    prepareCacheDir(this.stateDir);
    this.appendToJournal(entries);
    this.nextSeq += entries.length;
    this.queue.push(...entries);
    return entries;
  }

  /** `confirm`, then `flush`. A LabelWriteError after confirming leaves the changes pending in the journal. */
  apply(changes: readonly LabelChange[]): WriteResult & { entries: JournalEntry[] } {
    const entries = this.confirm(changes);
    return { entries, ...this.flush() };
  }

  /** Writes every pending change to the file (all or none), then records them as applied. */
  flush(): WriteResult {
    this.syncWithJournal();
    const entries = [...this.queue];
    if (!entries.length) return { written: 0, changedOnDisk: false };
    const upTo = entries[entries.length - 1].seq;
    let changedOnDisk = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const snap = readSnapshot(this.file);
      if (this.seen && !sameContent(this.seen, snap)) changedOnDisk = true;
      this.seen = snap;
      let edits;
      try {
        edits = labelEdits(this.dataset, snap.text, entries);
      } catch (err) {
        if (err instanceof LabelError) throw this.failure(`${detail(err)}; the change stays pending in the journal (discard it to write the others)`);
        throw err;
      }
      if (edits.length) {
        if (snap.exists && isReadOnly(this.file, snap)) {
          throw this.failure(`is read-only; ${entries.length} label${entries.length === 1 ? ' is' : 's are'} kept in the journal (${this.journal.file}) and will be written once the file can be written`);
        }
        const next = (snap.bom ? '\ufeff' : '') + applyTextEdits(snap.text, edits);
        // Someone wrote between our read and now: start again from their content.
        if (!sameStat(statOf(this.file), snap)) {
          changedOnDisk = true;
          continue;
        }
        try {
          writeFileAtomic(this.file, next, snap.exists ? { expectedMtimeMs: snap.mtimeMs } : {});
        } catch (err) {
          if (err instanceof DatasetError) {
            changedOnDisk = true;
            continue;
          }
          const code = (err as NodeJS.ErrnoException).code ?? String(err);
          throw this.failure(`cannot be written (${code}); ${entries.length} label${entries.length === 1 ? ' is' : 's are'} kept in the journal (${this.journal.file})`);
        }
        this.seen = snapshotOfWrite(this.file, next);
      }
      this.recordApplied(upTo);
      return { written: entries.length, changedOnDisk };
    }
    throw this.failure(`keeps changing on disk (${MAX_ATTEMPTS} tries); the labels are kept in the journal and will be written later`);
  }

  /** On open: writes the changes a crash left confirmed but unapplied (idempotent), then tidies the journal. */
  recover(): WriteResult {
    removeStaleTemporaries(this.file);
    removeStaleTemporaries(this.journal.file);
    const result = this.flush();
    let size = 0;
    try {
      size = fs.statSync(this.journal.file).size;
    } catch {
      size = 0;
    }
    if (size > this.compactBytes) {
      this.journal.compact(this.journal.read());
      this.journalSize = fileSize(this.journal.file);
    }
    return result;
  }

  /**
   * Records that every pending change up to `seq` is in the file. For the editor path: the host
   * applied `labelEdits` as a workspace edit and saved the document.
   */
  markApplied(seq: number): void {
    this.recordApplied(seq);
    this.seen = readSnapshot(this.file);
  }

  /** Gives up pending changes (ones the file cannot take, e.g. a label removed from the taxonomy since). */
  discard(seqs: readonly number[]): void {
    const drop = new Set(seqs.filter((s) => this.queue.some((e) => e.seq === s)));
    if (!drop.size) return;
    this.appendToJournal([...drop].map((seq) => ({ discarded: seq, file: this.key })));
    this.queue = this.queue.filter((e) => !drop.has(e.seq));
  }

  private recordApplied(seq: number): void {
    if (!this.queue.some((e) => e.seq <= seq)) return;
    this.appendToJournal([{ applied: seq, file: this.key }], { sync: false });
    this.queue = this.queue.filter((e) => e.seq > seq);
  }

  private failure(message: string): LabelWriteError {
    return new LabelWriteError(this.file, message, this.pending());
  }
}

/** Temporary files that a killed atomic write left beside `file` (`.<name>.<pid>.<time>.tmp`, see atomicWrite). */
function removeStaleTemporaries(file: string): void {
  const base = path.basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^\\.${base}\\.(\\d+)\\.\\d+\\.tmp$`);
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    fs.rmSync(path.join(path.dirname(file), name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function detail(err: DatasetError): string {
  const prefix = `${err.file}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/** A file's size, -1 when it does not exist. */
function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

function statOf(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function readSnapshot(file: string): Snapshot {
  for (let attempt = 0; ; attempt++) {
    const before = statOf(file);
    if (!before) return { exists: false, text: '', bom: false, mtimeMs: 0, size: 0, mode: 0, hash: '' };
    if (before.size > DEFAULT_MAX_BYTES) throw new DatasetError(file, `is over the ${DEFAULT_MAX_BYTES / 1024 / 1024} MB limit for annotation files`);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new DatasetError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    const after = statOf(file);
    // A write landed while we read: read again (a few times; then take what we have).
    if (attempt < MAX_ATTEMPTS && (!after || !sameStat(after, { mtimeMs: before.mtimeMs, size: before.size, exists: true }))) continue;
    const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    return {
      exists: true,
      text: decodeText(file, bytes),
      bom,
      mtimeMs: before.mtimeMs,
      size: bytes.length,
      mode: before.mode,
      hash: createHash('sha256').update(bytes).digest('hex'),
    };
  }
}

function snapshotOfWrite(file: string, text: string): Snapshot {
  const bytes = Buffer.from(text, 'utf8');
  const st = statOf(file);
  const bom = text.charCodeAt(0) === 0xfeff;
  return {
    exists: true,
    text: bom ? text.slice(1) : text,
    bom,
    mtimeMs: st?.mtimeMs ?? 0,
    size: bytes.length,
    mode: st?.mode ?? 0,
    hash: createHash('sha256').update(bytes).digest('hex'),
  };
}

function sameStat(st: fs.Stats | undefined, snap: Pick<Snapshot, 'exists' | 'mtimeMs' | 'size'>): boolean {
  if (!st) return !snap.exists;
  return snap.exists && st.mtimeMs === snap.mtimeMs && st.size === snap.size;
}

function sameContent(a: Snapshot, b: Snapshot): boolean {
  return a.exists === b.exists && a.mtimeMs === b.mtimeMs && a.size === b.size && a.hash === b.hash;
}

/** No write permission bit, or the OS refuses writing (root ignores mode bits, so both are checked). */
function isReadOnly(file: string, snap: Snapshot): boolean {
  if ((snap.mode & 0o222) === 0) return true;
  try {
    fs.accessSync(file, fs.constants.W_OK);
    return false;
  } catch {
    return true;
  }
}
