/**
 * The gallery's first screen on a 100,000-image dataset, in a fresh process:
 *   node --import tsx test/bench/measureGallery.ts <items> <out.json>
 * Builds a Datumaro dataset (test/bench/generate.ts), synthetic predictions and audit findings,
 * real JPEGs for the images that the measured first screens show, and their cached thumbnails.
 * Then times what the gallery worker does between "show this node" and the first screen's
 * payload: the selection (node, filter, order) plus the first page of tiles with their cached
 * thumbnails read and encoded, and the structured clone that carries it to the host. Side by side:
 * the least any gallery must do, reading the same thumbnail files and encoding them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { loadDataset } from '../../src/core/formats';
import { compactPredictions, Gallery, type GalleryFilter, type GallerySort } from '../../src/core/gallery/selection';
import { ThumbnailCache, thumbnailDataUrl } from '../../src/core/gallery/thumbnails';
import type { AuditFindings } from '../../src/core/learn/auditStore';
import type { Prediction } from '../../src/core/learn/inference';
import { ROOT } from '../../src/core/taxonomy';
import { generateDatumaro } from './generate';

/** A 1400×900 window shows 8 columns × 5 rows of tiles; the webview asks for pages of 60. */
const FIRST_SCREEN = 60;
const REPEATS = 7;

const [itemsArg, outArg] = process.argv.slice(2);
const itemCount = Number(itemsArg ?? 100_000);

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taxon-gallery-bench-'));
  try {
    const file = path.join(tmp, 'big', 'annotations', 'train.json');
    generateDatumaro(file, itemCount);
    let t = performance.now();
    const ds = loadDataset(file);
    const loadMs = performance.now() - t;
    const taxonomy = ds.taxonomy;
    const rand = random(7);

    // predictions: every item predicted at a leaf with a confidence in (0.2, 1); one marginals
    // array per leaf and confidence bucket (the gallery reads the predicted node's marginal only)
    const leaves = taxonomy.leaves();
    const buckets = new Map<string, Float64Array>();
    const predictions: Prediction[] = ds.items.map(() => {
      const node = leaves[Math.floor(rand() * leaves.length)];
      const p = Math.round((0.2 + 0.8 * rand()) * 100) / 100;
      const key = `${node}:${p}`;
      let marginals = buckets.get(key);
      if (!marginals) {
        marginals = new Float64Array(taxonomy.size);
        marginals[node] = p;
        buckets.set(key, marginals);
      }
      return { marginals, path: taxonomy.ancestry(node), node, confident: node };
    });
    const images = ds.items.map((i) => i.image);
    const audit: AuditFindings = { suspects: [], duplicates: [] };
    for (let i = 0; i < itemCount; i += 97) audit.suspects.push({ image: images[i], given: 'x', suggested: 'y', level: 1, score: rand() });
    for (let i = 0; i + 1 < itemCount; i += 211) audit.duplicates.push({ a: images[i], b: images[i + 1], similarity: 0.95 + rand() * 0.05, sameLabel: false });

    t = performance.now();
    const gallery = new Gallery(ds, compactPredictions(images, predictions), audit);
    const galleryMs = performance.now() - t;

    const top = taxonomy.roots[0];
    const cases: Array<{ name: string; node: number; filter: GalleryFilter; sort: GallerySort }> = [
      { name: `dataset root, all ${itemCount} images, file order`, node: ROOT, filter: 'all', sort: 'file' },
      { name: `top-level node ${taxonomy.nodes[top].name}, file order`, node: top, filter: 'all', sort: 'file' },
      { name: 'dataset root, sorted by confidence (lowest first)', node: ROOT, filter: 'all', sort: 'confidence-asc' },
      { name: 'dataset root, suspicious filter', node: ROOT, filter: 'suspicious', sort: 'file' },
    ];

    // real images and cached thumbnails for every image a measured first screen shows
    const onScreen = new Set<string>();
    for (const c of cases) for (const i of gallery.select(c.node, c.filter, c.sort).items.subarray(0, FIRST_SCREEN)) onScreen.add(ds.items[i].image);
    // smooth gradients with noise: thumbnails about as large as a photo's (a flat colour would be tiny)
    const photo = (k: number) => {
      const w = 320;
      const h = 240;
      const px = Buffer.alloc(w * h * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const o = (y * w + x) * 3;
          px[o] = (x + 30 * k + rand() * 60) & 255;
          px[o + 1] = (y + rand() * 60) & 255;
          px[o + 2] = ((x * y) / 300 + rand() * 60) & 255;
        }
      }
      return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
    };
    const colours = await Promise.all(Array.from({ length: 8 }, (_, k) => photo(k)));
    let k = 0;
    for (const image of onScreen) {
      const abs = path.join(ds.root, ...image.split('/'));
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, colours[k++ % colours.length]);
    }
    const cache = new ThumbnailCache(ds.root, { cacheDir: path.join(ds.root, '.taxon') });
    const firstImages = [...onScreen].slice(0, FIRST_SCREEN);
    t = performance.now();
    // cold: the first screen's thumbnails made from the JPEGs, two at a time as the worker does
    const queue = [...firstImages];
    await Promise.all([0, 1].map(async () => {
      for (let image = queue.shift(); image; image = queue.shift()) await cache.get(image);
    }));
    const coldMs = performance.now() - t;
    for (const image of onScreen) await cache.get(image);
    const thumbFiles = (list: Int32Array) =>
      [...list.subarray(0, FIRST_SCREEN)].map((i) => path.join(cache.dir, ...cache.keyOf(ds.items[i].image)!.split('/')) + '.webp');

    const results = [];
    for (const c of cases) {
      const subject: number[] = [];
      const reference: number[] = [];
      const selectOnly: number[] = [];
      let payloadBytes = 0;
      let total = 0;
      for (let r = 0; r < REPEATS; r++) {
        const t0 = performance.now();
        const sel = gallery.select(c.node, c.filter, c.sort);
        const t1 = performance.now();
        const tiles = [];
        for (let index = 0; index < Math.min(FIRST_SCREEN, sel.items.length); index++) {
          const info = gallery.tile(sel.items[index]);
          const cached = cache.cached(info.image);
          if (!cached || !('data' in cached)) throw new Error(`${info.image}: thumbnail not cached`);
          tiles.push({ index, ...info, thumb: thumbnailDataUrl(cached.data) });
        }
        const payload = structuredClone({ list: { total: sel.items.length, counts: sel.counts }, tiles });
        subject.push(performance.now() - t0);
        selectOnly.push(t1 - t0);
        payloadBytes = JSON.stringify(payload).length;
        total = sel.items.length;

        // reference: the same thumbnails read from their files and encoded, nothing else
        const files = thumbFiles(sel.items);
        const r0 = performance.now();
        const encoded = files.map((f) => `data:image/webp;base64,${fs.readFileSync(f).toString('base64')}`);
        structuredClone(encoded);
        reference.push(performance.now() - r0);
      }
      results.push({
        case: c.name,
        images: total,
        firstScreenTiles: Math.min(FIRST_SCREEN, total),
        ms: median(subject),
        selectMs: median(selectOnly),
        referenceMs: median(reference),
        ratio: median(subject) / median(reference),
        payloadKB: Math.round(payloadBytes / 1024),
        runs: { subject: subject.map((x) => Math.round(x * 10) / 10), reference: reference.map((x) => Math.round(x * 10) / 10) },
      });
    }
    const out = {
      items: itemCount,
      firstScreen: FIRST_SCREEN,
      loadDatasetMs: loadMs,
      buildGalleryMs: galleryMs,
      coldFirstScreenThumbnailsMs: coldMs,
      cases: results,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    };
    if (outArg) fs.writeFileSync(outArg, JSON.stringify(out));
    console.log(JSON.stringify(out));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
