/**
 * The labelling process that labels-crash.test.ts kills: opens a dataset (recovering what an
 * earlier kill interrupted), then labels random images as fast as it can, printing each change
 * as one JSON line right after it is confirmed (journal fsynced). Never exits on its own.
 *
 * Usage: node child.cjs <dataset> <seed> [<compactBytes>]
 */
import * as fs from 'node:fs';
import { loadDataset } from '../../src/core/formats/index';
import { LabelWriter } from '../../src/core/labels/index';
import type { LabelChange } from '../../src/core/labels/change';

const [target, seedArg, compactArg] = process.argv.slice(2);
let seed = Number(seedArg) >>> 0;
const random = (): number => {
  // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];

const ds = loadDataset(target);
const writer = new LabelWriter(ds, { compactBytes: Number(compactArg ?? 4096) });
writer.recover();
fs.writeSync(1, 'ready\n');

const images = ds.items.map((i) => i.image);
for (let k = 0; k < 8; k++) images.push(ds.format === 'datumaro' ? `images/default/new/${k}.jpg` : `images/new/${k}.jpg`);
const paths: string[][] = ds.taxonomy.nodes.map((n) => ds.taxonomy.path(n.id));
if (ds.format !== 'datumaro') for (let k = 0; k < 4; k++) paths.push(['made up', `"quoted" <script>${k}</script>`]);

for (;;) {
  const batch: LabelChange[] = [];
  const size = random() < 0.8 ? 1 : 2 + Math.floor(random() * 3);
  for (let i = 0; i < size; i++) batch.push({ image: pick(images), path: random() < 0.15 ? null : pick(paths), at: Date.now() });
  const entries = writer.confirm(batch);
  fs.writeSync(1, entries.map((e) => JSON.stringify({ seq: e.seq, image: e.image, path: e.path }) + '\n').join(''));
  writer.flush();
}
