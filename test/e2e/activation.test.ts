/**
 * Smoke test of the harness: the Taxon extension is present in code-server's extension host,
 * activates on the fixture workspace and registers its commands.
 */
import * as assert from 'assert';
import * as vscode from 'vscode';

suite('Activation', () => {
  test('taxon.taxon is installed and activates on the fixture workspace', async () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.strictEqual(folders.length, 1, 'one workspace folder is open');
    assert.ok(folders[0].uri.fsPath.endsWith('workspace'), folders[0].uri.fsPath);
    const ext = vscode.extensions.getExtension('taxon.taxon');
    assert.ok(ext, 'extension taxon.taxon is known');
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
  });

  test('contributes its commands', async () => {
    const commands = await vscode.commands.getCommands(true);
    for (const id of ['taxon.refresh', 'taxon.findNode', 'taxon.validateAll']) {
      assert.ok(commands.includes(id), `command ${id} is registered`);
    }
  });
});
