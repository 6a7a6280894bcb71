/**
 * Inside a real VS Code: run inference on a folder, cancel a second run halfway, and find the
 * cache intact (the next run completes and takes the images done before the cancel from it).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import * as vscode from 'vscode';
import { waitFor } from './support';
import type { EmbedResult } from '../../src/core/model/embed';
import type { TaxonApi } from '../../src/host/extension';

const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;

suite('Inference on a folder', () => {
  let api: TaxonApi;

  suiteSetup(async () => {
    api = await vscode.extensions.getExtension<TaxonApi>('taxon.taxon')!.activate();
    await api.ready;
    await vscode.workspace.getConfiguration('taxon').update('inference.batchSize', 8, vscode.ConfigurationTarget.Workspace);
    // other suites may have embedded these folders already: start from an empty cache
    for (const folder of ['pets', 'gallery']) fs.rmSync(path.join(workspace(), folder, '.taxon'), { recursive: true, force: true });
  });

  test('embeds a dataset folder and reports what it did', async () => {
    const pets = vscode.Uri.file(path.join(workspace(), 'pets'));
    const result = await vscode.commands.executeCommand<EmbedResult>('taxon.runInference', pets);
    assert.ok(result, 'the command returns its result');
    assert.strictEqual(result.images, 6);
    assert.strictEqual(result.embedded + result.fromCache, 6);
    assert.deepStrictEqual(result.skipped, []);
    assert.strictEqual(result.model.dim, 1280, 'the bundled MobileNetV2 embeds to 1280-d');
    assert.ok(fs.existsSync(path.join(workspace(), 'pets', '.taxon', '.gitignore')), '.taxon/ gets its own .gitignore');
  });

  test('a cancelled run keeps what it embedded, and the next run completes from that cache', async () => {
    const gallery = vscode.Uri.file(path.join(workspace(), 'gallery'));
    const running = vscode.commands.executeCommand<EmbedResult>('taxon.runInference', gallery);
    await waitFor('the first batches', () => (api.inference.lastProgress?.done ?? 0) >= 16);
    await vscode.commands.executeCommand('taxon.cancelInference');
    const cancelled = await running;
    assert.ok(cancelled, 'a cancelled run still reports');
    assert.strictEqual(cancelled.cancelled, true);
    const kept = cancelled.embedded + cancelled.fromCache;
    assert.ok(kept >= 16 && kept < 240, `stopped within a batch or so of the cancel (kept ${kept} of 240)`);

    // The extension host's responsiveness while embedding: recorded (test-results/), not asserted.
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const again = await vscode.commands.executeCommand<EmbedResult>('taxon.runInference', gallery);
    delay.disable();
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    const record = { images: again.images, embedded: again.embedded, p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
    console.log(`extension-host event-loop delay while embedding: ${JSON.stringify(record)}`);
    const results = path.join(api.extensionPath, 'test-results');
    fs.mkdirSync(results, { recursive: true });
    fs.writeFileSync(path.join(results, 'inference-event-loop.json'), JSON.stringify(record, null, 2) + '\n');
    assert.strictEqual(again.cancelled, false);
    assert.strictEqual(again.embedded + again.fromCache, 240, 'the next run completes');
    assert.ok(again.fromCache >= cancelled.embedded, `took ${again.fromCache} from the cache (the cancelled run embedded ${cancelled.embedded})`);
    assert.strictEqual(again.embedded, 240 - again.fromCache);
  });
});
