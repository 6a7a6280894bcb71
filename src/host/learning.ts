/**
 * "Taxon: Train Classifiers" and "Taxon: Evaluate": run in the learning worker with a progress
 * notification; training feeds the tree's predicted counts, evaluation its per-node accuracy and
 * a Markdown report (per level, per node, worst confusions).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import type { InferenceMode } from '../core/learn/inference';
import type { Evaluation } from '../core/learn/workflow';
import type { DatasetEntry, Datasets } from './datasets';
import type { AuditSummary, LearnJob, LearnWorkerReply, TrainSummary } from './learnProtocol';
import { datasetName } from './taxonomyTree';

type Outcome = { trained?: TrainSummary; evaluated?: { evaluation: Evaluation; paths: string[] }; audited?: AuditSummary; error?: string; cancelled?: boolean };

export class LearningCommands implements vscode.Disposable {
  private worker: Worker | undefined;

  constructor(
    private readonly extensionPath: string,
    private readonly datasets: Datasets,
  ) {}

  async train(target?: string): Promise<TrainSummary | undefined> {
    const entry = await this.pickDataset(target, 'Train Classifiers');
    if (!entry) return undefined;
    const outcome = await this.runJob(entry, 'train', `Taxon: training classifiers for ${datasetName(entry.target)}`);
    if (!outcome.trained) return undefined;
    const s = outcome.trained;
    entry.learning = { ...entry.learning, predicted: new Map(s.predicted) };
    this.datasets.touch(entry);
    const untrained = s.untrained.length ? ` ${s.untrained.length} node(s) had too few examples and stop the predictions there.` : '';
    void vscode.window.showInformationMessage(
      `Taxon: trained ${s.classifiers - s.untrained.length} of ${s.classifiers} node classifiers on ${s.labelled} labelled images in ${s.seconds.toFixed(1)} s.${untrained}`,
    );
    return s;
  }

  async evaluate(target?: string): Promise<Evaluation | undefined> {
    const entry = await this.pickDataset(target, 'Evaluate');
    if (!entry) return undefined;
    const outcome = await this.runJob(entry, 'evaluate', `Taxon: evaluating ${datasetName(entry.target)}`);
    if (!outcome.evaluated) return undefined;
    const { evaluation, paths } = outcome.evaluated;
    entry.learning = { ...entry.learning, accuracy: new Map(evaluation.perNode.map((a) => [paths[a.node], { accuracy: a.accuracy, n: a.n }])) };
    this.datasets.touch(entry);
    const doc = await vscode.workspace.openTextDocument({ content: evaluationReport(datasetName(entry.target), evaluation, paths), language: 'markdown' });
    await vscode.commands.executeCommand('markdown.showPreview', doc.uri).then(undefined, () => vscode.window.showTextDocument(doc));
    return evaluation;
  }

  /**
   * "Taxon: Audit Labels": out-of-fold judgement of every label and the duplicate search, in the
   * learning worker with progress and cancel (a cancelled audit writes nothing).
   */
  async audit(target?: string): Promise<{ entry: DatasetEntry; summary: AuditSummary } | undefined> {
    const entry = await this.pickDataset(target, 'Audit Labels');
    if (!entry) return undefined;
    const outcome = await this.runJob(entry, 'audit', `Taxon: auditing the labels of ${datasetName(entry.target)}`);
    return outcome.audited ? { entry, summary: outcome.audited } : undefined;
  }

  private async pickDataset(target: string | undefined, action: string): Promise<DatasetEntry | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Taxon trains no model in Restricted Mode. Trust this workspace first.');
      return undefined;
    }
    if (target) return this.datasets.get(target);
    const ready = this.datasets.list().filter((d) => d.summary);
    if (ready.length === 0) {
      void vscode.window.showInformationMessage('Taxon: no dataset with labels found in this workspace.');
      return undefined;
    }
    if (ready.length === 1) return ready[0];
    const picked = await vscode.window.showQuickPick(
      ready.map((d) => ({ label: datasetName(d.target), description: `${d.summary!.images - d.summary!.unlabelled} labelled images`, entry: d })),
      { title: `Taxon: ${action}`, placeHolder: 'Dataset' },
    );
    return picked?.entry;
  }

  private runJob(entry: DatasetEntry, kind: LearnJob['kind'], title: string): Thenable<Outcome> {
    if (this.worker) {
      void vscode.window.showWarningMessage('Taxon is already training, evaluating or auditing; wait for it or cancel it.');
      return Promise.resolve({ error: 'busy' });
    }
    const config = vscode.workspace.getConfiguration('taxon');
    const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? entry.target;
    const model = config.get<string>('model', '').trim();
    const cache = config.get<string>('cacheFolder', '').trim();
    const threads = config.get<number>('inference.threads', 0);
    const job: LearnJob = {
      kind,
      target: entry.target,
      modelPath: model ? path.resolve(base, model) : undefined,
      cacheDir: cache ? path.resolve(base, cache) : undefined,
      inference: config.get<InferenceMode>('inferenceMode', 'bottomup'),
      holdout: config.get<number>('evaluation.holdout', 0.2),
      batchSize: config.get<number>('inference.batchSize', 32),
      threads: threads > 0 ? threads : undefined,
      audit: {
        similarity: config.get<number>('audit.duplicateSimilarity', 0.92),
        minScore: config.get<number>('audit.minScore', 0.95),
        maxDiagnostics: config.get<number>('audit.maxDiagnostics', 200),
      },
    };
    const worker = new Worker(path.join(this.extensionPath, 'dist', 'learnWorker.js'));
    this.worker = worker;
    return vscode.window
      .withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) =>
        new Promise<Outcome>((resolve) => {
          token.onCancellationRequested(() => {
            void worker.terminate(); // nothing half-done is kept: saved classifiers and audit findings stay as they were
            resolve({ cancelled: true });
          });
          worker.on('message', (reply: LearnWorkerReply) => {
            if (reply.type === 'stage') progress.report({ message: reply.message });
            else if (reply.type === 'embedding') progress.report({ message: `embedding images: ${reply.progress.done} / ${reply.progress.total}` });
            else if (reply.type === 'trained') resolve({ trained: reply.summary });
            else if (reply.type === 'evaluated') resolve({ evaluated: { evaluation: reply.evaluation, paths: reply.paths } });
            else if (reply.type === 'audited') resolve({ audited: reply.summary });
            else if (reply.type === 'error') resolve({ error: reply.message });
          });
          worker.on('error', (err) => resolve({ error: err.message }));
          worker.on('exit', (code) => resolve({ error: `the learning worker stopped (exit code ${code})` }));
          worker.postMessage(job);
        }),
      )
      .then((outcome) => {
        this.worker = undefined;
        void worker.terminate();
        if (outcome.error) void vscode.window.showErrorMessage(`Taxon: ${outcome.error}`);
        return outcome;
      });
  }

  dispose(): void {
    void this.worker?.terminate();
  }
}

/** The evaluation as Markdown; label names are escaped so they read as text. */
export function evaluationReport(name: string, e: Evaluation, paths: string[]): string {
  const m = e.metrics;
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const label = (node: number) => (node === -1 ? '(nothing)' : escapeMarkdown(paths[node]));
  const lines = [
    `# Taxon evaluation: ${escapeMarkdown(name)}`,
    '',
    `${e.classifier} classifiers, ${e.inference} inference (α ${e.alpha}, τ ${e.tau}); trained on ${e.train} items, tested on the ${e.test} items of a deterministic hold-out (by image path). Training ${e.trainSeconds.toFixed(1)} s, prediction ${e.predictSeconds.toFixed(1)} s.`,
    '',
    '| metric | value |',
    '|---|---|',
    `| leaf top-1 (${m.leafN} items with a leaf label) | ${pct(m.leafTop1)} |`,
    `| hierarchical precision / recall / F1 | ${pct(m.hP)} / ${pct(m.hR)} / ${pct(m.hF1)} |`,
    `| mean tree distance (all / mistakes) | ${m.meanTreeDistance.toFixed(2)} / ${m.meanTreeDistanceOnMistakes.toFixed(2)} |`,
    ...(m.confident ? [`| confident depth: precision, mean depth | ${pct(m.confident.precision)}, ${m.confident.meanDepth.toFixed(2)} |`] : []),
    '',
    '## Per level',
    '',
    '| level | items | accuracy |',
    '|---|---|---|',
    ...m.perLevel.map((l) => `| ${l.level} | ${l.n} | ${pct(l.accuracy)} |`),
    '',
    '## Per node (weakest first)',
    '',
    '| node | test items at or under it | predicted there |',
    '|---|---|---|',
    ...[...e.perNode].sort((a, b) => a.accuracy - b.accuracy || b.n - a.n).map((a) => `| ${label(a.node)} | ${a.n} | ${pct(a.accuracy)} |`),
    '',
    '## Worst confusions',
    '',
    ...(e.confusions.length
      ? ['| true | predicted | count | tree distance |', '|---|---|---|---|', ...e.confusions.map((c) => `| ${label(c.truth)} | ${label(c.predicted)} | ${c.count} | ${c.treeDistance} |`)]
      : ['No mistakes.']),
    '',
  ];
  return lines.join('\n');
}

function escapeMarkdown(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f]/g, ' ').replace(/[\\`*_{}[\]()#+!|<>&]/g, (c) => `\\${c}`);
}
