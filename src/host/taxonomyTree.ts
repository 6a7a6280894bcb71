/** The Taxonomy view: one root per dataset, nodes with counts, children created lazily. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DatasetEntry, Datasets } from './datasets';
import type { DatasetSummary } from './inspection';

export type TaxonomyElement = { kind: 'dataset'; target: string } | { kind: 'node'; target: string; node: number };

export class TaxonomyTree implements vscode.TreeDataProvider<TaxonomyElement>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TaxonomyElement | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** One object per element so that reveal() and selection keep identity across calls. */
  private readonly elements = new Map<string, TaxonomyElement>();
  private readonly subscription: vscode.Disposable;

  constructor(private readonly datasets: Datasets) {
    this.subscription = datasets.onDidChange(() => {
      this.elements.clear();
      this.changed.fire(undefined);
    });
  }

  element(target: string, node?: number): TaxonomyElement {
    const key = node === undefined ? target : `${target}#${node}`;
    let e = this.elements.get(key);
    if (!e) {
      e = node === undefined ? { kind: 'dataset', target } : { kind: 'node', target, node };
      this.elements.set(key, e);
    }
    return e;
  }

  getChildren(element?: TaxonomyElement): TaxonomyElement[] {
    if (!element) return this.datasets.list().map((d) => this.element(d.target));
    const summary = this.datasets.get(element.target)?.summary;
    if (!summary) return [];
    const ids = element.kind === 'dataset' ? summary.roots : summary.nodes[element.node].children;
    return ids.map((id) => this.element(element.target, id));
  }

  getParent(element: TaxonomyElement): TaxonomyElement | undefined {
    if (element.kind === 'dataset') return undefined;
    const summary = this.datasets.get(element.target)?.summary;
    const parent = summary?.nodes[element.node]?.parent ?? -1;
    return parent === -1 ? this.element(element.target) : this.element(element.target, parent);
  }

  getTreeItem(element: TaxonomyElement): vscode.TreeItem {
    const entry = this.datasets.get(element.target);
    if (element.kind === 'dataset') return datasetItem(element, entry);
    const summary = entry!.summary!;
    const node = summary.nodes[element.node];
    const leaf = node.children.length === 0;
    const item = new vscode.TreeItem(node.name, leaf ? vscode.TreeItemCollapsibleState.None : vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `${element.target}#${element.node}`;
    const fullPath = pathOf(summary, element.node).join(' > ');
    const predicted = entry?.learning?.predicted?.get(fullPath);
    const accuracy = entry?.learning?.accuracy?.get(fullPath);
    item.description = [
      summary.preview ? 'counting…' : String(node.count),
      predicted !== undefined ? `${predicted} predicted` : undefined,
      accuracy !== undefined ? `${Math.round(accuracy.accuracy * 100)} % accurate` : undefined,
    ]
      .filter(Boolean)
      .join(' · ');
    item.iconPath = new vscode.ThemeIcon(leaf ? 'tag' : 'type-hierarchy-sub');
    item.contextValue = leaf ? 'taxon.leaf' : 'taxon.internalNode';
    const tooltip = new vscode.MarkdownString();
    tooltip.appendText(fullPath);
    tooltip.appendMarkdown('\n\n');
    if (node.description) tooltip.appendText(node.description).appendMarkdown('\n\n');
    tooltip.appendText(`${node.count} image${node.count === 1 ? '' : 's'} labelled at or under this node · ${leaf ? 'leaf' : `${node.children.length} children`}`);
    if (predicted !== undefined) tooltip.appendMarkdown('\n\n').appendText(`${predicted} images predicted at or under it by the trained classifiers`);
    if (accuracy !== undefined) tooltip.appendMarkdown('\n\n').appendText(`Hold-out evaluation: ${(accuracy.accuracy * 100).toFixed(1)} % of its ${accuracy.n} test images predicted at or under it`);
    item.tooltip = tooltip;
    item.accessibilityInformation = { label: `${fullPath}, ${node.count} images, ${leaf ? 'leaf' : 'category'}` };
    if (node.source) {
      const r = node.source.range;
      item.command = {
        command: 'vscode.open',
        title: 'Open Definition',
        arguments: [vscode.Uri.file(node.source.file), { selection: new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character), preview: true }],
      };
    } else if (summary.format === 'folder') {
      const folder = path.join(summary.treeTop ?? summary.root, ...pathOf(summary, element.node));
      item.command = { command: 'revealInExplorer', title: 'Reveal Folder', arguments: [vscode.Uri.file(folder)] };
    }
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

function datasetItem(element: TaxonomyElement, entry: DatasetEntry | undefined): vscode.TreeItem {
  const name = datasetName(element.target);
  const summary = entry?.summary;
  // Expanded from the first render: VS Code keeps a row's state by id once it has shown it.
  const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.Expanded);
  item.id = element.target;
  item.contextValue = 'taxon.dataset';
  if (summary?.preview) {
    item.description = 'reading items…';
    item.iconPath = new vscode.ThemeIcon('loading~spin');
  } else if (summary) {
    item.description = `${summary.images} images · ${summary.unlabelled} unlabelled`;
    item.iconPath = new vscode.ThemeIcon('database');
    const tooltip = new vscode.MarkdownString();
    tooltip.appendText(`${element.target}\n\n${summary.format} · ${summary.nodes.length} nodes · depth ${summary.maxDepth} · ${summary.images} images (${summary.unlabelled} unlabelled)`);
    item.tooltip = tooltip;
  } else if (entry?.error) {
    item.description = 'cannot be read';
    item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
    item.tooltip = new vscode.MarkdownString().appendText(entry.error);
  } else {
    item.description = 'loading…';
    item.iconPath = new vscode.ThemeIcon('loading~spin');
  }
  return item;
}

export function datasetName(target: string): string {
  const base = path.basename(target);
  const dir = path.dirname(target);
  if (path.basename(dir) === 'annotations') return `${path.basename(path.dirname(dir))} (${base})`;
  if (/\.(json|jsonl|ndjson|csv)$/i.test(base)) return `${path.basename(dir)} (${base})`;
  return base;
}

export function pathOf(summary: DatasetSummary, node: number): string[] {
  const out: string[] = [];
  for (let n = node; n !== -1; n = summary.nodes[n].parent) out.push(summary.nodes[n].name);
  return out.reverse();
}
