/** Expands the worker's flat taxonomy preview into the tree view's summary (host side; no heavy imports). */
import type { DatasetSummary, NodeSummary, TaxonomyPreview } from './inspection';

/** The tree view's summary of a preview: nodes with children, counts not known yet. */
export function expandPreview(preview: TaxonomyPreview): DatasetSummary {
  const { names, parents, descriptions } = preview.outline;
  const n = names.length;
  const nodes: NodeSummary[] = new Array(n);
  const roots: number[] = [];
  const depth = new Int32Array(n);
  let maxDepth = 0;
  for (let id = 0; id < n; id++) {
    const parent = parents[id];
    nodes[id] = { name: names[id], parent, children: [], count: 0 };
    if (parent < 0) {
      roots.push(id);
      depth[id] = 1;
    } else {
      nodes[parent].children.push(id); // pre-order: the parent came first
      depth[id] = depth[parent] + 1;
    }
    if (depth[id] > maxDepth) maxDepth = depth[id];
  }
  for (const [id, description] of descriptions) nodes[id].description = description;
  return { target: preview.target, format: preview.format, root: preview.root, files: preview.files, nodes, roots, images: 0, unlabelled: 0, maxDepth, preview: true };
}
