/**
 * Kills the labelling process (SIGKILL) at random moments while it writes labels, many times,
 * for CSV, JSONL and Datumaro. After every kill the annotation file parses without syntax errors
 * and every confirmed change is in the file or pending in the journal; after recover() every
 * confirmed change is in the file.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import type { Dataset } from '../../src/core/dataset';
import { loadDataset } from '../../src/core/formats/index';
import { LabelJournal, LabelWriter } from '../../src/core/labels/index';
import { tempDir, writeTree } from './helpers';

// TAXON_CRASH_KILLS / TAXON_CRASH_SEED run a longer or different campaign by hand.
const KILLS_PER_FORMAT = Number(process.env.TAXON_CRASH_KILLS ?? 10);
const SEED = Number(process.env.TAXON_CRASH_SEED ?? 20240917);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Confirmed {
  seq: number;
  image: string;
  path: string[] | null;
}

function datasets(root: string): Record<'csv' | 'jsonl' | 'datumaro', string> {
  const csvRows = ['image,path,note'];
  const jsonlLines: string[] = [];
  const items: unknown[] = [];
  for (let i = 0; i < 12; i++) {
    const p = i % 3 === 0 ? 'animal > dog' : i % 3 === 1 ? 'animal > cat' : '';
    csvRows.push(`images/${i}.jpg,${p},"note, ${i}"`);
    jsonlLines.push(JSON.stringify({ image: `images/${i}.jpg`, path: p || null, extra: { i } }));
    items.push({ id: String(i), annotations: i % 4 === 3 ? [] : [{ id: 0, type: 'label', attributes: {}, group: 0, label_id: i % 4 }], image: { path: `${i}.jpg` } });
  }
  const labels = [
    { name: 'dog', parent: 'animal', attributes: [] },
    { name: 'cat', parent: 'animal', attributes: [] },
    { name: 'animal', parent: '', attributes: [] },
    { name: 'car "fast" <script>', parent: 'vehicle', attributes: [] },
    { name: 'vehicle', parent: '', attributes: [] },
  ];
  const datumaro = { info: {}, categories: { label: { labels, label_groups: [], attributes: [] } }, items };
  writeTree(root, {
    'csv/items.csv': csvRows.join('\n') + '\n',
    'jsonl/items.jsonl': jsonlLines.join('\n') + '\n',
    'datumaro/annotations/default.json': JSON.stringify(datumaro, null, 2),
  });
  return { csv: path.join(root, 'csv'), jsonl: path.join(root, 'jsonl'), datumaro: path.join(root, 'datumaro') };
}

/** The label path the file holds for an image (null: unlabelled or absent). */
function labelIn(ds: Dataset, image: string): string[] | null {
  const item = ds.items.find((i) => path.posix.normalize(i.image) === path.posix.normalize(image));
  if (!item || !item.labels.length) return null;
  let deepest = item.labels[0];
  for (const l of item.labels) if (ds.taxonomy.depth(l) > ds.taxonomy.depth(deepest)) deepest = l;
  return ds.taxonomy.path(deepest);
}

const same = (a: string[] | null, b: string[] | null): boolean => JSON.stringify(a) === JSON.stringify(b);

function syntaxProblems(ds: Dataset): string[] {
  return ds.diagnostics.filter((d) => d.code === 'taxon.syntax-error' || d.code === 'taxon.not-datumaro' || d.code === 'taxon.missing-column').map((d) => d.message);
}

/** Runs the child until it is killed `delayMs` after it is ready (or after spawn); returns the changes it confirmed. */
function runAndKill(child: string, dataset: string, seed: number, delayMs: number, beforeReady: boolean): Promise<{ confirmed: Confirmed[]; ready: boolean }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dataset, String(seed), '4096'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let ready = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      timer ??= setTimeout(() => proc.kill('SIGKILL'), delayMs);
    };
    if (beforeReady) arm();
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!ready && out.startsWith('ready\n')) {
        ready = true;
        arm();
      }
    });
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`the labelling process exited by itself (${code}): ${err}`));
      // Only complete lines were printed after a confirmation; a cut-off last line is not one.
      const lines = out.split('\n').slice(0, -1).filter((l) => l && l !== 'ready');
      resolve({ confirmed: lines.map((l) => JSON.parse(l) as Confirmed), ready });
    });
  });
}

test('killing the labelling process at random moments loses no confirmed label and never corrupts the file', { timeout: 60_000 + KILLS_PER_FORMAT * 3 * 2_000 }, async () => {
  const started = Date.now();
  const work = tempDir('taxon-crash-');
  const child = path.join(work, 'child.cjs');
  buildSync({ entryPoints: [path.join(__dirname, 'labels-crash-child.ts')], bundle: true, platform: 'node', format: 'cjs', mainFields: ['module', 'main'], outfile: child, logLevel: 'error' });
  const targets = datasets(work);
  const random = rng(SEED);
  const report: string[] = [];
  for (const [format, dir] of Object.entries(targets)) {
    const seen = new Map<number, Confirmed>(); // every journaled change, confirmed or not
    const confirmed: Confirmed[] = [];
    let killedWithPending = 0;
    let killedBeforeReady = 0;
    for (let k = 0; k < KILLS_PER_FORMAT; k++) {
      const beforeReady = random() < 0.2;
      const run = await runAndKill(child, dir, Math.floor(random() * 2 ** 31), Math.floor(random() * (beforeReady ? 150 : 80)), beforeReady);
      if (!run.ready) killedBeforeReady++;
      confirmed.push(...run.confirmed);

      const ds = loadDataset(dir);
      assert.deepEqual(syntaxProblems(ds), [], `${format}: the file parses after kill ${k + 1}`);
      const journal = new LabelJournal(path.join(dir, '.taxon', 'journal.jsonl')).read();
      const labelFile = path.relative(dir, ds.files[0]).split(path.sep).join('/');
      const applied = journal.applied.get(labelFile) ?? 0;
      const pending = new Set(journal.entries.filter((e) => e.file === labelFile && e.seq > applied).map((e) => e.seq));
      for (const e of journal.entries) seen.set(e.seq, { seq: e.seq, image: e.image, path: e.path });
      if (pending.size) killedWithPending++;
      for (const c of confirmed) assert.ok(seen.has(c.seq), `${format}: confirmed change ${c.seq} is in the journal`);
      // The last confirmed change of each image: pending, or the file holds it or a later change to that image.
      const lastConfirmed = new Map<string, Confirmed>();
      for (const c of confirmed) if ((lastConfirmed.get(c.image)?.seq ?? 0) < c.seq) lastConfirmed.set(c.image, c);
      for (const c of lastConfirmed.values()) {
        if (pending.has(c.seq)) continue;
        const inFile = labelIn(ds, c.image);
        const later = [...seen.values()].filter((e) => e.image === c.image && e.seq >= c.seq);
        assert.ok(
          later.some((e) => same(e.path, inFile)),
          `${format}, kill ${k + 1}: confirmed change ${c.seq} (${c.image} → ${JSON.stringify(c.path)}) is neither pending nor in the file (${JSON.stringify(inFile)})`,
        );
      }
    }
    assert.ok(confirmed.length > 0, `${format}: the process confirmed some changes before being killed`);

    const writer = new LabelWriter(loadDataset(dir));
    writer.recover();
    assert.deepEqual(writer.pending(), [], `${format}: nothing pending after recover()`);
    const ds = loadDataset(dir);
    assert.deepEqual(syntaxProblems(ds), []);
    const lastJournaled = new Map<string, Confirmed>();
    for (const e of seen.values()) if ((lastJournaled.get(e.image)?.seq ?? 0) < e.seq) lastJournaled.set(e.image, e);
    for (const e of lastJournaled.values()) assert.deepEqual(labelIn(ds, e.image), e.path, `${format}: after recover() ${e.image} holds change ${e.seq}`);
    const leftovers = fs.readdirSync(path.dirname(ds.files[0])).filter((n) => n.endsWith('.tmp'));
    assert.deepEqual(leftovers, [], `${format}: recover() removes temporary files of killed writes`);
    report.push(`${format}: ${KILLS_PER_FORMAT} kills (${killedBeforeReady} before ready, ${killedWithPending} with changes pending), ${confirmed.length} confirmed changes`);
  }
  report.push(`${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(report.join('\n'));
  fs.rmSync(work, { recursive: true, force: true });
});
