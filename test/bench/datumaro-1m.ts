/**
 * Parse benchmark for the Datumaro reader: generates a 1,000,000-item file (labels from a
 * 200-leaf taxonomy) in os.tmpdir() and reports generation size, parse time, heap and peak RSS.
 *
 *   node --expose-gc --import tsx test/bench/datumaro-1m.ts [items]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDatumaro, serializeDatumaro } from '../../src/core/formats/datumaro';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const dir = path.join(os.tmpdir(), 'taxon-bench-datumaro', 'annotations');
const file = path.join(dir, 'train.json');

function generate(): void {
  fs.mkdirSync(dir, { recursive: true });
  // 4 top-level × 5 mid × 10 leaves = 200 leaves, 224 labels, one exclusive group per parent.
  const labels: Array<{ name: string; parent: string }> = [];
  const groups: Array<{ name: string; labels: string[] }> = [{ name: 'Root', labels: [] }];
  const leafIds: number[] = [];
  for (let a = 0; a < 4; a++) {
    const top = `top${a}`;
    labels.push({ name: top, parent: '' });
    groups[0].labels.push(top);
    const g = { name: top, labels: [] as string[] };
    groups.push(g);
    for (let b = 0; b < 5; b++) {
      const mid = `${top}_mid${b}`;
      labels.push({ name: mid, parent: top });
      g.labels.push(mid);
      const g2 = { name: mid, labels: [] as string[] };
      groups.push(g2);
      for (let c = 0; c < 10; c++) {
        const leaf = `${mid}_leaf${c}`;
        leafIds.push(labels.length);
        labels.push({ name: leaf, parent: mid });
        g2.labels.push(leaf);
      }
    }
  }
  const fd = fs.openSync(file, 'w');
  const head = {
    dm_format_version: '1.0',
    media_type: 2,
    infos: {},
    categories: {
      label: {
        labels: labels.map((l) => ({ ...l, attributes: [] })),
        label_groups: groups.map((g) => ({ name: g.name, group_type: 'exclusive', labels: g.labels })),
        attributes: [],
      },
    },
  };
  const headText = JSON.stringify(head);
  fs.writeSync(fd, headText.slice(0, -1) + ',"items":[\n');
  let buf: string[] = [];
  for (let i = 0; i < N; i++) {
    const id = `img_${String(i).padStart(7, '0')}`;
    const label = leafIds[(i * 7919) % leafIds.length];
    buf.push(
      `{"id": "${id}", "annotations": [{"id": 0, "type": "label", "attributes": {}, "group": 0, "label_id": ${label}}], "image": {"path": "${id}.jpg", "size": [480, 640]}}${i < N - 1 ? ',' : ''}\n`,
    );
    if (buf.length === 10000) {
      fs.writeSync(fd, buf.join(''));
      buf = [];
    }
  }
  fs.writeSync(fd, buf.join('') + ']}\n');
  fs.closeSync(fd);
}

const gc = (globalThis as { gc?: () => void }).gc;
let t = performance.now();
generate();
const size = fs.statSync(file).size;
console.log(`generated ${N.toLocaleString()} items, ${(size / 1e6).toFixed(0)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s: ${file}`);

const text = fs.readFileSync(file, 'utf8');
gc?.();
const heap0 = process.memoryUsage().heapUsed;
let peakRss = process.memoryUsage().rss;
const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
t = performance.now();
const ds = parseDatumaro(text, file);
const parseMs = performance.now() - t;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
clearInterval(timer);
gc?.();
const mem = process.memoryUsage();
console.log(`parse: ${(parseMs / 1000).toFixed(2)} s, ${ds.items.length.toLocaleString()} items, ${ds.taxonomy.size} labels, ${ds.diagnostics.length} diagnostics`);
console.log(
  `heap after parse (gc'd): ${((mem.heapUsed - heap0) / 2 ** 20).toFixed(0)} MB for the dataset (+ ${(heap0 / 2 ** 20).toFixed(0)} MB before, text ${(text.length / 2 ** 20).toFixed(0)} MB), rss ${(mem.rss / 2 ** 20).toFixed(0)} MB, peak rss during parse ≥ ${(peakRss / 2 ** 20).toFixed(0)} MB (sampled)`,
);
if (process.argv.includes('--twice')) {
  // This VM pays a large first-touch cost per fresh memory page; a second parse in the same
  // process (the first result dropped) shows the parse cost on warm memory.
  (ds as { items: unknown[] }).items = [];
  gc?.();
  t = performance.now();
  const again = parseDatumaro(text, file);
  console.log(`second parse (warm heap pages): ${((performance.now() - t) / 1000).toFixed(2)} s, ${again.items.length.toLocaleString()} items`);
}
if (process.argv.includes('--write')) {
  t = performance.now();
  const out = serializeDatumaro(ds);
  console.log(`serialize: ${((performance.now() - t) / 1000).toFixed(2)} s, ${(out.length / 1e6).toFixed(0)} MB`);
}
if (!process.argv.includes('--keep')) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
