/**
 * `npm run bench`: speed and memory of Taxon against references measured side by side in the
 * same run (this machine is shared and noisy, so ratios are what we compare). Each measurement
 * runs in a fresh process so that its peak memory is its own. Results: bench-results/*.json.
 *
 *   npm run bench [-- --quick] [-- --suite foundation|inference|queue|learn|ui|gallery|audit]
 *   (--quick: 100,000 items instead of 1,000,000, and 2,000 images instead of 20,000;
 *    --suite: one suite only; default all)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { auditSuite } from './audit';
import { gallerySuite } from './gallery';
import { generateDatumaro, generateWideTaxonomy } from './generate';
import { inferenceSuite } from './inference';
import { learnSuite } from './learn';
import { queueSuite } from './queue';
import { uiSuite } from './ui';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.join(ROOT, 'bench-results');
const quick = process.argv.includes('--quick');
const suiteArg = process.argv.indexOf('--suite');
const only = suiteArg >= 0 ? process.argv[suiteArg + 1] : undefined;
const REPEATS = 3;

interface Measurement {
  kind: string;
  ms: number;
  peakRssMB: number;
  [key: string]: unknown;
}

function measure(kind: string, input: string): Measurement {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'measure.ts'), kind, input], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

function activation(which: 'taxon' | 'reference'): Measurement {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'activation.cjs'), which], { cwd: ROOT, encoding: 'utf8' });
  const m = JSON.parse(out.trim().split('\n').pop()!);
  return { ...m, peakRssMB: 0 };
}

/** Interleaves subject and reference runs and keeps the median of each. */
function sideBySide(subject: () => Measurement, reference: () => Measurement, repeats = REPEATS) {
  const s: Measurement[] = [];
  const r: Measurement[] = [];
  for (let i = 0; i < repeats; i++) {
    s.push(subject());
    r.push(reference());
  }
  const median = (xs: Measurement[]) => [...xs].sort((a, b) => a.ms - b.ms)[xs.length >> 1];
  const subjectM = median(s);
  const referenceM = median(r);
  return { subject: subjectM, reference: referenceM, ratio: subjectM.ms / referenceM.ms, runs: { subject: s.map((m) => m.ms), reference: r.map((m) => m.ms) } };
}

function foundation() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taxon-bench-'));
  try {
    const items = quick ? 100_000 : 1_000_000;
    const file = path.join(tmp, 'big', 'annotations', 'train.json');
    generateDatumaro(file, items);
    const bytes = fs.statSync(file).size;
    console.log(`generated ${items.toLocaleString()} Datumaro items (${(bytes / 1e6).toFixed(0)} MB)`);
    const load = sideBySide(() => measure('load-validate', file), () => measure('json-parse', file));
    console.log(
      `load + validate: ${(load.subject.ms / 1000).toFixed(2)} s, peak ${load.subject.peakRssMB.toFixed(0)} MB; JSON.parse alone ${(load.reference.ms / 1000).toFixed(2)} s, peak ${load.reference.peakRssMB.toFixed(0)} MB; ratio ${load.ratio.toFixed(2)}`,
    );

    const wide = generateWideTaxonomy(path.join(tmp, 'wide'), 30_000);
    const tree = sideBySide(() => measure('first-level', wide.items), () => measure('taxonomy-json-parse', wide.items));
    console.log(
      `30k-node taxonomy, first level shown (taxonomy preview): ${tree.subject.ms.toFixed(1)} ms (${tree.subject.nodes} nodes); JSON.parse of the same files ${tree.reference.ms.toFixed(1)} ms; ratio ${tree.ratio.toFixed(2)}`,
    );
    const fullTree = sideBySide(() => measure('full-tree', wide.items), () => measure('taxonomy-json-parse', wide.items));
    console.log(`30k-node taxonomy + ${fullTree.subject.items} items, counts ready: ${fullTree.subject.ms.toFixed(1)} ms, peak ${fullTree.subject.peakRssMB.toFixed(0)} MB`);

    const act = sideBySide(() => activation('taxon'), () => activation('reference'), 5);
    console.log(`activation: ${act.subject.ms.toFixed(1)} ms (import ${Number(act.subject.requireMs).toFixed(1)} ms); empty extension ${act.reference.ms.toFixed(2)} ms`);

    return {
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      date: new Date().toISOString(),
      loadValidate: { items, bytes, ...load, targets: { seconds: 5, peakMB: 1536 } },
      firstLevel30k: { ...tree, targets: { ms: 100 } },
      fullTree30k: fullTree,
      activation: { ...act, targets: { ms: 50 } },
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const suites: Record<string, () => Record<string, unknown> | undefined> = {
  foundation,
  inference: () => inferenceSuite(quick),
  queue: () => queueSuite(quick),
  learn: () => learnSuite(quick, path.join(OUT, quick ? 'learn-quick.json' : 'learn.json')),
  ui: uiSuite,
  gallery: () => gallerySuite(quick),
  audit: auditSuite,
};
if (only !== undefined && !(only in suites)) {
  console.error(`unknown suite ${JSON.stringify(only)}; suites: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
fs.mkdirSync(OUT, { recursive: true });
for (const [name, suite] of Object.entries(suites)) {
  if (only !== undefined && name !== only) continue;
  const result = suite();
  if (result === undefined) continue;
  const file = path.join(OUT, quick ? `${name}-quick.json` : `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`written ${path.relative(ROOT, file)}`);
}
