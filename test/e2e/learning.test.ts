/**
 * Inside a real VS Code: train the classifiers of a dataset from the command, see predicted
 * counts in the tree, evaluate and get a Markdown report and per-node accuracy.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaxonApi } from '../../src/host/extension';
import type { TrainSummary } from '../../src/host/learnProtocol';
import type { Evaluation } from '../../src/core/learn/workflow';

const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;

suite('Training and evaluation', () => {
  let api: TaxonApi;
  let zoo: string;
  const created: string[] = [];

  suiteSetup(async () => {
    api = await vscode.extensions.getExtension<TaxonApi>('taxon.taxon')!.activate();
    await api.ready;
    zoo = path.join(workspace(), 'zoo', 'labels.jsonl');
  });

  test('Train Classifiers embeds what is missing, trains, and the tree shows predicted counts', async () => {
    const summary = await vscode.commands.executeCommand<TrainSummary>('taxon.trainClassifiers', api.tree.element(zoo));
    assert.ok(summary, 'training reports a summary');
    assert.strictEqual(summary.labelled, 4);
    const dataset = api.tree.element(zoo);
    const top = api.tree.getChildren(dataset);
    const descriptions = top.map((e) => String(api.tree.getTreeItem(e).description));
    assert.ok(descriptions.every((d) => / predicted/.test(d)), `every top-level node shows a predicted count: ${descriptions.join(' | ')}`);
    const predicted = descriptions.map((d) => Number(/(\d+) predicted/.exec(d)![1]));
    assert.strictEqual(predicted.reduce((a, b) => a + b, 0), 4, 'each of the 4 images is predicted under one top-level node');
  });

  test('Evaluate opens a Markdown report with per-level and per-node results, and the tree shows accuracy', async () => {
    // a 240-image JSONL dataset over the noise gallery, labelled by file number (a 2-level taxonomy)
    const lines = Array.from({ length: 240 }, (_, i) => {
      const file = `noise_${String(i).padStart(3, '0')}.png`;
      const path = i % 3 === 0 ? 'warm > red' : i % 3 === 1 ? 'warm > orange' : 'cold > blue';
      return JSON.stringify({ image: file, path });
    });
    const labels = path.join(workspace(), 'gallery', 'labels.jsonl');
    fs.writeFileSync(labels, lines.join('\n') + '\n');
    created.push(labels);
    await api.datasets.discover();
    const evaluation = await vscode.commands.executeCommand<Evaluation | undefined>('taxon.evaluate', api.tree.element(labels));
    assert.ok(evaluation, 'the evaluation reports');
    assert.ok(evaluation.test > 20 && evaluation.test < 80, `about a fifth of 240 items is held out (${evaluation.test})`);
    assert.strictEqual(evaluation.train + evaluation.test, 240);
    const report = vscode.workspace.textDocuments.find((d) => d.languageId === 'markdown' && d.getText().startsWith('# Taxon evaluation'));
    assert.ok(report, 'a Markdown report opens');
    assert.match(report.getText(), /## Per level/);
    assert.match(report.getText(), /\| warm \\> red \|/, 'node paths appear, escaped for Markdown');
    assert.match(report.getText(), /## Worst confusions/);
    const warm = api.tree.getChildren(api.tree.element(labels)).map((e) => String(api.tree.getTreeItem(e).description));
    assert.ok(warm.every((d) => /% accurate/.test(d)), `the tree shows each node's hold-out accuracy: ${warm.join(' | ')}`);
  });

  suiteTeardown(async () => {
    for (const f of created) fs.rmSync(f, { force: true });
    await api.datasets.discover();
  });
});
