/**
 * One measurement in a fresh process, so that peak memory belongs to it alone.
 *   node --import tsx test/bench/measure.ts <kind> <input>
 * Prints one JSON line: { kind, ms, peakRssMB, ... }.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDataset } from '../../src/core/formats';
import { countsPerNode } from '../../src/core/stats';
import { validateDataset } from '../../src/core/validate';

const [kind, input] = process.argv.slice(2);
const peakRssMB = () => process.resourceUsage().maxRSS / 1024;

function measure(): Record<string, unknown> {
  const t0 = performance.now();
  switch (kind) {
    case 'json-parse': {
      // Reference: the least any JSON reader must do (read the bytes and JSON.parse them).
      const value = JSON.parse(fs.readFileSync(input, 'utf8'));
      return { ms: performance.now() - t0, keys: Object.keys(value).length };
    }
    case 'load-validate': {
      const ds = loadDataset(input);
      const tLoad = performance.now();
      const diagnostics = validateDataset(ds, { checkFiles: false });
      return { ms: performance.now() - t0, loadMs: tLoad - t0, validateMs: performance.now() - tLoad, items: ds.items.length, diagnostics: diagnostics.length };
    }
    case 'first-level': {
      // What the tree view needs before it can show the first level: parse, counts, top-level nodes.
      const ds = loadDataset(input);
      const counts = countsPerNode(ds);
      const first = ds.taxonomy.roots.map((id) => ({ name: ds.taxonomy.nodes[id].name, count: counts[id] }));
      return { ms: performance.now() - t0, nodes: ds.taxonomy.size, firstLevel: first.length };
    }
    case 'taxonomy-json-parse': {
      const value = JSON.parse(fs.readFileSync(path.join(path.dirname(input), 'taxonomy.json'), 'utf8'));
      JSON.parse(fs.readFileSync(input, 'utf8').split('\n')[0]);
      return { ms: performance.now() - t0, top: value.children.length };
    }
    default:
      throw new Error(`unknown measurement ${kind}`);
  }
}

const result = measure();
console.log(JSON.stringify({ kind, ...result, peakRssMB: peakRssMB() }));
