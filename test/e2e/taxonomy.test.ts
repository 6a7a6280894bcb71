/**
 * Inside a real VS Code (code-server): activation, the taxonomy tree's nodes and counts,
 * validation on save with diagnostics on the right lines, and a quick fix.
 */
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { waitFor } from './support';
import type { TaxonApi } from '../../src/host/extension';
import type { TaxonomyElement } from '../../src/host/taxonomyTree';

const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;

/** Saves, retrying: on a loaded machine VS Code can abort a save whose participants run late. */
async function save(doc: vscode.TextDocument): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) if (await doc.save()) return;
  assert.fail(`${doc.uri.fsPath} could not be saved`);
}

function treeLabels(api: TaxonApi, elements: TaxonomyElement[]): Array<[string, string]> {
  return elements.map((e) => {
    const item = api.tree.getTreeItem(e);
    const label = typeof item.label === 'string' ? item.label : item.label!.label;
    return [label, String(item.description)];
  });
}

suite('Taxon in VS Code', () => {
  let api: TaxonApi;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<TaxonApi>('taxon.taxon');
    assert.ok(ext, 'the extension is installed');
    api = await ext.activate();
    await api.ready;
  });

  test('activates on the fixture workspace and finds one dataset per annotation format', () => {
    const roots = treeLabels(api, api.tree.getChildren());
    assert.deepStrictEqual(
      roots.map(([label]) => label),
      ['pets (train.json)', 'products (labels.csv)', 'shop (labels.csv)', 'zoo (labels.jsonl)'],
    );
    assert.deepStrictEqual(roots[0][1], '6 images · 1 unlabelled');
  });

  test('the tree shows the nodes of each dataset with images counted at or under each node', () => {
    const pets = api.tree.getChildren()[0];
    const top = api.tree.getChildren(pets);
    assert.deepStrictEqual(treeLabels(api, top), [
      ['animal', '3'],
      ['vehicle', '2'],
    ]);
    assert.deepStrictEqual(treeLabels(api, api.tree.getChildren(top[0])), [
      ['cat', '2'],
      ['dog', '1'],
    ]);
    const cat = api.tree.getTreeItem(api.tree.getChildren(top[0])[0]);
    assert.strictEqual(cat.collapsibleState, vscode.TreeItemCollapsibleState.None, 'a leaf does not expand');
    assert.strictEqual((cat.iconPath as vscode.ThemeIcon).id, 'tag');
    assert.strictEqual((api.tree.getTreeItem(top[0]).iconPath as vscode.ThemeIcon).id, 'type-hierarchy-sub');
    assert.strictEqual(cat.command?.command, 'vscode.open', 'clicking a Datumaro node opens its definition');
  });

  test('saving an annotation file with an unknown label, an inconsistent path and a ../ image path reports each on its line; a quick fix removes one', async () => {
    const file = path.join(workspace(), 'zoo', 'labels.jsonl');
    const uri = vscode.Uri.file(file);
    const doc = await vscode.workspace.openTextDocument(uri);
    const original = doc.getText();
    const broken = [
      '{"image": "photos/lion1.jpg", "path": "mammal > lion"}',
      '{"image": "photos/lion2.jpg", "path": "mammal > lioon"}',
      '{"image": "photos/eagle1.jpg", "paths": ["bird > eagle", "fish"]}',
      '{"image": "../../outside.jpg", "path": "fish > trout"}',
      '',
    ].join('\n');
    try {
      await vscode.window.showTextDocument(doc);
      const edit = new vscode.WorkspaceEdit();
      edit.replace(uri, new vscode.Range(0, 0, doc.lineCount, 0), broken);
      assert.ok(await vscode.workspace.applyEdit(edit));
      await save(doc);
      const diagnostics = await waitFor('three diagnostics after save', () => {
        const d = vscode.languages.getDiagnostics(uri);
        return d.length >= 3 && d;
      });
      const byCode = (code: string) => diagnostics.filter((d) => d.code === code);
      assert.deepStrictEqual(byCode('taxon.unknown-label').map((d) => d.range.start.line), [1]);
      assert.deepStrictEqual(byCode('taxon.inconsistent-path').map((d) => d.range.start.line), [2]);
      assert.deepStrictEqual(byCode('taxon.path-outside-root').map((d) => d.range.start.line), [3]);
      for (const d of diagnostics) assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Error);

      const unknown = byCode('taxon.unknown-label')[0];
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, unknown.range);
      const fix = actions.find((a) => a.title.includes('mammal > lion'));
      assert.ok(fix?.edit, `a quick fix to the closest path is offered (got ${actions.map((a) => a.title).join(', ')})`);
      assert.ok(await vscode.workspace.applyEdit(fix.edit));
      assert.strictEqual(doc.lineAt(1).text, '{"image": "photos/lion2.jpg", "path": "mammal > lion"}');
      await save(doc);
      await waitFor('the unknown label diagnostic to go', () => {
        const d = vscode.languages.getDiagnostics(uri);
        return d.length === diagnostics.length - 1 && !d.some((x) => x.code === 'taxon.unknown-label');
      });
    } finally {
      const restore = new vscode.WorkspaceEdit();
      restore.replace(uri, new vscode.Range(0, 0, doc.lineCount, 0), original);
      await vscode.workspace.applyEdit(restore);
      await save(doc);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
    await waitFor('diagnostics to clear after restoring the file', () => vscode.languages.getDiagnostics(uri).length === 0);
  });

  test('Find Node reveals the picked node in the tree', async () => {
    const picked = vscode.commands.executeCommand('taxon.findNode');
    await new Promise((r) => setTimeout(r, 500));
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await picked;
    const selected = await waitFor('a node to be selected in the tree', () => api.view.selection.length === 1 && api.view.selection[0]);
    assert.strictEqual(selected.kind, 'node');
  });
});
