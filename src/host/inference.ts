/**
 * "Taxon: Run Inference on Folder…": picks a folder, embeds its images in a worker thread with a
 * cancellable progress notification, and reports what was embedded, cached and skipped.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import type { EmbedProgress, EmbedResult } from '../core/model/embed';
import type { Datasets } from './datasets';
import type { EmbedJob, EmbedWorkerReply } from './embedProtocol';

export class InferenceRunner implements vscode.Disposable {
  private running: { worker: Worker; folder: string } | undefined;
  /** The latest progress of the running (or last) inference. */
  lastProgress: EmbedProgress | undefined;

  constructor(
    private readonly extensionPath: string,
    private readonly datasets: Datasets,
  ) {}

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Runs inference on `uri` (or a folder the curator picks); resolves with the result, undefined if nothing ran. */
  async run(uri?: vscode.Uri): Promise<EmbedResult | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Taxon runs no model in Restricted Mode. Trust this workspace to run inference.');
      return undefined;
    }
    if (this.running) {
      void vscode.window.showWarningMessage(`Taxon is already running inference on ${this.running.folder}. Cancel it first (Taxon: Cancel Inference).`);
      return undefined;
    }
    const folder = uri?.fsPath ?? (await this.pickFolder());
    if (!folder) return undefined;
    const job = jobFromSettings(folder);
    const worker = new Worker(path.join(this.extensionPath, 'dist', 'embedWorker.js'));
    this.running = { worker, folder };
    this.lastProgress = undefined;
    const name = path.basename(folder);
    try {
      const outcome = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Taxon: embedding ${name}`, cancellable: true },
        (progress, token) =>
          new Promise<{ result?: EmbedResult; error?: string }>((resolve) => {
            let reported = 0;
            token.onCancellationRequested(() => worker.postMessage({ type: 'cancel' }));
            worker.on('message', (reply: EmbedWorkerReply) => {
              switch (reply.type) {
                case 'listed':
                  progress.report({ message: `${reply.total} images found, loading the model…` });
                  break;
                case 'progress': {
                  const p = reply.progress;
                  this.lastProgress = p;
                  const percent = p.total ? (100 * p.done) / p.total : 0;
                  progress.report({ message: describeProgress(p), increment: percent - reported });
                  reported = percent;
                  break;
                }
                case 'done':
                  resolve({ result: reply.result });
                  break;
                case 'error':
                  resolve({ error: reply.message });
                  break;
              }
            });
            worker.on('error', (err) => resolve({ error: err.message }));
            worker.on('exit', (code) => resolve({ error: `the inference worker stopped (exit code ${code})` }));
            worker.postMessage({ type: 'start', job });
          }),
      );
      if (outcome.error) {
        void vscode.window.showErrorMessage(`Taxon: inference on ${name} failed: ${outcome.error}`);
        return undefined;
      }
      void this.report(name, outcome.result!);
      const owner = this.datasets.owner(folder) ?? this.datasets.get(folder);
      if (owner) this.datasets.scheduleRefresh(owner.target);
      return outcome.result;
    } finally {
      this.running = undefined;
      await worker.terminate();
    }
  }

  /** Stops the running inference within one batch; what is embedded stays cached. */
  cancel(): boolean {
    if (!this.running) return false;
    this.running.worker.postMessage({ type: 'cancel' });
    return true;
  }

  private async pickFolder(): Promise<string | undefined> {
    type Pick = vscode.QuickPickItem & { folder?: string };
    const seen = new Set<string>();
    const items: Pick[] = [];
    for (const d of this.datasets.list()) {
      const root = d.summary?.root;
      if (!root || seen.has(root)) continue;
      seen.add(root);
      items.push({ label: `$(database) ${path.basename(root)}`, description: vscode.workspace.asRelativePath(root), detail: `${d.summary!.images} images`, folder: root });
    }
    for (const f of vscode.workspace.workspaceFolders ?? []) {
      if (seen.has(f.uri.fsPath)) continue;
      seen.add(f.uri.fsPath);
      items.push({ label: `$(root-folder) ${f.name}`, description: 'workspace folder', folder: f.uri.fsPath });
    }
    items.push({ label: '$(folder-opened) Browse…', description: 'choose another folder' });
    const picked = await vscode.window.showQuickPick(items, { title: 'Taxon: Run Inference on Folder', placeHolder: 'Folder or dataset whose images to embed', matchOnDescription: true });
    if (!picked) return undefined;
    if (picked.folder) return picked.folder;
    const chosen = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Run Inference' });
    return chosen?.[0]?.fsPath;
  }

  private async report(name: string, r: EmbedResult): Promise<void> {
    const parts = [`${r.embedded} embedded`, `${r.fromCache} from cache`, `${r.skipped.length} skipped`];
    const speed = r.imagesPerSecond > 0 ? ` at ${r.imagesPerSecond.toFixed(1)} images/s` : '';
    const head = r.cancelled ? `Taxon: inference on ${name} cancelled; kept` : `Taxon: inference on ${name} finished`;
    const message = `${head}: ${parts.join(', ')} of ${r.images} images in ${r.seconds.toFixed(1)} s${speed}.${r.notes.length ? ' ' + r.notes.join(' ') : ''}`;
    const actions = r.skipped.length ? ['Show Skipped'] : [];
    const choice = await vscode.window.showInformationMessage(message, ...actions);
    if (choice === 'Show Skipped') {
      const lines = [`# Images skipped by Taxon in ${name} (${r.skipped.length})`, '', ...r.skipped.map((s) => `${s.file}\t${s.reason}`), ''];
      const doc = await vscode.workspace.openTextDocument({ content: lines.join('\n'), language: 'plaintext' });
      await vscode.window.showTextDocument(doc);
    }
  }

  dispose(): void {
    void this.running?.worker.terminate();
    this.running = undefined;
  }
}

function jobFromSettings(target: string): EmbedJob {
  const config = vscode.workspace.getConfiguration('taxon');
  const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? target;
  const model = config.get<string>('model', '').trim();
  const cache = config.get<string>('cacheFolder', '').trim();
  const threads = config.get<number>('inference.threads', 0);
  return {
    target,
    modelPath: model ? path.resolve(base, model) : undefined,
    batchSize: config.get<number>('inference.batchSize', 32),
    threads: threads > 0 ? threads : undefined,
    cacheDir: cache ? path.resolve(base, cache) : undefined,
    pixelLimit: config.get<number>('inference.pixelLimit', 100_000_000),
  };
}

function describeProgress(p: { done: number; total: number; imagesPerSecond: number; etaSeconds: number | undefined; fromCache: number; skipped: number }): string {
  const parts = [`${p.done} / ${p.total} images`];
  if (p.imagesPerSecond > 0) parts.push(`${p.imagesPerSecond.toFixed(1)}/s`);
  if (p.etaSeconds !== undefined && p.done < p.total) parts.push(`about ${formatDuration(p.etaSeconds)} left`);
  if (p.fromCache) parts.push(`${p.fromCache} from cache`);
  if (p.skipped) parts.push(`${p.skipped} skipped`);
  return parts.join(' · ');
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}
