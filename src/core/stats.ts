/** Counts per node and per level, shared by `taxon stats` and the taxonomy tree view. */
import type { Dataset, FormatName } from './dataset';
import { ROOT } from './taxonomy';

export interface LevelStats {
  level: number;
  nodes: number;
  images: number;
}

export interface DatasetStats {
  format: FormatName;
  images: number;
  labelled: number;
  unlabelled: number;
  nodes: number;
  leaves: number;
  maxDepth: number;
  perLevel: LevelStats[];
}

/** Images labelled at or under each node (an item counts once per node even with several labels). */
export function countsPerNode(ds: Dataset): Int32Array {
  const t = ds.taxonomy;
  const counts = new Int32Array(t.size);
  const stamp = new Int32Array(t.size).fill(-1);
  ds.items.forEach((item, i) => {
    for (const label of item.labels) {
      for (let n = label; n !== ROOT && stamp[n] !== i; n = t.nodes[n].parent) {
        stamp[n] = i;
        counts[n]++;
      }
    }
  });
  return counts;
}

export function datasetStats(ds: Dataset): DatasetStats {
  const t = ds.taxonomy;
  const depths = t.depths();
  let maxDepth = 0;
  let leaves = 0;
  const nodesPerLevel: number[] = [];
  for (const node of t.nodes) {
    const d = depths[node.id];
    if (d > maxDepth) maxDepth = d;
    nodesPerLevel[d] = (nodesPerLevel[d] ?? 0) + 1;
    if (node.children.length === 0) leaves++;
  }
  const imagesReaching = new Array<number>(maxDepth + 2).fill(0);
  let labelled = 0;
  for (const item of ds.items) {
    if (item.labels.length === 0) continue;
    labelled++;
    let deepest = 0;
    for (const l of item.labels) if (depths[l] > deepest) deepest = depths[l];
    imagesReaching[deepest]++;
  }
  // images reaching level L = items whose deepest label is at depth >= L
  const perLevel: LevelStats[] = [];
  let running = 0;
  const reach = new Array<number>(maxDepth + 1).fill(0);
  for (let d = maxDepth; d >= 1; d--) {
    running += imagesReaching[d];
    reach[d] = running;
  }
  for (let d = 1; d <= maxDepth; d++) perLevel.push({ level: d, nodes: nodesPerLevel[d] ?? 0, images: reach[d] });
  return {
    format: ds.format,
    images: ds.items.length,
    labelled,
    unlabelled: ds.items.length - labelled,
    nodes: t.size,
    leaves,
    maxDepth,
    perLevel,
  };
}
