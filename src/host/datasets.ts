/**
 * The datasets of the workspace: discovery, inspection in the worker, and publishing the results
 * to the tree view and the Problems panel. Every annotation change funnels through `refresh`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Diagnostic as CoreDiagnostic, QuickFix } from '../core/diagnostics';
import type { DatasetSummary } from './inspection';
import type { Inspector } from './inspector';

export interface DatasetEntry {
  target: string;
  summary?: DatasetSummary;
  /** Why the dataset could not be read, when it could not. */
  error?: string;
  /** Files whose diagnostics this dataset owns. */
  uris: vscode.Uri[];
  /** What training and evaluation found, keyed by full node path (' > '). */
  learning?: {
    predicted?: Map<string, number>;
    accuracy?: Map<string, { accuracy: number; n: number }>;
  };
}

const EXCLUDE = '**/{node_modules,.git,.taxon,.e2e,.vscode-test}/**';

export class Datasets implements vscode.Disposable {
  private readonly entries = new Map<string, DatasetEntry>();
  private readonly fixes = new Map<string, Array<{ diagnostic: vscode.Diagnostic; fixes: QuickFix[] }>>();
  private readonly pendingRefresh = new Map<string, NodeJS.Timeout>();
  private readonly generation = new Map<string, number>();
  /** Discoveries and inspections still running; `idle()` waits for them. */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly changed = new vscode.EventEmitter<DatasetEntry | undefined>();
  readonly onDidChange = this.changed.event;
  readonly diagnostics = vscode.languages.createDiagnosticCollection('taxon');

  constructor(private readonly inspector: Inspector) {}

  list(): DatasetEntry[] {
    return [...this.entries.values()].sort((a, b) => a.target.localeCompare(b.target));
  }

  get(target: string): DatasetEntry | undefined {
    return this.entries.get(target);
  }

  /** Resolves once no discovery or inspection is running (including ones started meanwhile). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0 || this.pendingRefresh.size > 0) {
      await Promise.all([...this.inflight, new Promise((r) => setTimeout(r, 50))]);
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    const done = () => this.inflight.delete(work);
    work.then(done, done);
    return work;
  }

  /** Finds datasets in the workspace and inspects them all. */
  discover(): Promise<void> {
    return this.track(this.discoverNow());
  }

  private async discoverNow(): Promise<void> {
    const targets = new Set<string>();
    const [datumaro, csv, jsonl] = await Promise.all([
      vscode.workspace.findFiles('**/annotations/*.json', EXCLUDE, 1000),
      vscode.workspace.findFiles('**/*.csv', EXCLUDE, 1000),
      vscode.workspace.findFiles('**/*.{jsonl,ndjson}', EXCLUDE, 1000),
    ]);
    for (const uri of datumaro) if (startsWith(uri.fsPath, '"categories"')) targets.add(uri.fsPath);
    for (const uri of csv) if (isLabelCsv(uri.fsPath)) targets.add(uri.fsPath);
    for (const uri of jsonl) targets.add(uri.fsPath);
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      for (const dir of candidateFolders(folder.uri.fsPath, 2)) {
        if (isDir(path.join(dir, 'images')) && !isDir(path.join(dir, 'annotations'))) targets.add(dir);
      }
    }
    for (const old of [...this.entries.keys()]) if (!targets.has(old)) this.remove(old);
    for (const t of targets) if (!this.entries.has(t)) this.entries.set(t, { target: t, uris: [] });
    this.changed.fire(undefined);
    await Promise.all([...targets].map((t) => this.refresh(t)));
  }

  /** The dataset that a file belongs to: its annotation file, its taxonomy file, or an image under a folder tree. */
  owner(file: string): DatasetEntry | undefined {
    for (const e of this.entries.values()) {
      if (e.target === file || e.summary?.files.includes(file)) return e;
    }
    for (const e of this.entries.values()) {
      if (e.summary?.format === 'folder' && file.startsWith(e.target + path.sep)) return e;
      if (e.summary?.format === 'jsonl' && /taxonomy\.json$/.test(file) && path.dirname(file) === path.dirname(e.target)) return e;
    }
    return undefined;
  }

  /** Tells the views that something about a dataset changed (e.g. new predictions). */
  touch(entry: DatasetEntry): void {
    this.changed.fire(entry);
  }

  /** Re-inspects a dataset soon, coalescing bursts of file events. */
  scheduleRefresh(target: string, delayMs = 150): void {
    clearTimeout(this.pendingRefresh.get(target));
    this.pendingRefresh.set(
      target,
      setTimeout(() => {
        this.pendingRefresh.delete(target);
        void this.refresh(target);
      }, delayMs),
    );
  }

  refresh(target: string, text?: { file: string; content: string }): Promise<DatasetEntry | undefined> {
    return this.track(this.refreshNow(target, text));
  }

  private async refreshNow(target: string, text?: { file: string; content: string }): Promise<DatasetEntry | undefined> {
    const entry = this.entries.get(target) ?? { target, uris: [] };
    this.entries.set(target, entry);
    const generation = (this.generation.get(target) ?? 0) + 1;
    this.generation.set(target, generation);
    const config = vscode.workspace.getConfiguration('taxon');
    const res = await this.inspector.inspect({
      target,
      text,
      checkFiles: config.get<boolean>('validation.checkImageFiles', true),
      findIdenticalImages: config.get<boolean>('validation.findIdenticalImages', true),
      maxBytes: Math.round(config.get<number>('maxAnnotationFileMB', 512) * 1024 * 1024),
      maxDiagnostics: config.get<number>('validation.maxProblems', 10000),
    }, (preview) => {
      if (entry.summary || this.generation.get(target) !== generation) return;
      entry.summary = preview;
      this.changed.fire(entry);
    });
    if (this.generation.get(target) !== generation || !this.entries.has(target)) return entry; // superseded
    if (res.ok) {
      entry.summary = res.summary;
      entry.error = undefined;
    } else {
      entry.summary = undefined;
      entry.error = res.message;
    }
    let diagnostics = res.diagnostics;
    if (res.ok && res.truncated > 0) {
      diagnostics = [
        ...diagnostics,
        {
          file: res.summary.files[0] ?? target,
          range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
          severity: 'info',
          code: 'taxon.too-many-problems',
          message: `${res.truncated} more problems are not shown (setting taxon.validation.maxProblems). Run "taxon validate" for the full list.`,
        },
      ];
    }
    this.publish(entry, diagnostics);
    this.changed.fire(entry);
    return entry;
  }

  private publish(entry: DatasetEntry, diagnostics: CoreDiagnostic[]): void {
    for (const uri of entry.uris) {
      this.diagnostics.delete(uri);
      this.fixes.delete(uri.toString());
    }
    const byFile = new Map<string, CoreDiagnostic[]>();
    for (const d of diagnostics) {
      const list = byFile.get(d.file);
      if (list) list.push(d);
      else byFile.set(d.file, [d]);
    }
    entry.uris = [];
    for (const [file, list] of byFile) {
      const uri = vscode.Uri.file(file);
      entry.uris.push(uri);
      const converted = list.map((d) => ({ core: d, vs: toVsDiagnostic(d) }));
      this.diagnostics.set(uri, converted.map((c) => c.vs));
      this.fixes.set(
        uri.toString(),
        converted.filter((c) => c.core.fixes?.length).map((c) => ({ diagnostic: c.vs, fixes: c.core.fixes! })),
      );
    }
  }

  /** Quick fixes recorded for diagnostics of `uri` that match `diagnostic` (same code, range and message). */
  fixesFor(uri: vscode.Uri, diagnostic: vscode.Diagnostic): QuickFix[] {
    const list = this.fixes.get(uri.toString()) ?? [];
    const match = list.find(
      (f) => f.diagnostic.message === diagnostic.message && f.diagnostic.range.isEqual(diagnostic.range) && codeOf(f.diagnostic) === codeOf(diagnostic),
    );
    return match?.fixes ?? [];
  }

  private remove(target: string): void {
    const e = this.entries.get(target);
    if (!e) return;
    for (const uri of e.uris) this.diagnostics.delete(uri);
    this.entries.delete(target);
  }

  dispose(): void {
    for (const t of this.pendingRefresh.values()) clearTimeout(t);
    this.diagnostics.dispose();
    this.changed.dispose();
  }
}

function codeOf(d: vscode.Diagnostic): string | undefined {
  const c = d.code;
  return typeof c === 'object' && c !== null ? String(c.value) : c === undefined ? undefined : String(c);
}

function toVsDiagnostic(d: CoreDiagnostic): vscode.Diagnostic {
  const range = new vscode.Range(d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character);
  const severity =
    d.severity === 'error' ? vscode.DiagnosticSeverity.Error : d.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information;
  const vs = new vscode.Diagnostic(range, d.message, severity);
  vs.source = 'taxon';
  vs.code = d.code;
  return vs;
}

function startsWith(file: string, needle: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
    return buf.subarray(0, n).includes(needle);
  } catch {
    return false;
  }
}

/** A CSV is a label file when its header names an `image` column and a `path` or `label` column. */
function isLabelCsv(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(4096);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
    const header = buf.subarray(0, n).toString('utf8').split(/\r?\n/, 1)[0].toLowerCase();
    const cols = header.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    return cols.includes('image') && (cols.includes('path') || cols.includes('label'));
  } catch {
    return false;
  }
}

function candidateFolders(top: string, depth: number): string[] {
  const out = [top];
  let frontier = [top];
  for (let d = 0; d < depth; d++) {
    const next: string[] = [];
    for (const dir of frontier) {
      let entries: fs.Dirent[] = [];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'images') continue;
        next.push(path.join(dir, e.name));
      }
    }
    out.push(...next);
    frontier = next;
  }
  return out;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
