/**
 * The audit suite of `npm run bench`:
 * - label noise: 5 % of the dev dataset's labels flipped deterministically (by a hash of the
 *   image path; half to a sibling leaf, half to a random leaf) in a copy of the dataset, then
 *   `taxon audit --all --json` on the copy; how well its order puts the flipped items first:
 *   AUROC (overall and per kind of flip) and precision among the top 5 %. Side by side, when
 *   /usr/bin/python3 has scikit-learn: the issue's reference (5-fold cross-validated flat logistic
 *   regression on the same embeddings and flips, score = 1 − p(given label));
 * - `taxon audit` on the dev dataset itself: the known byte-identical pair must be reported as a
 *   duplicate with different labels;
 * - near-duplicate search over 100,000 embeddings (measureDuplicates.ts).
 * Skipped, saying so, when the dev dataset is absent.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDataset } from '../../src/core/formats';
import { splitFraction } from '../../src/core/learn/split';
import { ROOT as TAXON_ROOT, type Taxonomy } from '../../src/core/taxonomy';
import { DEV_DATASET } from './inference';
import { BENCH_CACHE, devBenchHeader, hasSklearn } from './learn';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'src/cli/main.ts');
const PYTHON = '/usr/bin/python3';
export const FLIP_FRACTION = 0.05;

function taxon(args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
}

export type FlipKind = 'sibling' | 'random';

/** The leaves other than `leaf` under its deepest ancestor that has any (all other leaves at worst). */
function siblingLeaves(t: Taxonomy, leaf: number, leaves: readonly number[]): number[] {
  for (let a = t.nodes[leaf].parent; ; a = t.nodes[a].parent) {
    const under = leaves.filter((l) => l !== leaf && (a === TAXON_ROOT || t.isAncestorOrSelf(a, l)));
    if (under.length > 0 || a === TAXON_ROOT) return under;
  }
}

/** Deterministic label noise: which items flip, how, and to which leaf; all by hashes of the image path. */
export function flipLabels(t: Taxonomy, items: ReadonlyArray<{ image: string; leaf: number }>): Array<{ kind: FlipKind; to: number } | undefined> {
  const leaves = t.leaves();
  return items.map(({ image, leaf }) => {
    if (splitFraction(image, 'flip') >= FLIP_FRACTION) return undefined;
    const kind: FlipKind = splitFraction(image, 'flip-kind') < 0.5 ? 'sibling' : 'random';
    const candidates = kind === 'sibling' ? siblingLeaves(t, leaf, leaves) : leaves.filter((l) => l !== leaf);
    return { kind, to: candidates[Math.floor(splitFraction(image, 'flip-pick') * candidates.length)] };
  });
}

/** AUROC of a ranking (most suspicious first) for the positives against the negatives; items absent from it rank last. */
export function aurocOfOrder(order: readonly string[], positive: ReadonlySet<string>, negative: ReadonlySet<string>): number {
  let negativesBelow = negative.size;
  let sum = 0;
  let positives = 0;
  const seen = new Set<string>();
  for (const image of order) {
    seen.add(image);
    if (negative.has(image)) negativesBelow--;
    else if (positive.has(image)) {
      sum += negativesBelow;
      positives++;
    }
  }
  // Unranked positives tie with the unranked negatives (half credit).
  const unrankedNegatives = [...negative].filter((i) => !seen.has(i)).length;
  for (const p of positive) if (!seen.has(p)) sum += unrankedNegatives / 2;
  return positive.size && negative.size ? sum / (positive.size * negative.size) : NaN;
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}


export function auditSuite(): Record<string, unknown> | undefined {
  if (!fs.existsSync(DEV_DATASET)) {
    console.log(`audit: skipped, ${DEV_DATASET} is absent`);
    return undefined;
  }
  const result: Record<string, unknown> = devBenchHeader();
  console.log(`audit: embedding into ${BENCH_CACHE} (cached runs take seconds, a cold one minutes)`);
  taxon(['embed', DEV_DATASET, '--cache', BENCH_CACHE, '--json']);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taxon-bench-audit-'));
  try {
    // 1. The dev dataset as it is: the known byte-identical pair.
    let t0 = performance.now();
    const dev = JSON.parse(taxon(['audit', DEV_DATASET, '--json', '--cache', BENCH_CACHE]));
    const devSeconds = (performance.now() - t0) / 1000;
    const known = ['n07747607_20.JPEG', 'n07753592_63.JPEG'];
    const pair = dev.duplicates.find((d: { a: string; b: string }) => known.every((k) => d.a.endsWith(`/${k}`) || d.b.endsWith(`/${k}`)));
    result.knownPair = { files: known, reported: pair ?? null, differentLabels: pair ? !pair.sameLabel : false };
    result.devAudit = { seconds: devSeconds, suspects: dev.suspects.length, duplicates: dev.duplicates.length };
    console.log(`audit: dev dataset in ${devSeconds.toFixed(1)} s: ${dev.suspects.length} suspects, ${dev.duplicates.length} duplicate pair(s); known pair ${pair ? `reported (${pair.sameLabel ? 'same' : 'different'} labels)` : 'NOT reported'}`);

    // 2. Flipped labels in a copy of the dataset (images copied; the cache is content-addressed).
    const ds = loadDataset(DEV_DATASET);
    const t = ds.taxonomy;
    const items = ds.items.filter((it) => it.labels.length === 1 && t.isLeaf(it.labels[0])).map((it) => ({ image: it.image, leaf: it.labels[0] }));
    const flips = flipLabels(t, items);
    const copy = path.join(tmp, 'flipped');
    fs.mkdirSync(copy);
    fs.cpSync(path.join(DEV_DATASET, 'images'), path.join(copy, 'images'), { recursive: true });
    const rows = ['image,path'];
    items.forEach((it, i) => rows.push(`${csvField(it.image)},${csvField(t.pathString(flips[i]?.to ?? it.leaf))}`));
    // The CSV, not the folder: the folder's tree is the true taxonomy path of every image.
    const flippedCsv = path.join(copy, 'labels.csv');
    fs.writeFileSync(flippedCsv, rows.join('\n') + '\n');
    taxon(['embed', flippedCsv, '--cache', BENCH_CACHE, '--json']);
    t0 = performance.now();
    const audited = JSON.parse(taxon(['audit', flippedCsv, '--all', '--json', '--cache', BENCH_CACHE]));
    const auditSeconds = (performance.now() - t0) / 1000;
    const order: string[] = audited.suspects.map((s: { image: string }) => s.image);
    const evaluateOrder = (order: readonly string[]) => {
      const clean = new Set(items.filter((_, i) => !flips[i]).map((it) => it.image));
      const byKind = (k?: FlipKind) => new Set(items.filter((_, i) => flips[i] && (k === undefined || flips[i]!.kind === k)).map((it) => it.image));
      const all = byKind();
      const top = order.slice(0, Math.round(FLIP_FRACTION * items.length));
      const inTop = (set: ReadonlySet<string>) => top.filter((i) => set.has(i)).length;
      const kind = (k: FlipKind) => {
        const set = byKind(k);
        return { flipped: set.size, auroc: aurocOfOrder(order, set, clean), inTop5Percent: inTop(set), recallInTop5Percent: inTop(set) / set.size };
      };
      return { flipped: all.size, clean: clean.size, auroc: aurocOfOrder(order, all, clean), precisionTop5Percent: inTop(all) / top.length, sibling: kind('sibling'), random: kind('random') };
    };
    const taxonResult = { seconds: auditSeconds, judged: order.length, ...evaluateOrder(order) };
    result.labelNoise = { items: items.length, fraction: FLIP_FRACTION, taxon: taxonResult, targets: { auroc: 0.95, siblingAuroc: 0.92 } };
    const fmt = (r: ReturnType<typeof evaluateOrder>) =>
      `AUROC ${r.auroc.toFixed(4)} (sibling ${r.sibling.auroc.toFixed(4)}, random ${r.random.auroc.toFixed(4)}), precision in the top 5 % ${(r.precisionTop5Percent * 100).toFixed(1)} %`;
    console.log(`audit: ${taxonResult.flipped} of ${items.length} labels flipped; taxon audit (${auditSeconds.toFixed(1)} s): ${fmt(taxonResult)}`);

    if (hasSklearn()) {
      const npy = path.join(tmp, 'embeddings.npy');
      const csv = path.join(tmp, 'labels.csv');
      taxon(['export', flippedCsv, '--embeddings', npy, '--labels', csv, '--cache', BENCH_CACHE]);
      t0 = performance.now();
      const ref = JSON.parse(execFileSync(PYTHON, [path.join(__dirname, 'audit_reference.py'), npy, csv], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] }));
      const refResult = { seconds: (performance.now() - t0) / 1000, ...evaluateOrder(ref.order) };
      (result.labelNoise as Record<string, unknown>).reference = { what: '5-fold cross-validated scikit-learn LogisticRegression (C=1) on the L2-normalised, centred embeddings; score 1 − p(given)', ...refResult };
      console.log(`audit: reference (scikit-learn, ${refResult.seconds.toFixed(1)} s): ${fmt(refResult)}`);
    } else {
      console.log('audit: reference skipped: /usr/bin/python3 with scikit-learn is absent');
    }

    // 3. Near-duplicates over 100,000 embeddings.
    const devNpy = path.join(tmp, 'dev.npy');
    taxon(['export', DEV_DATASET, '--embeddings', devNpy, '--labels', path.join(tmp, 'dev.csv'), '--cache', BENCH_CACHE]);
    const dup = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'measureDuplicates.ts'), devNpy, '100000'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
    result.duplicates100k = dup;
    console.log(
      `audit: near-duplicates over ${dup.rows} embeddings in ${dup.seconds.toFixed(2)} s (target ≤ 10 s); exact search extrapolated ${dup.reference.extrapolatedSeconds.toFixed(0)} s → ratio ${dup.ratio.toFixed(4)}; recall on the sample ${dup.recallOnSample.found}/${dup.recallOnSample.exactPairs}`,
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}
