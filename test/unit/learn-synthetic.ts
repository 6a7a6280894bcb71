/** Synthetic hierarchical Gaussian clusters for the learning tests and benchmarks (deterministic). */
import { ROOT, Taxonomy } from '../../src/core/taxonomy';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

export interface Synthetic {
  taxonomy: Taxonomy;
  /** Raw embeddings, row per item. */
  data: Float32Array;
  n: number;
  dim: number;
  /** True leaf per item. */
  labels: number[];
  images: string[];
}

/**
 * A taxonomy of `branching[0]` top nodes, each with `branching[1]` children, … ; items drawn around
 * leaf centres that are offsets of their parents' centres (so the hierarchy is in the geometry).
 */
export function hierarchicalClusters(options: { n: number; dim: number; branching: number[]; spread?: number[]; noise?: number; seed?: number }): Synthetic {
  const { n, dim, branching } = options;
  const spread = options.spread ?? branching.map(() => 1);
  const noise = options.noise ?? 1;
  const rand = rng(options.seed ?? 1);
  const g = gaussian(rand);
  const t = new Taxonomy();
  const centre = new Map<number, Float64Array>();
  const grow = (parent: number, level: number, prefix: string) => {
    if (level === branching.length) return;
    const base = parent === ROOT ? new Float64Array(dim) : centre.get(parent)!;
    for (let i = 0; i < branching[level]; i++) {
      const id = t.add(`${prefix}${i}`, parent);
      const c = new Float64Array(dim);
      for (let j = 0; j < dim; j++) c[j] = base[j] + spread[level] * g();
      centre.set(id, c);
      grow(id, level + 1, `${prefix}${i}.`);
    }
  };
  grow(ROOT, 0, 'n');
  const leaves = t.leaves();
  const data = new Float32Array(n * dim);
  const labels: number[] = [];
  const images: string[] = [];
  for (let i = 0; i < n; i++) {
    const leaf = leaves[Math.floor(rand() * leaves.length)];
    const c = centre.get(leaf)!;
    for (let j = 0; j < dim; j++) data[i * dim + j] = c[j] + noise * g();
    labels.push(leaf);
    images.push(`img/${i}.jpg`);
  }
  return { taxonomy: t, data, n, dim, labels, images };
}
