/**
 * Inside a real VS Code: the node gallery's host side on the products/ fixture (CSV). Open the
 * gallery of `clothing`, get tiles with thumbnails, reject malformed messages, move an image while
 * the label file is open in an editor (the change goes through the editor and is saved), undo it,
 * and open a labelled image in the labelling panel.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaxonApi } from '../../src/host/extension';
import type { GalleryHostMessage } from '../../src/protocol';
import { waitFor } from './support';

const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;

suite('Node gallery', () => {
  let api: TaxonApi;
  let csv: string;

  suiteSetup(async () => {
    api = await vscode.extensions.getExtension<TaxonApi>('taxon.taxon')!.activate();
    await api.ready;
    csv = path.join(workspace(), 'products', 'labels.csv');
  });

  suiteTeardown(async () => {
    // close the gallery and the labelling panel this suite opened, nothing else
    const ours = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview && /taxon\.(gallery|labeling)/.test(t.input.viewType));
    await vscode.window.tabGroups.close(ours);
  });

  /** The newest message of a type posted after mark `after` (a `postedTotal`; `posted` keeps only the last 200). */
  const last = <T extends GalleryHostMessage['type']>(type: T, after = 0) =>
    api.gallery.posted
      .slice(Math.max(0, after - (api.gallery.postedTotal - api.gallery.postedTotal)))
      .filter((m): m is Extract<GalleryHostMessage, { type: T }> => m.type === type)
      .at(-1);

  test('Show Images on a node lists its images; tiles come with thumbnails; a malformed message is refused', async () => {
    const summary = api.datasets.get(csv)!.summary!;
    const clothing = summary.nodes.findIndex((n) => n.name === 'clothing');
    await vscode.commands.executeCommand('taxon.showImages', api.tree.element(csv, clothing));
    const first = await waitFor('the gallery list', () => last('list'));
    assert.strictEqual(first.counts.labelled, 3);
    if (!fs.existsSync(path.join(workspace(), 'products', '.taxon', 'audit.json'))) {
      assert.match(first.notAvailable?.suspicious ?? '', /Run Taxon: Audit Labels first/);
    }
    const init = last('init')!;
    assert.strictEqual(init.title, 'clothing');
    // the labelled images by name (whatever the model predicts for the unlabelled ones)
    let mark = api.gallery.postedTotal;
    assert.strictEqual(await api.gallery.receive({ type: 'view', filter: 'labelled', sort: 'name' }), true);
    const list = await waitFor('the labelled list', () => last('list', mark));
    assert.strictEqual(list.total, 3);

    mark = api.gallery.postedTotal;
    assert.strictEqual(await api.gallery.receive({ type: 'tiles', version: list.version, start: 0, count: 60 }), true);
    const tiles = await waitFor('tiles', () => last('tiles', mark));
    assert.deepStrictEqual(
      tiles.tiles.map((t) => [t.image, t.labels]),
      [
        ['img/shirt1.jpg', ['clothing > shirt']],
        ['img/shirt2.jpg', ['clothing > shirt']],
        ['img/shoe1.jpg', ['clothing > shoe']],
      ],
    );
    // thumbnails not cached yet arrive a moment later
    await waitFor('three thumbnails', () => {
      const made = api.gallery.posted.slice(Math.max(0, mark - (api.gallery.postedTotal - api.gallery.posted.length))).flatMap((m) => (m.type === 'thumbs' ? m.thumbs : m.type === 'tiles' ? m.tiles : []));
      return new Set(made.filter((t) => t.thumb?.startsWith('data:image/webp;base64,')).map((t) => t.index)).size === 3;
    });

    for (const bad of [{ type: 'tiles', version: list.version, start: -1, count: 5 }, { type: 'move', version: list.version, ranges: [[2, 1]], path: ['clothing'] }, { type: 'move', version: list.version, ranges: [[0, 1]], path: [] }, { type: 'nope' }, 'move']) {
      assert.strictEqual(await api.gallery.receive(bad), false, JSON.stringify(bad));
    }
  });

  test('moving an image while its label file is open goes through the editor, is saved, and undoes', async () => {
    const original = fs.readFileSync(csv, 'utf8');
    const doc = await vscode.workspace.openTextDocument(csv);
    await vscode.window.showTextDocument(doc, { preview: false, viewColumn: vscode.ViewColumn.Beside });
    const list = last('list')!;
    let mark = api.gallery.postedTotal;
    await api.gallery.receive({ type: 'move', version: list.version, ranges: [[0, 1]], path: ['clothing', 'shoe'] });
    const moved = await waitFor('moved', () => last('moved', mark));
    assert.match(moved.text, /^Moved 1 image to clothing > shoe in labels\.csv\.$/);
    await waitFor('the file on disk', () => fs.readFileSync(csv, 'utf8').includes('img/shirt1.jpg,clothing > shoe,1001'));
    assert.strictEqual(doc.getText(), fs.readFileSync(csv, 'utf8'), 'the editor holds what is on disk');
    assert.strictEqual(doc.isDirty, false);
    const journal = fs.readFileSync(path.join(workspace(), 'products', '.taxon', 'journal.jsonl'), 'utf8');
    assert.match(journal, /"image":"img\/shirt1\.jpg","path":\["clothing","shoe"\]/);
    const relisted = await waitFor('the list after the move', () => last('list', mark));
    assert.strictEqual(relisted.keepPosition, true);
    assert.strictEqual(relisted.counts.labelled, 3);

    mark = api.gallery.postedTotal;
    await api.gallery.receive({ type: 'undo' });
    const undone = await waitFor('undone', () => last('moved', mark));
    assert.strictEqual(undone.undo, true);
    await waitFor('the file restored', () => fs.readFileSync(csv, 'utf8') === original);
    assert.strictEqual(doc.isDirty, false);

    mark = api.gallery.postedTotal;
    await api.gallery.receive({ type: 'undo' });
    const nothing = await waitFor('a notice', () => last('notice', mark));
    assert.strictEqual(nothing.text, 'Nothing to undo in the gallery.');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('a move against an outdated list is refused and changes nothing', async () => {
    const before = fs.readFileSync(csv, 'utf8');
    const list = last('list')!;
    const mark = api.gallery.postedTotal;
    await api.gallery.receive({ type: 'move', version: list.version - 1, ranges: [[0, 1]], path: ['clothing', 'shoe'] });
    const notice = await waitFor('a notice', () => last('notice', mark));
    assert.strictEqual(notice.level, 'error');
    assert.match(notice.text, /the gallery changed meanwhile/);
    assert.strictEqual(fs.readFileSync(csv, 'utf8'), before);
  });

  test('Confirm without predictions changes nothing and says why', async () => {
    const before = fs.readFileSync(csv, 'utf8');
    const list = last('list')!;
    assert.ok(list.notAvailable?.predicted, 'products/ has no trained classifiers in this suite');
    const mark = api.gallery.postedTotal;
    await api.gallery.receive({ type: 'confirm', version: list.version, ranges: [[0, 1]] });
    const answer = await waitFor('an answer', () => last('moved', mark) ?? last('notice', mark), 30000);
    assert.strictEqual(answer.type, 'moved', JSON.stringify(answer));
    const confirmed = answer as Extract<GalleryHostMessage, { type: 'moved' }>;
    assert.strictEqual(confirmed.text, "Confirmed the model's path for 0 images in labels.csv. 1 image had no prediction and kept its label.");
    assert.strictEqual(fs.readFileSync(csv, 'utf8'), before);
  });

  test('Enter on a labelled image opens it in the labelling panel', async function () {
    this.timeout(180000);
    const list = last('list')!;
    await api.gallery.receive({ type: 'open', version: list.version, index: 2 });
    await waitFor('the labelling panel on img/shoe1.jpg', () => api.labeling.currentImage === 'img/shoe1.jpg', 150000);
  });
});
