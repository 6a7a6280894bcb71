/**
 * The taxonomy: a rooted tree of named nodes. Node ids are dense indices into `nodes`;
 * the implicit root has no node (parent = -1 means "top level").
 */

export const ROOT = -1;

export interface TaxonNode {
  readonly id: number;
  name: string;
  /** Parent node id, or ROOT (-1) for a top-level node. */
  parent: number;
  readonly children: number[];
  description?: string;
  /** Fields of the source format that Taxon does not interpret, kept for round trips. */
  extra?: Record<string, unknown>;
}

export class Taxonomy {
  readonly nodes: TaxonNode[] = [];
  /** Top-level nodes (children of the implicit root). */
  readonly roots: number[] = [];
  private readonly childIndex = new Map<string, number>();

  /** Adds a node under `parent`. Returns the existing id when a sibling already has the name. */
  add(name: string, parent: number = ROOT, description?: string): number {
    const existing = this.child(parent, name);
    if (existing !== undefined) return existing;
    return this.addUnchecked(name, parent, description);
  }

  /** Adds a node even when a sibling has the same name (readers use this to keep what the file says). */
  addUnchecked(name: string, parent: number = ROOT, description?: string): number {
    const id = this.nodes.length;
    const node: TaxonNode = { id, name, parent, children: [] };
    if (description !== undefined) node.description = description;
    this.nodes.push(node);
    (parent === ROOT ? this.roots : this.nodes[parent].children).push(id);
    const key = childKey(parent, name);
    if (!this.childIndex.has(key)) this.childIndex.set(key, id);
    return id;
  }

  get size(): number {
    return this.nodes.length;
  }

  child(parent: number, name: string): number | undefined {
    return this.childIndex.get(childKey(parent, name));
  }

  childrenOf(parent: number): readonly number[] {
    return parent === ROOT ? this.roots : this.nodes[parent].children;
  }

  isLeaf(id: number): boolean {
    return this.nodes[id].children.length === 0;
  }

  /** Depth of a node: 1 for top-level nodes. */
  depth(id: number): number {
    let d = 0;
    for (let n = id; n !== ROOT; n = this.nodes[n].parent) d++;
    return d;
  }

  /** Node ids from the top level down to `id` (inclusive). */
  ancestry(id: number): number[] {
    const out: number[] = [];
    for (let n = id; n !== ROOT; n = this.nodes[n].parent) out.push(n);
    return out.reverse();
  }

  path(id: number): string[] {
    return this.ancestry(id).map((n) => this.nodes[n].name);
  }

  pathString(id: number, separator = ' > '): string {
    return this.path(id).join(separator);
  }

  /** Resolves a path of names from the top level; undefined when any step is missing. */
  find(path: readonly string[]): number | undefined {
    let node = ROOT;
    for (const name of path) {
      const next = this.child(node, name);
      if (next === undefined) return undefined;
      node = next;
    }
    return node === ROOT ? undefined : node;
  }

  /** True when `a` is `b` or one of its ancestors. */
  isAncestorOrSelf(a: number, b: number): boolean {
    for (let n = b; n !== ROOT; n = this.nodes[n].parent) if (n === a) return true;
    return false;
  }

  leaves(): number[] {
    return this.nodes.filter((n) => n.children.length === 0).map((n) => n.id);
  }

  maxDepth(): number {
    let max = 0;
    const depth = this.depths();
    for (const d of depth) if (d > max) max = d;
    return max;
  }

  /** Depth of every node, computed in one pass (parents precede children in `nodes` order is not assumed). */
  depths(): Int32Array {
    const depth = new Int32Array(this.nodes.length);
    const stack: Array<[number, number]> = this.roots.map((r) => [r, 1]);
    while (stack.length) {
      const [id, d] = stack.pop()!;
      depth[id] = d;
      for (const c of this.nodes[id].children) stack.push([c, d + 1]);
    }
    return depth;
  }

  /** Every node in depth-first pre-order. */
  *walk(from: number = ROOT): Generator<number> {
    const stack = [...this.childrenOf(from)].reverse();
    while (stack.length) {
      const id = stack.pop()!;
      yield id;
      const kids = this.nodes[id].children;
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
    }
  }
}

function childKey(parent: number, name: string): string {
  return `${parent}\u0000${name}`;
}
