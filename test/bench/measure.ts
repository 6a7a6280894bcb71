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
import { previewTaxonomy } from '../../src/host/inspection';
import { expandPreview } from '../../src/host/preview';

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
      // What the tree view shows first: the worker's taxonomy preview, passed to the host, its top level.
      // The worker reads the outline, it crosses the thread boundary (structuredClone, as postMessage does), the host expands it.
      const preview = previewTaxonomy({ id: 0, target: input, checkFiles: false, findIdenticalImages: false, maxBytes: 1 << 30, maxDiagnostics: 0 });
      if (!preview) throw new Error('no taxonomy preview');
      const copy = expandPreview(structuredClone(preview));
      const first = copy.roots.map((id) => copy.nodes[id].name);
      return { ms: performance.now() - t0, nodes: copy.nodes.length, firstLevel: first.length };
    }
    case 'full-tree': {
      // The whole inspection the tree waits for to show counts: parse items, validate, count.
      const ds = loadDataset(input);
      validateDataset(ds, { checkFiles: false });
      const counts = countsPerNode(ds);
      const first = ds.taxonomy.roots.map((id) => ({ name: ds.taxonomy.nodes[id].name, count: counts[id] }));
      return { ms: performance.now() - t0, nodes: ds.taxonomy.size, firstLevel: first.length, items: ds.items.length };
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
