import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset } from '../../src/core/dataset';
import { loadDataset } from '../../src/core/formats/index';
import { readFolderTree, LABEL_SIDECAR } from '../../src/core/formats/folder';
import { LabelError, LabelJournal, LabelWriteError, LabelWriter, type LabelChange } from '../../src/core/labels/index';
import { fakeJpeg, tempDir, writeTree } from './helpers';

const AT = 1_700_000_000_000;
const change = (image: string, p: string | null): LabelChange => ({ image, path: p === null ? null : p.split(' > '), at: AT });

const JSONL = '{"image": "images/a.jpg", "path": "animal > dog"}\n{"image": "images/b.jpg", "path": null}\n';

function jsonlDataset(text = JSONL): { root: string; file: string; ds: Dataset } {
  const root = writeTree(tempDir('taxon-writer-'), { 'items.jsonl': text });
  const file = path.join(root, 'items.jsonl');
  return { root, file, ds: loadDataset(file) };
}

function labelsOf(target: string): Record<string, string[]> {
  const ds = loadDataset(target);
  const out: Record<string, string[]> = {};
  for (const item of ds.items) out[item.image] = item.labels.map((l) => ds.taxonomy.pathString(l));
  return out;
}

function journalLines(root: string): unknown[] {
  return fs.readFileSync(path.join(root, '.taxon', 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('apply journals the change (fsynced), writes the file atomically, then records it as applied', () => {
  const { root, file, ds } = jsonlDataset();
  const writer = new LabelWriter(ds);
  const result = writer.apply([change('images/b.jpg', 'animal > cat')]);
  assert.deepEqual(result, { entries: [{ seq: 1, file: 'items.jsonl', image: 'images/b.jpg', path: ['animal', 'cat'], at: AT }], written: 1, changedOnDisk: false });
  assert.equal(fs.readFileSync(file, 'utf8'), JSONL.replace('"path": null', '"path": "animal > cat"'));
  assert.deepEqual(journalLines(root), [
    { seq: 1, file: 'items.jsonl', image: 'images/b.jpg', path: ['animal', 'cat'], at: AT },
    { applied: 1, file: 'items.jsonl' },
  ]);
  assert.deepEqual(writer.pending(), []);
  assert.equal(fs.readFileSync(path.join(root, '.taxon', '.gitignore'), 'utf8'), '*\n');
  assert.deepEqual(fs.readdirSync(root).filter((n) => n.endsWith('.tmp')), []);
});

test('a file edited by hand since Taxon read it is detected and re-read; the hand edit is kept', () => {
  const { file, ds } = jsonlDataset();
  const writer = new LabelWriter(ds);
  writer.apply([change('images/a.jpg', 'animal > cat')]);
  // The curator edits the file in another editor while the labelling panel is open.
  const handEdited = fs.readFileSync(file, 'utf8').replace('"path": null', '"path": "vehicle", "note": "by hand"') + '{"image": "images/c.jpg", "path": "plant"}\n';
  fs.writeFileSync(file, handEdited);
  const result = writer.apply([change('images/a.jpg', 'animal > dog')]);
  assert.equal(result.changedOnDisk, true);
  assert.equal(fs.readFileSync(file, 'utf8'), handEdited.replace('"animal > cat"', '"animal > dog"'));
  assert.equal(writer.apply([change('images/c.jpg', 'plant > tree')]).changedOnDisk, false);
});

test('a same-size hand edit that keeps the modification time is caught by the hash', () => {
  const { file, ds } = jsonlDataset();
  const writer = new LabelWriter(ds);
  const before = fs.statSync(file);
  fs.writeFileSync(file, JSONL.replace('dog', 'cow'));
  fs.utimesSync(file, before.atime, before.mtime);
  const result = writer.apply([change('images/b.jpg', 'animal')]);
  assert.equal(result.changedOnDisk, true);
  assert.deepEqual(labelsOf(file), { 'images/a.jpg': ['animal > cow'], 'images/b.jpg': ['animal'] });
});

test('a read-only annotation file: a clear error naming the file, the label kept pending in the journal', () => {
  const { root, file, ds } = jsonlDataset();
  fs.chmodSync(file, 0o444);
  const writer = new LabelWriter(ds);
  let error: unknown;
  try {
    writer.apply([change('images/b.jpg', 'animal > cat')]);
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof LabelWriteError);
  assert.match(error.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: is read-only; 1 label is kept in the journal`));
  assert.deepEqual(error.pending.map((e) => e.seq), [1]);
  assert.equal(fs.readFileSync(file, 'utf8'), JSONL);
  assert.deepEqual(writer.pending().map((e) => [e.seq, e.image, e.path]), [[1, 'images/b.jpg', ['animal', 'cat']]]);
  // Reopened later (a new process): still pending; once writable, recover() writes it.
  assert.equal(new LabelWriter(loadDataset(file)).pending().length, 1);
  fs.chmodSync(file, 0o644);
  const reopened = new LabelWriter(loadDataset(file));
  assert.deepEqual(reopened.recover(), { written: 1, changedOnDisk: false });
  assert.deepEqual(labelsOf(file)['images/b.jpg'], ['animal > cat']);
  assert.deepEqual(reopened.pending(), []);
  assert.equal(journalLines(root).length, 2);
});

test('recover() re-applies confirmed changes a crash left unapplied, idempotently', () => {
  const { root, file, ds } = jsonlDataset();
  // A crash after the journal append and the file write, before the applied record: seq 1 is
  // already in the file, seq 2 and 3 are not.
  const journal = new LabelJournal(path.join(root, '.taxon', 'journal.jsonl'));
  journal.append([
    { seq: 1, file: 'items.jsonl', image: 'images/a.jpg', path: ['animal', 'cat'], at: AT },
    { seq: 2, file: 'items.jsonl', image: 'images/b.jpg', path: ['vehicle'], at: AT },
    { seq: 3, file: 'items.jsonl', image: 'images/new.jpg', path: ['animal', 'dog'], at: AT },
  ]);
  fs.writeFileSync(file, JSONL.replace('"animal > dog"', '"animal > cat"'));
  const writer = new LabelWriter(ds);
  assert.deepEqual(writer.pending().map((e) => e.seq), [1, 2, 3]);
  writer.recover();
  const once = fs.readFileSync(file, 'utf8');
  assert.equal(once, '{"image": "images/a.jpg", "path": "animal > cat"}\n{"image": "images/b.jpg", "path": "vehicle"}\n{"image": "images/new.jpg", "path": "animal > dog"}\n');
  // The applied record is lost too (crash before it reached the disk): applying again is a no-op.
  fs.writeFileSync(journal.file, fs.readFileSync(journal.file, 'utf8').replace(/\{"applied".*\n/, ''));
  const mtime = fs.statSync(file).mtimeMs;
  const again = new LabelWriter(loadDataset(file));
  assert.deepEqual(again.recover(), { written: 3, changedOnDisk: false });
  assert.equal(fs.readFileSync(file, 'utf8'), once);
  assert.equal(fs.statSync(file).mtimeMs, mtime, 'nothing to change: the file is not rewritten');
  assert.deepEqual(again.pending(), []);
  // New changes continue the numbering.
  assert.equal(again.apply([change('images/a.jpg', null)]).entries[0].seq, 4);
});

test('a torn last journal line (a crash during the append) is cut off and never read as confirmed', () => {
  const { root, ds } = jsonlDataset();
  const journalFile = path.join(root, '.taxon', 'journal.jsonl');
  fs.mkdirSync(path.dirname(journalFile));
  fs.writeFileSync(journalFile, '{"seq":1,"file":"items.jsonl","image":"images/a.jpg","path":["x"],"at":1}\n{"seq":2,"file":"items.js');
  const writer = new LabelWriter(ds);
  assert.deepEqual(writer.pending().map((e) => e.seq), [1]);
  writer.confirm([change('images/b.jpg', 'y')]);
  const lines = fs.readFileSync(journalFile, 'utf8').split('\n');
  assert.equal(lines.length, 3);
  assert.deepEqual(JSON.parse(lines[1]), { seq: 2, file: 'items.jsonl', image: 'images/b.jpg', path: ['y'], at: AT });
});

test('recover() compacts a large journal, keeping pending changes and the numbering', () => {
  const { root, file, ds } = jsonlDataset();
  const writer = new LabelWriter(ds, { compactBytes: 200 });
  for (let i = 0; i < 10; i++) writer.apply([change('images/a.jpg', i % 2 ? 'animal > cat' : 'animal > dog')]);
  const reopened = new LabelWriter(loadDataset(file), { compactBytes: 200 });
  reopened.recover();
  assert.deepEqual(journalLines(root), [{ applied: 10, file: 'items.jsonl' }, { lastSeq: 10 }]);
  assert.equal(new LabelWriter(loadDataset(file)).apply([change('images/b.jpg', 'x')]).entries[0].seq, 11);
});

test('a change the file cannot take is refused before it is journaled; discard() gives up a stuck one', () => {
  const root = writeTree(tempDir('taxon-writer-'), {
    'items.jsonl': JSONL,
    'taxonomy.json': JSON.stringify({ name: 'root', children: [{ name: 'animal', children: [{ name: 'dog' }, { name: 'cat' }] }] }),
  });
  const file = path.join(root, 'items.jsonl');
  const writer = new LabelWriter(loadDataset(file));
  assert.throws(() => writer.confirm([change('images/a.jpg', 'animal > unicorn')]), (e: Error) => e instanceof LabelError && e.message.includes("'animal > unicorn'"));
  assert.equal(fs.existsSync(writer.journal.file), false);
  // The taxonomy loses `cat` after the change was confirmed: the change stays pending until discarded.
  writer.confirm([change('images/b.jpg', 'animal > cat')]);
  fs.writeFileSync(path.join(root, 'taxonomy.json'), JSON.stringify({ name: 'root', children: [{ name: 'animal', children: [{ name: 'dog' }] }] }));
  assert.throws(() => writer.flush(), (e: Error) => e instanceof LabelWriteError && /'animal > cat'.*stays pending/.test(e.message));
  assert.equal(writer.pending().length, 1);
  writer.discard([1]);
  assert.deepEqual(writer.pending(), []);
  assert.deepEqual(new LabelWriter(loadDataset(file)).pending(), []);
});

test('Datumaro: the writer refuses a label that is not in categories', () => {
  const root = writeTree(tempDir('taxon-writer-'), {
    'annotations/default.json': JSON.stringify({ categories: { label: { labels: [{ name: 'animal', parent: '' }], label_groups: [] } }, items: [] }),
  });
  const writer = new LabelWriter(loadDataset(root));
  assert.throws(() => writer.apply([change('images/default/a.jpg', 'plant')]), (e: Error) => e instanceof LabelError && e.message.includes("'plant'"));
  writer.apply([change('images/default/a.jpg', 'animal')]);
  assert.deepEqual(labelsOf(root), { 'images/default/a.jpg': ['animal'] });
});

// ---------------------------------------------------------------------------------------------
// Folder trees: a sidecar, images never move

function folderTree(): string {
  return writeTree(tempDir('taxon-folder-'), {
    'images/animal/dog/1.jpg': fakeJpeg(1),
    'images/animal/cat/2.jpg': fakeJpeg(2),
    'images/3.jpg': fakeJpeg(3),
  });
}

test('folder tree: labels go to taxon-labels.jsonl in the root; no image moves', () => {
  const root = folderTree();
  const before = fs.readdirSync(path.join(root, 'images'), { recursive: true }).sort();
  const writer = new LabelWriter(readFolderTree(root));
  assert.equal(writer.file, path.join(root, LABEL_SIDECAR));
  writer.apply([change('images/3.jpg', 'animal > dog'), change('images/animal/dog/1.jpg', 'animal > bird'), change('images/animal/cat/2.jpg', null)]);
  assert.deepEqual(fs.readdirSync(path.join(root, 'images'), { recursive: true }).sort(), before);
  assert.equal(
    fs.readFileSync(path.join(root, LABEL_SIDECAR), 'utf8'),
    '{"image": "images/3.jpg", "path": "animal > dog"}\n{"image": "images/animal/dog/1.jpg", "path": "animal > bird"}\n{"image": "images/animal/cat/2.jpg", "path": null}\n',
  );
  const ds = readFolderTree(root);
  const labels = Object.fromEntries(ds.items.map((i) => [i.image, i.labels.map((l) => ds.taxonomy.pathString(l))]));
  assert.deepEqual(labels, { 'images/3.jpg': ['animal > dog'], 'images/animal/cat/2.jpg': [], 'images/animal/dog/1.jpg': ['animal > bird'] });
  assert.deepEqual(ds.diagnostics, []);
});

test('folder tree: the sidecar overrides folder labels, later lines win, new paths join the taxonomy, problems are diagnostics', () => {
  const root = folderTree();
  fs.writeFileSync(
    path.join(root, LABEL_SIDECAR),
    '{"image": "images/animal/dog/1.jpg", "path": "animal > cat"}\n{"image": "images/animal/dog/1.jpg", "path": ["plant", "say \\"hi\\" <script>"]}\n{"image": "images/gone.jpg", "path": "animal"}\n{"image": oops}\n',
  );
  const ds = readFolderTree(root);
  const labels = Object.fromEntries(ds.items.map((i) => [i.image, i.labels.map((l) => ds.taxonomy.pathString(l))]));
  assert.deepEqual(labels['images/animal/dog/1.jpg'], ['plant > say "hi" <script>']);
  assert.deepEqual(labels['images/gone.jpg'], ['animal']);
  assert.ok(ds.taxonomy.find(['animal', 'dog']) !== undefined, 'folder nodes stay');
  assert.deepEqual(ds.diagnostics.map((d) => [d.code, path.basename(d.file), d.range.start.line]), [['taxon.syntax-error', LABEL_SIDECAR, 3]]);
  assert.equal(ds.items.find((i) => i.image === 'images/animal/dog/1.jpg')!.source!.range.start.line, 1);
});

test('recover() removes the temporary files of writes killed midway, not those of live processes', () => {
  const { root, file } = jsonlDataset();
  const dead = `.items.jsonl.${2 ** 22 + 12345}.1.tmp`; // above Linux's largest possible pid (2^22): no such process
  const live = `.items.jsonl.${process.pid}.1.tmp`;
  const other = '.other.jsonl.1.1.tmp';
  for (const n of [dead, live, other]) fs.writeFileSync(path.join(root, n), 'partial');
  new LabelWriter(loadDataset(file)).recover();
  assert.deepEqual(fs.readdirSync(root).filter((n) => n.endsWith('.tmp')).sort(), [live, other].sort());
});

test('two writers on one journal (the labelling panel and the gallery): distinct numbers, and neither marks the other\'s pending change as written', () => {
  const JSONL4 = JSONL + '{"image": "images/c.jpg", "path": null}\n{"image": "images/d.jpg", "path": null}\n';
  const { file, ds } = jsonlDataset(JSONL4);
  const panel = new LabelWriter(ds);
  const gallery = new LabelWriter(ds);
  assert.deepEqual(panel.apply([change('images/b.jpg', 'animal > cat')]).entries.map((e) => e.seq), [1]);
  assert.deepEqual(gallery.apply([change('images/c.jpg', 'animal > dog')]).entries.map((e) => e.seq), [2], 'the second writer numbers after the first');
  // the gallery's next change cannot be written (read-only file): it waits in the journal…
  fs.chmodSync(file, 0o444);
  assert.throws(() => gallery.apply([change('images/d.jpg', 'animal > cat')]), LabelWriteError);
  fs.chmodSync(file, 0o644);
  // …and the panel's next write takes it along instead of marking it applied unwritten
  panel.apply([change('images/a.jpg', 'animal')]);
  assert.deepEqual(labelsOf(file), { 'images/a.jpg': ['animal'], 'images/b.jpg': ['animal > cat'], 'images/c.jpg': ['animal > dog'], 'images/d.jpg': ['animal > cat'] });
  assert.deepEqual(new LabelWriter(loadDataset(file)).pending(), []);
  const seqs = journalLines(path.dirname(file)).flatMap((l) => ('seq' in (l as object) ? [(l as { seq: number }).seq] : []));
  assert.deepEqual(seqs, [1, 2, 3, 4]);
});
