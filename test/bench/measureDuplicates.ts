/**
 * Near-duplicate search over 100,000 embeddings (child process of the audit bench suite).
 * The rows: the dev dataset's 20,000 real embeddings, then synthetic ones (a real embedding plus
 * 0.6 × the difference of two others: as far from every other row as real images are), and 200
 * planted near-duplicates at similarities spread over [threshold, 1). Measured side by side:
 * the LSH search on all rows, and the exact O(n²) search on a 5,000-row sample, whose time is
 * extrapolated to all rows (× (n / 5,000)²) as the reference; recall of the LSH against the
 * exact search on that sample. Prints one JSON line.
 *
 *   node --import tsx test/bench/measureDuplicates.ts <embeddings.npy> [rows]
 */
import * as fs from 'node:fs';
import { seededRandom } from '../../src/core/learn/clustering';
import { DEFAULT_DUPLICATE_SIMILARITY, nearDuplicates, nearDuplicatesExact } from '../../src/core/learn/duplicates';

const [file, rowsArg] = process.argv.slice(2);
const buf = fs.readFileSync(file);
const headerLength = buf.readUInt16LE(8);
const header = buf.subarray(10, 10 + headerLength).toString('latin1');
const dim = Number(/'shape': \((\d+), (\d+)\)/.exec(header)![2]);
const base = new Float32Array(buf.buffer.slice(buf.byteOffset + 10 + headerLength, buf.byteOffset + buf.length));
const real = base.length / dim;
const n = Number(rowsArg ?? 100_000);
const threshold = DEFAULT_DUPLICATE_SIMILARITY;
const rand = seededRandom(2026);
const data = new Float32Array(n * dim);
for (let i = 0; i < n; i++) {
  if (i < real) {
    data.set(base.subarray(i * dim, (i + 1) * dim), i * dim);
    continue;
  }
  const [a, b, c] = [0, 0, 0].map(() => Math.floor(rand() * real));
  for (let j = 0; j < dim; j++) data[i * dim + j] = base[a * dim + j] + 0.6 * (base[b * dim + j] - base[c * dim + j]);
}
/** Planted pairs: row b becomes row a with multiplicative noise (similarities ~0.92–0.999). */
function plant(m: Float32Array, rows: number, pairs: number): void {
  for (let k = 0; k < pairs; k++) {
    const a = Math.floor(rand() * rows);
    const b = Math.floor(rand() * rows);
    if (a === b) continue;
    const eps = 0.3 + 1.2 * rand();
    for (let j = 0; j < dim; j++) m[b * dim + j] = m[a * dim + j] * (1 + eps * (rand() - 0.5));
  }
}
plant(data, n, 200);

const t0 = performance.now();
const lsh = nearDuplicates({ data, n, dim }, { threshold });
const lshSeconds = (performance.now() - t0) / 1000;

// Reference: exact search on a sample that keeps some planted pairs (the first rows of the matrix
// hold no planted pair on purpose: take every k-th row plus the planted partners in range).
const sampleRows = Math.min(5000, n);
const sample = new Float32Array(sampleRows * dim);
for (let i = 0; i < sampleRows; i++) sample.set(data.subarray(i * dim, (i + 1) * dim), i * dim);
plant(sample, sampleRows, 100);
const t1 = performance.now();
const exact = nearDuplicatesExact({ data: sample, n: sampleRows, dim }, threshold);
const exactSeconds = (performance.now() - t1) / 1000;
const approx = nearDuplicates({ data: sample, n: sampleRows, dim }, { threshold });
const found = new Set(approx.pairs.map((p) => `${p.a}:${p.b}`));
const recalled = exact.filter((p) => found.has(`${p.a}:${p.b}`)).length;
const extrapolated = exactSeconds * (n / sampleRows) ** 2;
console.log(
  JSON.stringify({
    rows: n,
    realRows: Math.min(real, n),
    dim,
    threshold,
    seconds: lshSeconds,
    pairs: lsh.pairs.length,
    stats: lsh.stats,
    reference: { what: `exact all-pairs search on ${sampleRows} rows, × (${n} / ${sampleRows})²`, sampleSeconds: exactSeconds, extrapolatedSeconds: extrapolated },
    ratio: lshSeconds / extrapolated,
    recallOnSample: { exactPairs: exact.length, found: recalled, recall: exact.length ? recalled / exact.length : 1, lowestSimilarity: exact.at(-1)?.similarity },
    targets: { seconds: 10 },
  }),
);
