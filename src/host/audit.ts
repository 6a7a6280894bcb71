/**
 * "Taxon: Audit Labels" in VS Code: the audit's findings as warnings on the annotation lines
 * (`taxon.suspicious-label`, `taxon.near-duplicate`) in their own diagnostic collection (saving a
 * file re-validates it without wiping them), with two quick fixes each: "Relabel as <path>"
 * (through the editor when the label file is open, so that undo works; otherwise journaled and
 * written atomically) and "Mark as reviewed" (remembered in `.taxon/reviewed.json`).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import { markReviewed } from '../core/learn/auditStore';
import type { AuditDiagnostic } from '../core/learn/auditDiagnostics';
import type { DatasetEntry } from './datasets';
import type { LearningCommands } from './learning';
import type { AuditSummary, LearnWorkerReply, RelabelJob } from './learnProtocol';
import { datasetName } from './taxonomyTree';

const AUDIT_CODES = new Set(['taxon.suspicious-label', 'taxon.near-duplicate']);

interface Finding {
  target: string;
  cacheDir: string;
  labelFile: string;
  finding: AuditDiagnostic;
}

/** What a code action's command receives: plain data, so that it survives the command bridge. */
interface FindingRef {
  target: string;
  cacheDir: string;
  /** Where the dataset's labels are written. */
  labelFile: string;
  image: string;
  relabel: string[];
  reviewKey: string;
}

export class AuditFindings implements vscode.Disposable, vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];
  readonly collection = vscode.languages.createDiagnosticCollection('taxon-audit');
  private readonly findings = new Map<vscode.Diagnostic, Finding>();
  private readonly byTarget = new Map<string, Set<string>>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the findings change (tests wait on it). */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly extensionPath: string,
    private readonly learning: LearningCommands,
  ) {
    this.disposables.push(
      this.collection,
      this.changed,
      vscode.languages.registerCodeActionsProvider([{ scheme: 'file' }], this, { providedCodeActionKinds: AuditFindings.kinds }),
      vscode.commands.registerCommand('taxon.auditRelabel', (ref: FindingRef) => this.relabel(ref)),
      vscode.commands.registerCommand('taxon.auditMarkReviewed', (ref: FindingRef) => this.markReviewed(ref)),
    );
  }

  async run(target?: string): Promise<AuditSummary | undefined> {
    const done = await this.learning.audit(target);
    if (!done) return undefined;
    this.publish(done.entry, done.summary);
    const s = done.summary;
    const parts = [
      `${s.suspects} suspicious label${s.suspects === 1 ? '' : 's'}`,
      `${s.differentLabelDuplicates} duplicate pair${s.differentLabelDuplicates === 1 ? '' : 's'} with different labels`,
      ...(s.duplicates > s.differentLabelDuplicates ? [`${s.duplicates - s.differentLabelDuplicates} with the same label`] : []),
    ];
    const notes = [
      s.omitted ? `${s.omitted} more finding(s) than the ${s.diagnostics.length} shown as problems (setting taxon.audit.maxDiagnostics); all are in the gallery's filters.` : '',
      s.reviewedHidden ? `${s.reviewedHidden} reviewed finding(s) not raised again.` : '',
      s.unjudged ? `${s.unjudged} label(s) not judged: no other example of their node.` : '',
    ].filter(Boolean);
    void vscode.window.showInformationMessage(`Taxon: audited ${s.judged} labels of ${datasetName(done.entry.target)} in ${s.seconds.toFixed(1)} s: ${parts.join(', ')}. ${notes.join(' ')}`.trim());
    return s;
  }

  /** Replaces the target's findings with these. */
  publish(entry: DatasetEntry, summary: AuditSummary): void {
    this.clear(entry.target);
    const perFile = new Map<string, vscode.Diagnostic[]>();
    for (const f of summary.diagnostics) {
      const r = f.range;
      const d = new vscode.Diagnostic(new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character), f.message, vscode.DiagnosticSeverity.Warning);
      d.source = 'taxon';
      d.code = f.code;
      this.findings.set(d, { target: entry.target, cacheDir: summary.cacheDir, labelFile: summary.labelFile, finding: f });
      const list = perFile.get(f.file) ?? [];
      list.push(d);
      perFile.set(f.file, list);
    }
    const uris = new Set<string>();
    for (const [file, list] of perFile) {
      const uri = vscode.Uri.file(file);
      this.collection.set(uri, list);
      uris.add(uri.toString());
    }
    this.byTarget.set(entry.target, uris);
    this.changed.fire();
  }

  private clear(target: string): void {
    for (const uri of this.byTarget.get(target) ?? []) {
      const u = vscode.Uri.parse(uri);
      for (const d of this.collection.get(u) ?? []) this.findings.delete(d);
      this.collection.delete(u);
    }
    this.byTarget.delete(target);
  }

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const diagnostic of context.diagnostics) {
      if (diagnostic.source !== 'taxon' || !AUDIT_CODES.has(String(diagnostic.code))) continue;
      const found = this.lookup(document.uri, diagnostic);
      if (!found) continue;
      const ref: FindingRef = { target: found.target, cacheDir: found.cacheDir, labelFile: found.labelFile, image: found.finding.image, relabel: found.finding.relabel, reviewKey: found.finding.reviewKey };
      if (ref.relabel.length && !actions.some((a) => a.title === `Relabel as ${ref.relabel.join(' > ')}`)) {
        const relabel = new vscode.CodeAction(`Relabel as ${ref.relabel.join(' > ')}`, vscode.CodeActionKind.QuickFix);
        relabel.diagnostics = [diagnostic];
        relabel.command = { command: 'taxon.auditRelabel', title: relabel.title, arguments: [ref] };
        relabel.isPreferred = true;
        actions.push(relabel);
      }
      const what = diagnostic.code === 'taxon.near-duplicate' ? 'duplicate pair' : 'label';
      const reviewed = new vscode.CodeAction(`Mark ${what} as reviewed`, vscode.CodeActionKind.QuickFix);
      reviewed.diagnostics = [diagnostic];
      reviewed.command = { command: 'taxon.auditMarkReviewed', title: reviewed.title, arguments: [ref] };
      actions.push(reviewed);
    }
    return actions;
  }

  /** The finding behind a diagnostic that VS Code hands back (a copy: matched by range, code and message). */
  private lookup(uri: vscode.Uri, diagnostic: vscode.Diagnostic): Finding | undefined {
    for (const d of this.collection.get(uri) ?? []) {
      if (d.message === diagnostic.message && d.range.isEqual(diagnostic.range) && String(d.code) === String(diagnostic.code)) return this.findings.get(d);
    }
    return undefined;
  }

  /** Drops the diagnostics of one finding (after a relabel or a review). */
  private resolve(ref: FindingRef): void {
    for (const uri of this.byTarget.get(ref.target) ?? []) {
      const u = vscode.Uri.parse(uri);
      const list = this.collection.get(u) ?? [];
      const keep = list.filter((d) => this.findings.get(d)?.finding.reviewKey !== ref.reviewKey);
      if (keep.length !== list.length) {
        for (const d of list) if (!keep.includes(d)) this.findings.delete(d);
        this.collection.set(u, keep);
      }
    }
    this.changed.fire();
  }

  async relabel(ref: FindingRef): Promise<boolean> {
    try {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === ref.labelFile);
      const reply = await this.relabelInWorker({ kind: 'relabel', target: ref.target, cacheDir: ref.cacheDir, image: ref.image, path: ref.relabel, editorText: doc?.getText() });
      if (doc && reply.edits && reply.edits.length > 0) {
        const edit = new vscode.WorkspaceEdit();
        for (const e of reply.edits) edit.replace(doc.uri, new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character), e.newText);
        if (!(await vscode.workspace.applyEdit(edit)) || !(await doc.save())) throw new Error(`${reply.file}: the label could not be written through the editor`);
      } else if (reply.changedOnDisk) {
        void vscode.window.setStatusBarMessage(`Taxon: ${path.basename(reply.file)} had changed on disk; re-read and relabelled on top`, 5000);
      }
      this.resolve(ref);
      void vscode.window.setStatusBarMessage(`Taxon: ${ref.image} relabelled as ${ref.relabel.join(' > ')}`, 5000);
      return true;
    } catch (err) {
      void vscode.window.showErrorMessage(`Taxon: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  markReviewed(ref: FindingRef): boolean {
    try {
      markReviewed(ref.cacheDir, [ref.reviewKey]);
    } catch (err) {
      void vscode.window.showErrorMessage(`Taxon: ${path.join(ref.cacheDir, 'reviewed.json')}: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
    this.resolve(ref);
    return true;
  }

  private relabelInWorker(job: RelabelJob): Promise<Extract<LearnWorkerReply, { type: 'relabelled' }>> {
    const worker = new Worker(path.join(this.extensionPath, 'dist', 'learnWorker.js'));
    return new Promise<Extract<LearnWorkerReply, { type: 'relabelled' }>>((resolve, reject) => {
      worker.on('message', (reply: LearnWorkerReply) => {
        if (reply.type === 'relabelled') resolve(reply);
        else if (reply.type === 'error') reject(new Error(reply.message));
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`the learning worker stopped (exit code ${code})`)));
      worker.postMessage(job);
    }).finally(() => void worker.terminate());
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
