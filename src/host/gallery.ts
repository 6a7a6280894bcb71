/**
 * The node gallery ("Taxon: Show Images"): a webview grid of the images at and under a taxonomy
 * node. The gallery worker selects, filters, sorts, makes thumbnails and writes moves; this file
 * opens the panel, checks what the webview sends and relays it.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InferenceMode } from '../core/learn/inference';
import { DEFAULT_PIXEL_LIMIT } from '../core/model/preprocess';
import {
  type GalleryFilterName,
  type GalleryHostMessage,
  type GallerySortName,
  type GalleryWebviewMessage,
  type KeyHelp,
  parseGalleryMessage,
} from '../protocol';
import type { DatasetEntry, Datasets } from './datasets';
import type { GalleryListReply, GalleryReply, GalleryRequest, GalleryThumbsEvent } from './galleryProtocol';
import type { LabelingController } from './labelingPanel';
import { datasetName, pathOf, type TaxonomyElement } from './taxonomyTree';
import { WorkerClient } from './workerClient';
import { webviewHtml } from './webviewHtml';

const KEYS: KeyHelp[] = [
  { keys: '← → ↑ ↓', action: 'move between images' },
  { keys: 'Home End PgUp PgDn', action: 'first, last, a screen up or down' },
  { keys: 'Space', action: 'select or unselect the image' },
  { keys: 'Shift+arrows / Shift+click', action: 'select a range' },
  { keys: 'Ctrl+click', action: 'add or remove one image' },
  { keys: 'Ctrl+A', action: 'select every image in the list' },
  { keys: 'M', action: 'move the selected images to another path' },
  { keys: 'C', action: "confirm: label each selected image with the model's predicted path" },
  { keys: 'Enter', action: 'open the image in the labelling panel' },
  { keys: 'U', action: 'undo the last move' },
  { keys: 'Escape', action: 'clear the selection' },
  { keys: '?', action: 'show or hide these keys' },
];

/** Request/response over the gallery worker, paired by id; thumbnails arrive as events. */
class GalleryWorkerClient extends WorkerClient<GalleryRequest, GalleryReply> {
  constructor(extensionPath: string, onThumbs: (event: GalleryThumbsEvent) => void) {
    super(path.join(extensionPath, 'dist', 'galleryWorker.js'), 'gallery', (message) => {
      const event = message as GalleryThumbsEvent;
      if (event.type !== 'thumbs') return false;
      onThumbs(event);
      return true;
    });
  }
}

export class NodeGallery implements vscode.Disposable {
  private client: GalleryWorkerClient | undefined;
  private entry: DatasetEntry | undefined;
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private node: string[] | null = null;
  private filter: GalleryFilterName = 'all';
  private sort: GallerySortName = 'file';
  private paths: string[][] = [];
  private list: GalleryListReply | undefined;
  private labelFile: string | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private readonly subscription: vscode.Disposable;
  /** The last 200 messages posted to the webview, newest last (for the tests). */
  readonly posted: GalleryHostMessage[] = [];
  /** How many messages were ever posted: `posted` holds the last of them (marks for the tests). */
  postedTotal = 0;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly datasets: Datasets,
    private readonly labeling: LabelingController,
  ) {
    this.subscription = datasets.onDidChange((entry) => {
      if (!this.client || !this.entry || (entry && entry.target !== this.entry.target)) return;
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => void this.reload(), 200);
    });
  }

  /** Opens the gallery on a tree element (a node, or a dataset: all its images); asks for a node when none is given. */
  async show(element?: TaxonomyElement): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Taxon does not open the gallery in Restricted Mode (it writes thumbnails and labels). Trust this workspace first.');
      return;
    }
    const picked = element ?? (await this.pickNode());
    if (!picked) return;
    const entry = this.datasets.get(picked.target);
    const summary = entry?.summary;
    if (!entry || !summary) {
      void vscode.window.showWarningMessage(`Taxon: ${datasetName(picked.target)} is not loaded${entry?.error ? `: ${entry.error}` : ''}.`);
      return;
    }
    const node = picked.kind === 'node' ? pathOf(summary, picked.node) : null;
    if (this.entry && this.entry.target !== entry.target) this.closeWorker();
    this.entry = entry;
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `Taxon: opening the images of ${node ? node.join(' > ') : datasetName(entry.target)}` },
        () => this.openWorker(entry),
      );
    } catch (err) {
      this.closeWorker();
      void vscode.window.showErrorMessage(`Taxon: cannot open the gallery: ${(err as Error).message}`);
      return;
    }
    this.node = node;
    this.filter = 'all';
    const title = `Images: ${node ? node[node.length - 1] : datasetName(entry.target)}`;
    if (this.panel) {
      this.panel.title = title;
      this.panel.reveal(vscode.ViewColumn.Active);
    } else this.panel = this.createPanel(title);
    await this.select();
    if (this.ready) this.postInit();
  }

  private async openWorker(entry: DatasetEntry): Promise<void> {
    const config = vscode.workspace.getConfiguration('taxon');
    const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? entry.target;
    const model = config.get<string>('model', '').trim();
    const cache = config.get<string>('cacheFolder', '').trim();
    this.client ??= new GalleryWorkerClient(this.extensionUri.fsPath, (event) => this.post({ type: 'thumbs', version: event.version, thumbs: event.thumbs }));
    const opened = await this.client.request(
      {
        type: 'open',
        target: entry.target,
        modelPath: model ? path.resolve(base, model) : undefined,
        cacheDir: cache ? path.resolve(base, cache) : undefined,
        inference: config.get<InferenceMode>('inferenceMode', 'bottomup'),
        pixelLimit: config.get<number>('inference.pixelLimit', DEFAULT_PIXEL_LIMIT),
      },
      'opened',
    );
    this.paths = opened.paths;
    this.labelFile = opened.file;
  }

  private async pickNode(): Promise<TaxonomyElement | undefined> {
    type Pick = vscode.QuickPickItem & { element: TaxonomyElement };
    const items: Pick[] = [];
    for (const entry of this.datasets.list()) {
      const s = entry.summary;
      if (!s) continue;
      items.push({ label: `$(database) ${datasetName(entry.target)}`, description: 'every image', detail: `${s.images} images`, element: { kind: 'dataset', target: entry.target } });
      for (let id = 0; id < s.nodes.length; id++) {
        items.push({ label: s.nodes[id].name, description: pathOf(s, id).join(' > '), detail: `${datasetName(entry.target)} · ${s.nodes[id].count} images`, element: { kind: 'node', target: entry.target, node: id } });
      }
    }
    if (items.length === 0) {
      void vscode.window.showInformationMessage('Taxon: no taxonomy loaded yet. Open a folder with Datumaro, CSV, JSONL or folder-tree annotations.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(items, { title: 'Taxon: Show Images', placeHolder: 'The node whose images to show', matchOnDescription: true });
    return picked?.element;
  }

  private createPanel(title: string): vscode.WebviewPanel {
    const panel = vscode.window.createWebviewPanel('taxon.gallery', title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [
        vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview'),
        vscode.Uri.joinPath(this.extensionUri, 'media'),
        vscode.Uri.joinPath(this.extensionUri, 'node_modules', '@vscode', 'codicons', 'dist'),
      ],
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'taxon.svg');
    panel.webview.html = this.html(panel.webview);
    panel.webview.onDidReceiveMessage((raw) => void this.receive(raw));
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
      // the worker holds the dataset, its predictions and the thumbnails queue: free them with the panel
      this.closeWorker();
      this.entry = undefined;
    });
    return panel;
  }

  private html(webview: vscode.Webview): string {
    return webviewHtml(webview, this.extensionUri, { bundle: 'gallery', stylesheets: ['gallery.css'], label: 'Taxon image gallery' });
  }

  private post(message: GalleryHostMessage): void {
    this.posted.push(message);
    this.postedTotal++;
    if (this.posted.length > 200) this.posted.shift();
    void this.panel?.webview.postMessage(message);
  }

  private postInit(): void {
    const entry = this.entry!;
    this.post({
      type: 'init',
      datasetName: datasetName(entry.target),
      title: this.node ? this.node.join(' > ') : `All images of ${datasetName(entry.target)}`,
      paths: this.paths,
      keys: KEYS,
    });
    if (this.list) this.postList(this.list, false);
  }

  private postList(list: GalleryListReply, keepPosition: boolean): void {
    this.post({ type: 'list', ...list, keepPosition });
  }

  private async select(): Promise<GalleryListReply> {
    const { id: _id, type: _type, ...list } = await this.client!.request({ type: 'select', node: this.node, filter: this.filter, sort: this.sort }, 'list');
    this.list = list;
    return list;
  }

  /** The label file changed (a move, the labelling panel, a hand edit): show the list as it is now. */
  private async reload(): Promise<void> {
    if (!this.client) return;
    try {
      const r = await this.client.request({ type: 'reload' }, 'reloaded');
      if (r.list) {
        this.list = r.list;
        this.postList(r.list, true);
      }
    } catch (err) {
      this.post({ type: 'notice', level: 'error', text: (err as Error).message });
    }
  }

  /** Handles a message from the webview (the e2e tests send theirs the same way); false when it was rejected as malformed. */
  async receive(raw: unknown): Promise<boolean> {
    const message = parseGalleryMessage(raw);
    if (!message) {
      console.warn('[taxon] rejected a malformed message from the gallery:', JSON.stringify(raw)?.slice(0, 200));
      return false;
    }
    await this.onMessage(message).catch((err) => this.post({ type: 'notice', level: 'error', text: (err as Error).message }));
    return true;
  }

  private async onMessage(m: GalleryWebviewMessage): Promise<void> {
    const client = this.client;
    if (!client) {
      this.post({ type: 'notice', level: 'warning', text: 'The gallery is not connected to a dataset; open it again from the Taxonomy view.' });
      return;
    }
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.postInit();
        return;
      case 'view':
        this.filter = m.filter;
        this.sort = m.sort;
        this.postList(await this.select(), false);
        return;
      case 'tiles': {
        const r = await client.request({ type: 'tiles', version: m.version, start: m.start, count: m.count }, 'tiles');
        this.post({ type: 'tiles', version: r.version, start: r.start, tiles: r.tiles });
        return;
      }
      case 'move':
        await this.write({ type: 'move', version: m.version, ranges: m.ranges, path: m.path });
        return;
      case 'confirm':
        await this.write({ type: 'confirm', version: m.version, ranges: m.ranges });
        return;
      case 'undo':
        await this.write({ type: 'undo' });
        return;
      case 'open': {
        const { images } = await client.request({ type: 'images', version: m.version, ranges: [[m.index, m.index + 1]] }, 'images');
        await this.labeling.open({ target: this.entry!.target, image: images[0] });
        return;
      }
    }
  }

  /**
   * Writes a move (or its undo) like any label: journaled by the worker; when the label file is
   * open in an editor, applied there as a workspace edit and saved (so the editor's undo has it).
   */
  private async write(
    request: { type: 'move'; version: number; ranges: Array<[number, number]>; path: string[] } | { type: 'confirm'; version: number; ranges: Array<[number, number]> } | { type: 'undo' },
  ): Promise<void> {
    const client = this.client!;
    const file = this.labelFile;
    const doc = file ? vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file) : undefined;
    let moved: Extract<GalleryReply, { type: 'moved' }>;
    try {
      moved = await client.request({ ...request, editorText: doc?.getText() }, 'moved');
    } catch (err) {
      const message = (err as Error).message;
      this.post({ type: 'notice', level: request.type === 'undo' && /Nothing to undo/.test(message) ? 'info' : 'error', text: message });
      return;
    }
    const name = path.basename(moved.file);
    if (doc && moved.edits && moved.edits.length > 0) {
      const edit = new vscode.WorkspaceEdit();
      for (const e of moved.edits) edit.replace(doc.uri, new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character), e.newText);
      if (!(await vscode.workspace.applyEdit(edit)) || !(await doc.save())) {
        this.post({ type: 'notice', level: 'error', text: `${moved.file}: the labels could not be written through the editor; they are kept in the journal (.taxon/journal.jsonl) and will be written on the next save` });
        return;
      }
      const flushed = await client.request({ type: 'flush' }, 'written');
      if (flushed.error) this.post({ type: 'notice', level: 'error', text: flushed.error });
    } else if (moved.error) {
      this.post({ type: 'notice', level: 'error', text: `${moved.error} — the labels are kept in the journal and written once the file can be written` });
      return;
    }
    const images = (n: number) => `${n} image${n === 1 ? '' : 's'}`;
    const unpredicted = moved.unpredicted ? ` ${images(moved.unpredicted)} had no prediction and kept ${moved.unpredicted === 1 ? 'its' : 'their'} label.` : '';
    const text =
      request.type === 'undo'
        ? `Undone: ${images(moved.count)} got their previous labels back in ${name}.`
        : request.type === 'confirm'
          ? `Confirmed the model's path for ${images(moved.count)} in ${name}${moved.unchanged ? ` (${moved.unchanged} already labelled so)` : ''}.${unpredicted}`
          : moved.count === 0
          ? `Nothing to move: ${images(moved.unchanged)} already at ${request.path.join(' > ')}.`
          : `Moved ${images(moved.count)} to ${request.path.join(' > ')} in ${name}${moved.unchanged ? ` (${moved.unchanged} already there)` : ''}.${moved.changedOnDisk ? ' The file had changed on disk; the labels were applied on top.' : ''}`;
    this.post({ type: 'moved', count: moved.count, path: moved.path, undo: request.type === 'undo', text });
    await this.reload();
  }

  private closeWorker(): void {
    this.client?.dispose();
    this.client = undefined;
    this.list = undefined;
  }

  dispose(): void {
    clearTimeout(this.reloadTimer);
    this.subscription.dispose();
    this.panel?.dispose();
    this.closeWorker();
  }
}
