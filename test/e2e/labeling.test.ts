/**
 * Inside a real VS Code: the labelling loop's host side on the shop/ fixture (CSV): open the
 * queue, label, undo, retrain, and find exactly the remaining labels in the file on disk.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { waitFor } from './support';
import type { TaxonApi } from '../../src/host/extension';

const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;

function labelledRows(csv: string): string[] {
  return fs
    .readFileSync(csv, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => /,\S/.test(l));
}

suite('Labelling loop', () => {
  let api: TaxonApi;
  let csv: string;

  suiteSetup(async () => {
    api = await vscode.extensions.getExtension<TaxonApi>('taxon.taxon')!.activate();
    await api.ready;
    csv = path.join(workspace(), 'shop', 'labels.csv');
    await vscode.workspace.getConfiguration('taxon').update('queue.retrainEvery', 0, vscode.ConfigurationTarget.Workspace);
  });

  test('label three images, undo one, retrain: the file holds exactly the two remaining labels', async () => {
    const before = labelledRows(csv);
    assert.strictEqual(before.length, 8);
    await vscode.commands.executeCommand('taxon.openLabeling', api.tree.element(csv));
    const labeling = api.labeling;
    await waitFor('the queue', () => labeling.queueSize > 0);
    assert.ok(labeling.queueSize <= 16);
    const queued = labeling.getChildren().map((r) => r.image);
    await labeling.label(queued[0], ['animal', 'goldfish']);
    await labeling.label(queued[1], ['food', 'pizza']);
    await labeling.label(queued[2], ['food']); // a partial label: stop at an internal node
    assert.strictEqual(labelledRows(csv).length, 11);
    await labeling.undo();
    const after = labelledRows(csv);
    assert.strictEqual(after.length, 10, 'the undone label is gone from the file');
    assert.ok(after.some((l) => l.startsWith(`${queued[0]},animal > goldfish`)));
    assert.ok(after.some((l) => l.startsWith(`${queued[1]},food > pizza`)));
    assert.ok(!after.some((l) => l.startsWith(`${queued[2]},`)), 'the third image is unlabelled again');
    await labeling.retrain();
    assert.ok(labeling.lastRetrain && labeling.lastRetrain.nodes.length > 0, 'the touched classifiers retrained');
    assert.ok(labeling.lastRetrain.nodes.includes('(root)'));
    const requeued = labeling.getChildren().map((r) => r.image);
    assert.ok(!requeued.includes(queued[0]) && !requeued.includes(queued[1]), 'labelled images leave the queue');
    assert.ok(requeued.includes(queued[2]), 'the undone image is back in the queue');
  });
});
