/**
 * Taxon's extension host entry point: wires the dataset registry, the taxonomy view, validation
 * on open and save, and the commands. Heavy work happens in the worker (dist/worker.js).
 */

import * as vscode from 'vscode';
import { AuditFindings } from './audit';
import { Datasets } from './datasets';
import { NodeGallery } from './gallery';
import { InferenceRunner } from './inference';
import { Inspector } from './inspector';
import { LabelingController } from './labelingPanel';
import { fileLabelSink } from './labelSink';
import { LearningCommands } from './learning';
import { QuickFixProvider } from './quickFixes';
import { datasetName, pathOf, type TaxonomyElement, TaxonomyTree } from './taxonomyTree';

export interface TaxonApi {
  datasets: Datasets;
  tree: TaxonomyTree;
  view: vscode.TreeView<TaxonomyElement>;
  inference: InferenceRunner;
  learning: LearningCommands;
  labeling: LabelingController;
  gallery: NodeGallery;
  audit: AuditFindings;
  extensionPath: string;
  /** Resolves when the first discovery and inspection of the workspace has finished. */
  ready: Promise<void>;
}

const ANNOTATION_GLOB = '**/*.{json,csv,jsonl,ndjson}';

export function activate(context: vscode.ExtensionContext): TaxonApi {
  const inspector = new Inspector(context.extensionPath);
  const datasets = new Datasets(inspector);
  const tree = new TaxonomyTree(datasets);
  const view = vscode.window.createTreeView('taxon.taxonomy', { treeDataProvider: tree, showCollapseAll: true });
  const inference = new InferenceRunner(context.extensionPath, datasets);
  const learning = new LearningCommands(context.extensionPath, datasets);
  const labeling = new LabelingController(context.extensionUri, datasets, fileLabelSink);
  const queueView = vscode.window.createTreeView('taxon.queue', { treeDataProvider: labeling });
  const gallery = new NodeGallery(context.extensionUri, datasets, labeling);
  const audit = new AuditFindings(context.extensionPath, learning);
  context.subscriptions.push(inspector, datasets, tree, view, inference, learning, labeling, queueView, gallery, audit);

  context.subscriptions.push(
    vscode.languages.registerCodeActionsProvider(
      [{ scheme: 'file', pattern: ANNOTATION_GLOB }],
      new QuickFixProvider(datasets),
      { providedCodeActionKinds: QuickFixProvider.kinds },
    ),
  );

  const revalidate = (doc: vscode.TextDocument) => {
    if (doc.uri.scheme !== 'file') return;
    const owner = datasets.owner(doc.uri.fsPath);
    if (owner) void datasets.refresh(owner.target, owner.target === doc.uri.fsPath ? { file: doc.uri.fsPath, content: doc.getText() } : undefined);
    else if (/\.(json|csv|jsonl|ndjson)$/i.test(doc.uri.fsPath)) void datasets.discover();
  };
  context.subscriptions.push(vscode.workspace.onDidSaveTextDocument(revalidate), vscode.workspace.onDidOpenTextDocument(revalidate));

  const watcher = vscode.workspace.createFileSystemWatcher(ANNOTATION_GLOB);
  const onDisk = (uri: vscode.Uri) => {
    const owner = datasets.owner(uri.fsPath);
    if (owner) datasets.scheduleRefresh(owner.target);
  };
  watcher.onDidChange(onDisk);
  watcher.onDidCreate(() => void datasets.discover());
  watcher.onDidDelete(() => void datasets.discover());
  context.subscriptions.push(watcher);

  context.subscriptions.push(
    vscode.commands.registerCommand('taxon.refresh', () => datasets.discover()),
    vscode.commands.registerCommand('taxon.validateAll', async () => {
      await vscode.window.withProgress({ location: { viewId: 'taxon.taxonomy' }, title: 'Validating annotations' }, () => datasets.discover());
      await vscode.commands.executeCommand('workbench.actions.view.problems');
    }),
    vscode.commands.registerCommand('taxon.findNode', () => findNode(datasets, tree, view)),
    vscode.commands.registerCommand('taxon.runInference', (uri?: vscode.Uri) => inference.run(uri instanceof vscode.Uri ? uri : undefined)),
    vscode.commands.registerCommand('taxon.trainClassifiers', (element?: TaxonomyElement) => learning.train(element?.target)),
    vscode.commands.registerCommand('taxon.evaluate', (element?: TaxonomyElement) => learning.evaluate(element?.target)),
    vscode.commands.registerCommand('taxon.auditLabels', (element?: TaxonomyElement) => audit.run(element?.target)),
    vscode.commands.registerCommand('taxon.openLabeling', (arg?: string | TaxonomyElement) =>
      labeling.open(typeof arg === 'string' ? { image: arg } : arg?.kind === 'dataset' ? { target: arg.target } : {}),
    ),
    vscode.commands.registerCommand('taxon.showImages', (element?: TaxonomyElement) => gallery.show(element?.kind ? element : undefined)),
    vscode.commands.registerCommand('taxon.retrainAffected', () => labeling.retrain()),
    vscode.commands.registerCommand('taxon.filterQueue', () => labeling.filterByNode()),
    vscode.commands.registerCommand('taxon.refreshQueue', () => labeling.refreshQueue()),
    vscode.commands.registerCommand('taxon.cancelInference', () => {
      if (!inference.cancel()) void vscode.window.showInformationMessage('Taxon: no inference is running.');
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('taxon')) void datasets.discover();
    }),
  );

  const ready = datasets
    .discover()
    .then(() => {
      for (const doc of vscode.workspace.textDocuments) revalidate(doc);
      return datasets.idle();
    });
  return { datasets, tree, view, inference, learning, labeling, gallery, audit, extensionPath: context.extensionPath, ready };
}

export function deactivate(): void {}

async function findNode(datasets: Datasets, tree: TaxonomyTree, view: vscode.TreeView<TaxonomyElement>): Promise<void> {
  type Pick = vscode.QuickPickItem & { target: string; node: number };
  const items: Pick[] = [];
  const multiple = datasets.list().filter((d) => d.summary).length > 1;
  for (const entry of datasets.list()) {
    const s = entry.summary;
    if (!s) continue;
    for (let id = 0; id < s.nodes.length; id++) {
      const p = pathOf(s, id);
      items.push({
        label: s.nodes[id].name,
        description: p.join(' > '),
        detail: multiple ? `${datasetName(entry.target)} · ${s.nodes[id].count} images` : `${s.nodes[id].count} images`,
        target: entry.target,
        node: id,
      });
    }
  }
  if (items.length === 0) {
    void vscode.window.showInformationMessage('Taxon: no taxonomy loaded yet. Open a folder with Datumaro, CSV, JSONL or folder-tree annotations.');
    return;
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Taxon: Find Node',
    placeHolder: 'Type part of a node name or path',
    matchOnDescription: true,
    matchOnDetail: false,
  });
  if (!picked) return;
  await view.reveal(tree.element(picked.target, picked.node), { select: true, focus: true, expand: true });
}

