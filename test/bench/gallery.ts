/**
 * The node gallery's first screen on a 100,000-image dataset with its thumbnails cached
 * (`npm run bench -- --suite gallery`; target ≤ 300 ms): selection + first page of tiles with their
 * cached thumbnails, measured in a fresh process (measureGallery.ts) beside the least any gallery
 * must do, reading and encoding the same thumbnail files.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const TARGET_MS = 300;

interface Case {
  case: string;
  images: number;
  ms: number;
  selectMs: number;
  referenceMs: number;
  ratio: number;
  payloadKB: number;
}

export function gallerySuite(quick: boolean): Record<string, unknown> {
  const items = quick ? 20_000 : 100_000;
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'measureGallery.ts'), String(items)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = JSON.parse(out.trim().split('\n').pop()!) as { cases: Case[]; loadDatasetMs: number; buildGalleryMs: number; coldFirstScreenThumbnailsMs: number; firstScreen: number; peakRssMB: number };
  console.log(
    `gallery: ${items.toLocaleString()} images; dataset load ${m.loadDatasetMs.toFixed(0)} ms and gallery index ${m.buildGalleryMs.toFixed(0)} ms (once per open); ` +
      `the first screen's ${m.firstScreen} thumbnails made from scratch ${m.coldFirstScreenThumbnailsMs.toFixed(0)} ms`,
  );
  for (const c of m.cases) {
    console.log(
      `gallery: first screen, ${c.case}: ${c.ms.toFixed(1)} ms (selection ${c.selectMs.toFixed(1)} ms, ${c.payloadKB} KB) vs reading the same thumbnails ${c.referenceMs.toFixed(1)} ms (target ≤ ${TARGET_MS} ms)`,
    );
  }
  return {
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: os.loadavg() },
    date: new Date().toISOString(),
    what: 'host-side work for the gallery first screen with thumbnails cached: selection (node, filter, order) + first page of tiles with cached thumbnails read, encoded and structured-cloned; reference: reading and encoding the same thumbnail files',
    targetMs: TARGET_MS,
    ...m,
    withinTarget: m.cases.every((c) => c.ms <= TARGET_MS),
  };
}
