/** Synthetic inputs for the benchmarks: large Datumaro files and wide taxonomies. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes a Datumaro file of `items` items labelled with the leaves of a 3-level taxonomy
 * (4 × 5 × 10 = 200 leaves), one exclusive group per parent, streaming in chunks.
 */
export function generateDatumaro(file: string, items: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const labels: Array<{ name: string; parent: string; attributes: [] }> = [];
  const groups: Array<{ name: string; group_type: 'exclusive'; labels: string[] }> = [{ name: 'Root', group_type: 'exclusive', labels: [] }];
  const leaves: number[] = [];
  for (let a = 0; a < 4; a++) {
    const top = `top${a}`;
    labels.push({ name: top, parent: '', attributes: [] });
    groups[0].labels.push(top);
    const g = { name: top, group_type: 'exclusive' as const, labels: [] as string[] };
    groups.push(g);
    for (let b = 0; b < 5; b++) {
      const mid = `${top}_mid${b}`;
      labels.push({ name: mid, parent: top, attributes: [] });
      g.labels.push(mid);
      const g2 = { name: mid, group_type: 'exclusive' as const, labels: [] as string[] };
      groups.push(g2);
      for (let c = 0; c < 10; c++) {
        const leaf = `${mid}_leaf${c}`;
        leaves.push(labels.length);
        labels.push({ name: leaf, parent: mid, attributes: [] });
        g2.labels.push(leaf);
      }
    }
  }
  const head = JSON.stringify({ info: {}, categories: { label: { labels, label_groups: groups, attributes: [] } } }, null, 1);
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, head.slice(0, head.lastIndexOf('}')) + ',\n "items": [\n');
  let chunk: string[] = [];
  for (let i = 0; i < items; i++) {
    const id = `img_${String(i).padStart(7, '0')}`;
    const label = leaves[(i * 7919) % leaves.length];
    chunk.push(
      `  {"id": "${id}", "annotations": [{"id": 0, "type": "label", "attributes": {}, "group": 0, "label_id": ${label}}], "image": {"path": "${id}.jpg"}}${i < items - 1 ? ',' : ''}\n`,
    );
    if (chunk.length === 10000) {
      fs.writeSync(fd, chunk.join(''));
      chunk = [];
    }
  }
  fs.writeSync(fd, chunk.join('') + ' ]\n}\n');
  fs.closeSync(fd);
}

/**
 * Writes a JSONL dataset with a taxonomy file of about `nodes` nodes (30 top-level
 * categories, branching 10 then 100: a retail catalogue's shape) and one item per leaf.
 */
export function generateWideTaxonomy(dir: string, nodes: number): { items: string; taxonomy: string } {
  fs.mkdirSync(dir, { recursive: true });
  const tops = 30;
  const mids = 10;
  const perMid = Math.max(1, Math.floor((nodes - tops - tops * mids) / (tops * mids)));
  const lines: string[] = [];
  const tree = {
    name: 'root',
    children: Array.from({ length: tops }, (_, a) => ({
      name: `department ${a}`,
      description: `Department number ${a}`,
      children: Array.from({ length: mids }, (_, b) => ({
        name: `aisle ${b}`,
        children: Array.from({ length: perMid }, (_, c) => {
          lines.push(JSON.stringify({ image: `img/${a}_${b}_${c}.jpg`, path: `department ${a} > aisle ${b} > product ${c}` }));
          return { name: `product ${c}` };
        }),
      })),
    })),
  };
  const items = path.join(dir, 'labels.jsonl');
  const taxonomy = path.join(dir, 'taxonomy.json');
  fs.writeFileSync(items, lines.join('\n') + '\n');
  fs.writeFileSync(taxonomy, JSON.stringify(tree));
  return { items, taxonomy };
}
