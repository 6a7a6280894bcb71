/**
 * The label journal, `.taxon/journal.jsonl`: every confirmed label change before it reaches the
 * annotation file, so that a crash at any moment loses nothing that was confirmed.
 *
 * One JSON object per line, appended with one write and an fsync:
 * - `{"seq": 7, "file": "annotations/default.json", "image": "...", "path": ["a", "b"] | null, "at": ms}`:
 *   a change, confirmed once its line is on disk; `file` is the label file, relative to the root;
 * - `{"applied": 7, "file": "..."}`: every change to that file up to seq 7 is in the file;
 * - `{"discarded": 7, "file": "..."}`: the curator gave that change up (it could not be written);
 * - `{"lastSeq": 9}`: written by compaction so that numbering never goes back.
 * A torn last line (a crash during the append, before the change was confirmed) is cut off when
 * the journal is opened. One process writes a dataset's journal at a time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicWrite';
import { DatasetError } from '../diagnostics';
import type { LabelChange } from './change';

export interface JournalEntry extends LabelChange {
  seq: number;
  /** The label file, relative to the dataset root ('/'-separated). */
  file: string;
}

interface ChangeRecord {
  seq: number;
  file: string;
  image: string;
  path: string[] | null;
  at: number;
}

export interface JournalState {
  entries: JournalEntry[];
  /** Per label file: every change up to this seq is in the file. */
  applied: Map<string, number>;
  discarded: Set<number>;
  maxSeq: number;
}

export class LabelJournal {
  private repaired = false;

  constructor(readonly file: string) {}

  /** Reads the journal; a missing file is an empty journal, unreadable lines are skipped. */
  read(): JournalState {
    const state: JournalState = { entries: [], applied: new Map(), discarded: new Set(), maxSeq: 0 };
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return state;
      throw new DatasetError(this.file, `the label journal cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue; // a torn last line: never confirmed
      }
      if (typeof r !== 'object' || r === null) continue;
      if (typeof r.lastSeq === 'number') state.maxSeq = Math.max(state.maxSeq, r.lastSeq);
      if (typeof r.file !== 'string') continue;
      if (typeof r.seq === 'number' && typeof r.image === 'string' && (r.path === null || isNames(r.path))) {
        state.entries.push({ seq: r.seq, file: r.file, image: r.image, path: r.path as string[] | null, at: typeof r.at === 'number' ? r.at : 0 });
        state.maxSeq = Math.max(state.maxSeq, r.seq);
      } else if (typeof r.applied === 'number') {
        state.applied.set(r.file, Math.max(state.applied.get(r.file) ?? 0, r.applied));
        state.maxSeq = Math.max(state.maxSeq, r.applied);
      } else if (typeof r.discarded === 'number') {
        state.discarded.add(r.discarded);
      }
    }
    return state;
  }

  /**
   * Appends records as one write and fsyncs: when this returns, they survive a crash. `sync:
   * false` is for `applied` records only: losing one merely re-applies changes, which is idempotent.
   */
  append(records: ReadonlyArray<JournalEntry | { applied: number; file: string } | { discarded: number; file: string }>, options: { sync?: boolean } = {}): void {
    if (!records.length) return;
    this.repair();
    const text = records.map((r) => JSON.stringify('seq' in r ? toRecord(r) : r) + '\n').join('');
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'a');
    } catch (err) {
      throw new DatasetError(this.file, `the label journal cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      fs.writeSync(fd, text);
      if (options.sync !== false) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Rewrites the journal (atomically) with only what is still needed: pending changes and markers. */
  compact(state: JournalState): void {
    const keep: string[] = [];
    for (const e of state.entries) {
      if (e.seq > (state.applied.get(e.file) ?? 0) && !state.discarded.has(e.seq)) keep.push(JSON.stringify(toRecord(e)));
    }
    for (const [file, seq] of state.applied) keep.push(JSON.stringify({ applied: seq, file }));
    if (state.maxSeq > 0) keep.push(JSON.stringify({ lastSeq: state.maxSeq }));
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileAtomic(this.file, keep.map((l) => l + '\n').join(''));
    this.repaired = true;
  }

  /** Cuts a torn last line (no line break: the append never completed, so it was never confirmed). */
  private repair(): void {
    if (this.repaired) return;
    this.repaired = true;
    let size: number;
    try {
      size = fs.statSync(this.file).size;
    } catch {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      return;
    }
    if (size === 0) return;
    const text = fs.readFileSync(this.file, 'utf8');
    if (text.endsWith('\n')) return;
    fs.truncateSync(this.file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1), 'utf8'));
  }
}

function toRecord(e: JournalEntry): ChangeRecord {
  return { seq: e.seq, file: e.file, image: e.image, path: e.path, at: e.at };
}

function isNames(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}
