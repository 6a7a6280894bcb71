import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from '../../src/cli/main';
import { loadDataset } from '../../src/core/formats';
import { fakeJpeg, tempDir, writeTree } from './helpers';

const DEV = path.resolve(__dirname, '../../../shared/datasets/tinyimagenet-wordnet');
const FIXTURES = path.resolve(__dirname, '../fixtures/workspace');

function taxon(args: string[], cwd = process.cwd()): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = run(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n'), cwd });
  return { code, out, err };
}

test('validate --json prints exactly diagnostics, errors and warnings with 1-based positions relative to the cwd', () => {
  const root = writeTree(tempDir(), {
    'labels.csv': 'image,path\na.jpg,animal > cat\nmissing.jpg,animal > dog\n',
    'a.jpg': fakeJpeg(1),
  });
  const r = taxon(['validate', 'labels.csv', '--json'], root);
  assert.equal(r.code, 1);
  const json = JSON.parse(r.out);
  assert.deepEqual(Object.keys(json), ['diagnostics', 'errors', 'warnings']);
  assert.equal(json.errors, 1);
  assert.equal(json.warnings, 0);
  assert.deepEqual(Object.keys(json.diagnostics[0]), ['file', 'line', 'column', 'severity', 'code', 'message']);
  assert.equal(json.diagnostics[0].file, 'labels.csv');
  assert.equal(json.diagnostics[0].line, 3);
  assert.equal(json.diagnostics[0].column, 1);
  assert.equal(json.diagnostics[0].code, 'taxon.missing-image');
});

test('validate prints compiler-style lines and exits 0 on a clean dataset', () => {
  const r = taxon(['validate', path.join(FIXTURES, 'pets')]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /6 items checked \(datumaro\): 0 errors, 0 warnings/);
});

test('validate exits 2 with a message naming the file when the input cannot be read', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'bin.json'), Buffer.from([0x7b, 0x00, 0x01, 0x02]));
  const r = taxon(['validate', path.join(dir, 'bin.json')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /bin\.json: looks like a binary file/);
  const missing = taxon(['validate', path.join(dir, 'nope.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /nope\.json: does not exist/);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
  const unknown = taxon(['validate', path.join(dir, 'notes.txt')]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /notes\.txt: has an unknown annotation format/);
});

test('an annotation file over the size limit is refused before it is read', () => {
  const dir = writeTree(tempDir(), { 'labels.csv': 'image,path\n' + 'a.jpg,x\n'.repeat(200000) });
  const r = taxon(['validate', 'labels.csv', '--max-mb', '1'], dir);
  assert.equal(r.code, 2);
  assert.match(r.err, /labels\.csv: is 1\.\d MB, over the 1\.0 MB limit/);
});

test('a folder without images or annotations is refused, naming the folder', () => {
  const dir = writeTree(tempDir(), { 'images/cat/readme.txt': 'no images here' });
  const r = taxon(['validate', dir]);
  assert.equal(r.code, 2);
  assert.match(r.err, /contains no images/);
});

test('bad usage exits 2 with the usage text', () => {
  assert.equal(taxon([]).code, 2);
  assert.equal(taxon(['frobnicate']).code, 2);
  assert.equal(taxon(['validate']).code, 2);
  const r = taxon(['validate', 'x', '--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.err, /Usage: taxon/);
  assert.equal(taxon(['convert', 'a', 'b', '--to', 'folder']).code, 2);
});

test('stats --json gives the documented fields', () => {
  const r = taxon(['stats', path.join(FIXTURES, 'zoo'), '--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.deepEqual(Object.keys(s), ['format', 'images', 'labelled', 'unlabelled', 'nodes', 'leaves', 'maxDepth', 'perLevel']);
  assert.equal(s.format, 'jsonl');
  assert.equal(s.images, 4);
  assert.equal(s.nodes, 6);
  assert.deepEqual(s.perLevel[0], { level: 1, nodes: 3, images: 4 });
});

test('convert writes every format and each re-reads to the same items', () => {
  const out = tempDir();
  for (const [to, file] of [['datumaro', 'annotations/train.json'], ['csv', 'labels.csv'], ['jsonl', 'labels.jsonl']] as const) {
    const target = path.join(FIXTURES, 'zoo');
    const r = taxon(['convert', target, '--to', to, path.join(out, to, file)]);
    assert.equal(r.code, 0, r.err);
    const back = taxon(['stats', path.join(out, to, file), '--json']);
    const s = JSON.parse(back.out);
    assert.equal(s.images, 4, `${to}: ${back.err}`);
    assert.equal(s.labelled, 4);
  }
});

test('convert refuses to write a dataset that has reading errors, and writes nothing', () => {
  const dir = writeTree(tempDir(), { 'bad.jsonl': '{"image": "a.jpg", "path": "x"}\n{not json\n' });
  const r = taxon(['convert', path.join(dir, 'bad.jsonl'), '--to', 'csv', path.join(dir, 'out.csv')]);
  assert.equal(r.code, 1);
  assert.equal(fs.existsSync(path.join(dir, 'out.csv')), false);
});

const dev = fs.existsSync(DEV) ? test : test.skip;

dev('the dev folder tree validates clean with the one known duplicate pair as a warning', () => {
  const r = taxon(['validate', DEV, '--json']);
  assert.equal(r.code, 0);
  const json = JSON.parse(r.out);
  assert.equal(json.errors, 0);
  assert.equal(json.warnings, 1);
  assert.match(json.diagnostics[0].message, /n07747607_20\.JPEG|n07753592_63\.JPEG/);
});

dev('the dev labels.csv validates clean with the same duplicate warning', () => {
  const r = taxon(['validate', path.join(DEV, 'labels.csv'), '--json']);
  assert.equal(r.code, 0);
  const json = JSON.parse(r.out);
  assert.equal(json.errors, 0);
  assert.equal(json.warnings, 1);
  assert.equal(json.diagnostics[0].code, 'taxon.identical-images');
});

dev('stats on the dev folder tree match its README', () => {
  const s = JSON.parse(taxon(['stats', DEV, '--json']).out);
  assert.equal(s.format, 'folder');
  assert.equal(s.images, 20000);
  assert.equal(s.leaves, 200);
  assert.equal(s.maxDepth, 8);
  assert.deepEqual(
    s.perLevel.map((l: { nodes: number }) => l.nodes),
    [5, 17, 54, 79, 47, 13, 13, 7],
  );
  assert.deepEqual(
    s.perLevel.map((l: { images: number }) => l.images),
    [20000, 19900, 18900, 14600, 7300, 2900, 1900, 700],
  );
});

dev('a Datumaro file converted from the dev folder tree validates clean and re-reads to the same 20,000 items', () => {
  const copy = tempDir();
  fs.cpSync(path.join(DEV, 'images'), path.join(copy, 'images'), { recursive: true });
  const out = path.join(copy, 'annotations', 'default.json');
  assert.equal(taxon(['convert', copy, '--to', 'datumaro', out]).code, 0);
  const r = taxon(['validate', out, '--json']);
  const json = JSON.parse(r.out);
  assert.equal(r.code, 0);
  assert.equal(json.errors, 0);
  assert.equal(json.warnings, 1, 'the known byte-identical pair');
  const original = loadDataset(copy);
  const converted = loadDataset(out);
  assert.equal(converted.format, 'datumaro');
  assert.equal(converted.items.length, 20000);
  const key = (ds: typeof original) =>
    new Map(ds.items.map((i) => [i.image, i.labels.map((l) => ds.taxonomy.pathString(l)).join(' | ')]));
  assert.deepEqual(key(converted), key(original));
  fs.rmSync(copy, { recursive: true, force: true });
});

test('label names with HTML and control characters are printed as text, control characters escaped', () => {
  const root = writeTree(tempDir(), {
    'labels.csv': 'image,path\na.jpg,"<b>bold</b> > x\u0007y"\nb.jpg,other\n',
    'a.jpg': fakeJpeg(7),
    'b.jpg': fakeJpeg(7),
  });
  const r = taxon(['validate', 'labels.csv'], root);
  assert.equal(r.code, 0, 'identical images are a warning');
  assert.match(r.out, /labelled "<b>bold<\/b> > x\\u0007y"/);
  assert.doesNotMatch(r.out, /\u0007/, 'no raw control character reaches the terminal');
  const stats = JSON.parse(taxon(['stats', 'labels.csv', '--json'], root).out);
  assert.equal(stats.nodes, 3);
});
