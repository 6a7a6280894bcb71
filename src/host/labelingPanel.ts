/**
 * The labelling panel and the queue view: the host side of the active-learning loop. The
 * session worker ranks and retrains; this file shows images, turns keys into labels, writes
 * them to the annotation file and keeps the queue view in step.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InferenceMode } from '../core/learn/inference';
import { DEFAULT_SELECTION, QUEUE_SETTINGS, type SelectionOptions, type StrategyName } from '../core/learn/selection';
import { parseWebviewMessage, type HostMessage, type KeyHelp, type QueueItemView, type WebviewMessage } from '../protocol';
import type { DatasetEntry, Datasets } from './datasets';
import { SessionClient } from './sessionClient';
import type { SessionItem } from './sessionProtocol';
import { datasetName, pathOf } from './taxonomyTree';
import { webviewHtml } from './webviewHtml';

/** Writes one label to the dataset's annotation file (null clears it). */
export interface LabelSink {
  write(entry: DatasetEntry, image: string, path: string[] | null): Promise<void>;
}

interface QueueRow {
  image: string;
  score: number;
  predicted: string[];
}

const KEYS: KeyHelp[] = [
  { keys: 'Enter', action: 'accept the predicted path' },
  { keys: 'Shift+Enter', action: 'accept only the confident part of the path' },
  { keys: '1–9', action: 'label with that alternative' },
  { keys: '/', action: 'search every path (↑ ↓ to move, Enter to label, Escape to leave)' },
  { keys: 's', action: 'skip this image' },
  { keys: 'u', action: 'undo the last label' },
  { keys: '← →', action: 'previous / next image' },
  { keys: 'r', action: 'retrain the affected nodes now' },
  { keys: '?', action: 'show or hide these keys' },
];

export class LabelingController implements vscode.TreeDataProvider<QueueRow>, vscode.Disposable {
  private session: SessionClient | undefined;
  private entry: DatasetEntry | undefined;
  private panel: vscode.WebviewPanel | undefined;
  private rows: QueueRow[] = [];
  private total = 0;
  private index = 0;
  private readonly details = new Map<string, SessionItem>();
  private readonly history: Array<{ image: string; previous: string[] | null }> = [];
  private labelsSinceRetrain = 0;
  private under: string[] | undefined;
  private readonly treeChanged = new vscode.EventEmitter<QueueRow | undefined>();
  readonly onDidChangeTreeData = this.treeChanged.event;
  /** Times (ms) from a key press to the next image shown, as the webview reports them. */
  readonly shownMillis: number[] = [];
  /** What the last retrain did (for tests and the status line). */
  lastRetrain: { nodes: string[]; millis: number } | undefined;

  private readonly sink: LabelSink;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly datasets: Datasets,
    sink: (session: () => SessionClient | undefined) => LabelSink,
  ) {
    this.sink = sink(() => this.session);
    this.configWatch = vscode.workspace.onDidChangeConfiguration((e) => {
      if (this.session && Object.values(QUEUE_SETTINGS).some((key) => e.affectsConfiguration(key))) {
        void this.applyQueueSettings();
      }
    });
  }

  private readonly configWatch: vscode.Disposable;

  /** The strategy the open session ranks by. */
  private strategy: StrategyName | undefined;

  private postInit(): void {
    const summary = this.entry!.summary!;
    const paths = summary.nodes.map((_, id) => pathOf(summary, id));
    this.post({ type: 'init', paths, datasetName: datasetName(this.entry!.target), strategy: this.strategy ?? '', keys: KEYS });
  }

  /** Re-ranks the open queue after its settings changed. */
  private async applyQueueSettings(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const { strategy, selection } = queueSettings(vscode.workspace.getConfiguration('taxon'));
    try {
      await session.request({ type: 'strategy', strategy, selection }, 'ok');
    } catch (err) {
      void vscode.window.showErrorMessage(`Taxon: the queue keeps its order: ${(err as Error).message}`);
      return;
    }
    this.strategy = strategy;
    this.details.clear();
    this.index = 0;
    await this.refreshQueue();
    if (this.panel) this.postInit();
    await this.show();
    void vscode.window.setStatusBarMessage(`Taxon: queue re-ranked by ${strategy}`, 5000);
  }

  // ---- the queue view ------------------------------------------------------------------

  getChildren(element?: QueueRow): QueueRow[] {
    return element ? [] : this.rows;
  }

  getTreeItem(row: QueueRow): vscode.TreeItem {
    const item = new vscode.TreeItem(path.posix.basename(row.image));
    item.id = row.image;
    item.description = `${row.score.toFixed(3)} · ${row.predicted.join(' > ') || '(no prediction)'}`;
    item.tooltip = new vscode.MarkdownString().appendText(`${row.image}\n\nscore ${row.score.toFixed(4)}\npredicted: ${row.predicted.join(' > ')}`);
    item.iconPath = new vscode.ThemeIcon('file-media');
    item.command = { command: 'taxon.openLabeling', title: 'Label', arguments: [row.image] };
    item.accessibilityInformation = { label: `${row.image}, score ${row.score.toFixed(2)}, predicted ${row.predicted.join(' then ')}` };
    return item;
  }

  get queueSize(): number {
    return this.total;
  }

  get currentImage(): string | undefined {
    return this.rows[this.index]?.image;
  }

  // ---- opening -------------------------------------------------------------------------

  /** Opens (or reveals) the panel on a dataset (asked when not given); `image` jumps to that queued image. */
  async open(options: { image?: string; target?: string } = {}): Promise<void> {
    const { image, target } = options;
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Taxon does not label in Restricted Mode. Trust this workspace first.');
      return;
    }
    if (target && this.entry && this.entry.target !== target) this.close();
    if (!this.session) {
      const entry = target ? this.datasets.get(target) : await this.pickDataset();
      if (!entry) return;
      const ok = await this.startSession(entry);
      if (!ok) return;
    }
    if (image) {
      const i = this.rows.findIndex((r) => r.image === image);
      if (i >= 0) this.index = i;
      else if (!(await this.insertImage(image))) return;
    }
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Active);
      await this.show();
      return;
    }
    this.panel = this.createPanel();
  }

  /** Puts an image that is not in the queue (a labelled one, opened from the gallery) at the current position. */
  private async insertImage(image: string): Promise<boolean> {
    const d = await this.session!.request({ type: 'details', images: [image] }, 'details');
    const item = d.items[0];
    if (!item) {
      void vscode.window.showWarningMessage(`Taxon: ${image} is not in the labelling session (it has no cached embedding yet, or it is not an item of this dataset).`);
      return false;
    }
    this.details.set(image, item);
    this.rows.splice(this.index, 0, { image, score: item.score, predicted: item.predicted.at(-1)?.path ?? [] });
    if (item.current) this.total++; // an unlabelled image is counted already (queued beyond the rows listed)
    this.treeChanged.fire(undefined);
    return true;
  }

  private async pickDataset(): Promise<DatasetEntry | undefined> {
    const ready = this.datasets.list().filter((d) => d.summary && d.summary.unlabelled > 0);
    if (ready.length === 0) {
      void vscode.window.showInformationMessage('Taxon: no dataset with unlabelled images in this workspace.');
      return undefined;
    }
    if (ready.length === 1) return ready[0];
    const picked = await vscode.window.showQuickPick(
      ready.map((d) => ({ label: datasetName(d.target), description: `${d.summary!.unlabelled} unlabelled images`, entry: d })),
      { title: 'Taxon: Open Labelling Panel', placeHolder: 'Dataset to label' },
    );
    return picked?.entry;
  }

  private async startSession(entry: DatasetEntry): Promise<boolean> {
    const config = vscode.workspace.getConfiguration('taxon');
    const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? entry.target;
    const model = config.get<string>('model', '').trim();
    const cache = config.get<string>('cacheFolder', '').trim();
    const session = new SessionClient(this.extensionUri.fsPath);
    try {
      const opened = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Taxon: preparing the queue for ${datasetName(entry.target)}…` },
        () =>
          session.request(
            {
              type: 'open',
              target: entry.target,
              modelPath: model ? path.resolve(base, model) : undefined,
              cacheDir: cache ? path.resolve(base, cache) : undefined,
              inference: config.get<InferenceMode>('inferenceMode', 'bottomup'),
              ...queueSettings(config),
            },
            'opened',
          ),
      );
      this.session = session;
      this.entry = entry;
      this.strategy = opened.strategy;
      if (opened.trained) void vscode.window.setStatusBarMessage('Taxon: trained the classifiers for the queue', 5000);
      await this.refreshQueue();
      return true;
    } catch (err) {
      session.dispose();
      void vscode.window.showErrorMessage(`Taxon: cannot open the queue: ${(err as Error).message}`);
      return false;
    }
  }

  /** Re-reads the ranked queue from the session (after a retrain or a filter change). */
  async refreshQueue(): Promise<void> {
    if (!this.session) return;
    const limit = vscode.workspace.getConfiguration('taxon').get<number>('queue.viewSize', 500);
    const q = await this.session.request({ type: 'queue', under: this.under, limit }, 'queue');
    this.rows = q.entries;
    this.total = q.total;
    this.index = Math.min(this.index, Math.max(0, this.rows.length - 1));
    this.treeChanged.fire(undefined);
  }

  async filterByNode(): Promise<void> {
    const summary = this.entry?.summary;
    if (!summary || !this.session) {
      void vscode.window.showInformationMessage('Taxon: open the labelling queue first.');
      return;
    }
    const items = [{ label: '$(clear-all) All nodes', path: undefined as string[] | undefined }, ...summary.nodes.map((_, id) => ({ label: pathOf(summary, id).join(' > '), path: pathOf(summary, id) }))];
    const picked = await vscode.window.showQuickPick(items, { title: 'Taxon: Filter Queue by Node', placeHolder: 'Only images predicted at or under this node' });
    if (!picked) return;
    this.under = picked.path;
    this.index = 0;
    await this.refreshQueue();
    await this.show();
  }

  // ---- the panel -----------------------------------------------------------------------

  private createPanel(): vscode.WebviewPanel {
    const root = this.entry!.summary!.root;
    const panel = vscode.window.createWebviewPanel('taxon.labeling', `Label: ${datasetName(this.entry!.target)}`, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [
        vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview'),
        vscode.Uri.joinPath(this.extensionUri, 'media'),
        vscode.Uri.joinPath(this.extensionUri, 'node_modules', '@vscode', 'codicons', 'dist'),
        vscode.Uri.file(root),
      ],
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'taxon.svg');
    panel.webview.html = this.html(panel.webview);
    panel.webview.onDidReceiveMessage((raw) => {
      const message = parseWebviewMessage(raw);
      if (!message) {
        console.warn('[taxon] rejected a malformed message from the labelling panel:', JSON.stringify(raw)?.slice(0, 200));
        return;
      }
      void this.onMessage(message).catch((err) => this.post({ type: 'notice', level: 'error', text: (err as Error).message }));
    });
    panel.onDidDispose(() => {
      this.panel = undefined;
    });
    return panel;
  }

  private html(webview: vscode.Webview): string {
    return webviewHtml(webview, this.extensionUri, { bundle: 'labeling', stylesheets: ['labeling.css'], label: 'Taxon labelling panel', role: 'application', localImages: true });
  }

  private post(message: HostMessage): void {
    void this.panel?.webview.postMessage(message);
  }

  private async onMessage(m: WebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.postInit();
        await this.show();
        return;
      case 'accept': {
        const item = this.details.get(m.image);
        if (!item || item.predicted.length === 0) {
          this.post({ type: 'notice', level: 'warning', text: 'There is no prediction to accept for this image; pick a path instead.' });
          return;
        }
        const levels = m.confidentOnly ? Math.max(1, item.confidentDepth) : item.predicted.length;
        await this.label(m.image, item.predicted[levels - 1].path);
        return;
      }
      case 'label':
        await this.label(m.image, m.path);
        return;
      case 'skip':
        await this.session!.request({ type: 'skip', image: m.image }, 'ok');
        this.advance();
        return;
      case 'undo':
        await this.undo();
        return;
      case 'navigate':
        this.index = Math.max(0, Math.min(this.rows.length - 1, this.index + (m.direction === 'next' ? 1 : -1)));
        await this.show();
        return;
      case 'retrain':
        await this.retrain();
        return;
      case 'shown':
        this.shownMillis.push(m.millis);
        return;
    }
  }

  /** Labels an image: the panel moves on at once; the session and the file follow. */
  async label(image: string, labelPath: string[] | null): Promise<void> {
    const previous = this.details.get(image)?.current ?? null;
    this.history.push({ image, previous });
    const i = this.rows.findIndex((r) => r.image === image);
    if (i >= 0) {
      this.rows.splice(i, 1);
      this.total--;
      if (i < this.index) this.index--;
    }
    this.index = Math.min(this.index, Math.max(0, this.rows.length - 1));
    const showing = this.show();
    this.treeChanged.fire(undefined);
    await this.session!.request({ type: 'label', image, path: labelPath }, 'labelled');
    this.details.delete(image);
    await this.sink.write(this.entry!, image, labelPath);
    this.post({ type: 'labelled', image, path: labelPath, count: this.history.length });
    await showing;
    this.labelsSinceRetrain++;
    const every = vscode.workspace.getConfiguration('taxon').get<number>('queue.retrainEvery', 10);
    if (every > 0 && this.labelsSinceRetrain >= every) await this.retrain();
  }

  async undo(): Promise<void> {
    const last = this.history.pop();
    if (!last) {
      this.post({ type: 'notice', level: 'info', text: 'Nothing to undo.' });
      return;
    }
    await this.session!.request({ type: 'label', image: last.image, path: last.previous }, 'labelled');
    await this.sink.write(this.entry!, last.image, last.previous);
    this.details.delete(last.image);
    if (last.previous === null) {
      const d = await this.session!.request({ type: 'details', images: [last.image] }, 'details');
      const item = d.items[0];
      this.rows.splice(this.index, 0, { image: last.image, score: item?.score ?? 0, predicted: item?.predicted.at(-1)?.path ?? [] });
      this.total++;
    }
    this.treeChanged.fire(undefined);
    this.post({ type: 'labelled', image: last.image, path: last.previous, count: this.history.length });
    await this.show();
  }

  async retrain(): Promise<void> {
    if (!this.session) return;
    this.labelsSinceRetrain = 0;
    const r = await this.session.request({ type: 'retrain' }, 'retrained');
    this.lastRetrain = { nodes: r.nodes, millis: r.millis };
    this.details.clear();
    this.index = 0;
    await this.refreshQueue();
    this.post({ type: 'retrained', nodes: r.nodes.map((node) => ({ node })), millis: r.millis });
    await this.show();
  }

  private advance(): void {
    this.index = Math.min(this.index + 1, Math.max(0, this.rows.length - 1));
    void this.show();
  }

  /** Shows the current image and prefetches the next one's details. */
  private async show(): Promise<void> {
    if (!this.panel || !this.session) return;
    const row = this.rows[this.index];
    if (!row) {
      this.post({ type: 'empty', message: this.total === 0 ? 'Every image in the queue is labelled.' : 'No image left in this filter.' });
      return;
    }
    const wanted = [row.image, this.rows[this.index + 1]?.image].filter((x): x is string => !!x && !this.details.has(x));
    if (wanted.length) {
      const d = await this.session.request({ type: 'details', images: wanted }, 'details');
      for (const item of d.items) this.details.set(item.image, item);
    }
    const item = this.details.get(row.image);
    if (!item) {
      this.post({ type: 'notice', level: 'warning', text: `${row.image} is no longer in the dataset; skipped.` });
      this.rows.splice(this.index, 1);
      return this.show();
    }
    const next = this.rows[this.index + 1];
    const upcoming = next ? this.details.get(next.image) : undefined;
    this.post({
      type: 'show',
      item: this.view(item),
      index: this.index + 1,
      total: this.total,
      next: next ? this.src(next.image) : undefined,
      upcoming: upcoming ? this.view(upcoming) : undefined,
    });
  }

  private view(item: SessionItem): QueueItemView {
    return {
      image: item.image,
      src: this.src(item.image),
      score: item.score,
      predicted: item.predicted.map((l, i) => ({ level: i + 1, node: l.path[l.path.length - 1], p: l.p })),
      confidentDepth: item.confidentDepth,
      alternatives: item.alternatives,
      current: item.current,
    };
  }

  private src(image: string): string {
    return this.panel!.webview.asWebviewUri(vscode.Uri.file(path.join(this.entry!.summary!.root, ...image.split('/')))).toString();
  }

  /** Ends the session (another dataset is opened, or the extension stops). */
  private close(): void {
    this.panel?.dispose();
    this.session?.dispose();
    this.session = undefined;
    this.entry = undefined;
    this.rows = [];
    this.total = 0;
    this.index = 0;
    this.details.clear();
    this.history.length = 0;
    this.treeChanged.fire(undefined);
  }

  dispose(): void {
    this.close();
    this.configWatch.dispose();
    this.treeChanged.dispose();
  }
}

/** The queue's strategy settings (checked by the session, which names a bad value). */
function queueSettings(config: vscode.WorkspaceConfiguration): { strategy: StrategyName; selection: SelectionOptions } {
  const weights = config.get<unknown>('queue.levelWeights', []);
  const selection: SelectionOptions = {
    hybridSwitchLabelsPerLeaf: config.get<number>('queue.hybridSwitchLabelsPerLeaf', DEFAULT_SELECTION.hybridSwitchLabelsPerLeaf),
    hybridMeasure: config.get<SelectionOptions['hybridMeasure']>('queue.hybridMeasure', DEFAULT_SELECTION.hybridMeasure),
    hybridCandidates: config.get<number>('queue.hybridCandidates', DEFAULT_SELECTION.hybridCandidates),
    hybridRepresentative: config.get<SelectionOptions['hybridRepresentative']>('queue.hybridRepresentative', DEFAULT_SELECTION.hybridRepresentative),
    hybridDiversity: config.get<SelectionOptions['hybridDiversity']>('queue.hybridDiversity', DEFAULT_SELECTION.hybridDiversity),
    hybridDensity: config.get<number>('queue.hybridDensity', DEFAULT_SELECTION.hybridDensity),
    hybridUncoveredWeight: config.get<number>('queue.hybridUncoveredWeight', DEFAULT_SELECTION.hybridUncoveredWeight),
    multilevelWarmStart: config.get<number>('queue.multilevelWarmStartLabelsPerLeaf', DEFAULT_SELECTION.multilevelWarmStart),
  };
  if (Array.isArray(weights) && weights.length > 0) selection.levelWeights = weights as number[];
  return { strategy: config.get<StrategyName>('queue.strategy', 'hybrid'), selection };
}
