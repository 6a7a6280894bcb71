/**
 * Inside a real VS Code: "Taxon: Audit Labels" on a CSV dataset of 24 real photos in which one
 * goldfish is labelled pizza and one espresso is a byte-identical copy of a tabby: both become
 * warnings on their lines; "Relabel as animal > goldfish" rewrites the line in the open editor and
 * saves the file; "Mark as reviewed" drops the duplicate warning and a new audit does not raise it.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaxonApi } from '../../src/host/extension';
import type { AuditSummary } from '../../src/host/learnProtocol';

const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;

const CLASS: Record<string, string> = {
  n01443537: 'animal > goldfish',
  n02123045: 'animal > tabby',
  n07873807: 'food > pizza',
  n07920052: 'food > espresso',
};

suite('Label audit', () => {
  let api: TaxonApi;
  let dir: string;
  let csv: string;

  suiteSetup(async () => {
    api = await vscode.extensions.getExtension<TaxonApi>('taxon.taxon')!.activate();
    await api.ready;
    dir = path.join(workspace(), 'audited');
    fs.mkdirSync(dir, { recursive: true });
    fs.cpSync(path.join(workspace(), 'shop', 'photos'), path.join(dir, 'photos'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'photos', 'n02123045_13.JPEG'), path.join(dir, 'photos', 'n07920052_13.JPEG'));
    const photos = fs.readdirSync(path.join(dir, 'photos')).sort();
    const rows = photos.map((f) => `photos/${f},${f === 'n01443537_12.JPEG' ? 'food > pizza' : CLASS[f.slice(0, 9)]}`);
    csv = path.join(dir, 'labels.csv');
    fs.writeFileSync(csv, ['image,path', ...rows].join('\n') + '\n');
    await api.datasets.discover();
  });

  test('Audit Labels raises the wrong label and the duplicate pair on their lines; the quick fixes relabel and mark as reviewed', async () => {
    const summary = await vscode.commands.executeCommand<AuditSummary>('taxon.auditLabels', api.tree.element(csv));
    assert.ok(summary, 'the audit reports a summary');
    assert.strictEqual(summary.judged, 24);
    assert.ok(fs.existsSync(path.join(dir, '.taxon', 'audit.json')), 'findings saved for the gallery');

    const uri = vscode.Uri.file(csv);
    const diagnostics = () => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'taxon');
    const lines = fs.readFileSync(csv, 'utf8').split('\n');
    const lineOf = (image: string) => lines.findIndex((l) => l.startsWith(`photos/${image},`));
    const suspicious = diagnostics().filter((d) => d.code === 'taxon.suspicious-label');
    const wrong = suspicious.find((d) => d.range.start.line === lineOf('n01443537_12.JPEG'));
    assert.ok(wrong, `the goldfish labelled pizza is flagged on its line: ${suspicious.map((d) => `${d.range.start.line}: ${d.message}`).join(' | ')}`);
    assert.match(wrong.message, /suggests "animal > goldfish"/);
    const duplicate = diagnostics().find((d) => d.code === 'taxon.near-duplicate');
    assert.ok(duplicate, 'the copied photo is flagged as a duplicate');
    assert.strictEqual(duplicate.range.start.line, lineOf('n07920052_13.JPEG'));
    assert.match(duplicate.message, /byte-identical/);

    // Relabel through the quick fix, with the file open in an editor (undo-able edit, then saved).
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, wrong.range);
    const relabel = actions.find((a) => a.title === 'Relabel as animal > goldfish');
    assert.ok(relabel?.command, `a "Relabel as" quick fix: ${actions.map((a) => a.title).join(' | ')}`);
    assert.ok(actions.some((a) => a.title === 'Mark label as reviewed'));
    await vscode.commands.executeCommand(relabel.command.command, ...(relabel.command.arguments ?? []));
    const onDisk = fs.readFileSync(csv, 'utf8').split('\n');
    assert.strictEqual(onDisk[lineOf('n01443537_12.JPEG')], 'photos/n01443537_12.JPEG,animal > goldfish', 'the label file on disk holds the new label');
    assert.strictEqual(onDisk.length, lines.length, 'no line added or lost');
    assert.ok(!diagnostics().some((d) => d.code === 'taxon.suspicious-label' && d.range.start.line === lineOf('n01443537_12.JPEG')), 'its warning is gone');

    // Mark the duplicate pair as reviewed: gone now, and not raised by the next audit.
    const dupActions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, duplicate.range);
    const review = dupActions.find((a) => a.title === 'Mark duplicate pair as reviewed');
    assert.ok(review?.command, `a "Mark as reviewed" quick fix on the duplicate: ${dupActions.map((a) => a.title).join(' | ')}`);
    await vscode.commands.executeCommand(review.command.command, ...(review.command.arguments ?? []));
    assert.ok(!diagnostics().some((d) => d.code === 'taxon.near-duplicate'));
    const reviewed = JSON.parse(fs.readFileSync(path.join(dir, '.taxon', 'reviewed.json'), 'utf8')).reviewed as string[];
    assert.strictEqual(reviewed.length, 1);
    const again = await vscode.commands.executeCommand<AuditSummary>('taxon.auditLabels', api.tree.element(csv));
    assert.ok(again);
    assert.strictEqual(again.reviewedHidden, 1);
    assert.ok(!diagnostics().some((d) => d.code === 'taxon.near-duplicate'), 'the reviewed pair is not raised again');
    assert.ok(!diagnostics().some((d) => d.code === 'taxon.suspicious-label' && d.range.start.line === lineOf('n01443537_12.JPEG')), 'the relabelled goldfish is no longer suspicious');
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(dir, { recursive: true, force: true });
    await api.datasets.discover();
  });
});
