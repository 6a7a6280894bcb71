/**
 * The queue's scores, kept up to date incrementally: after a retrain only the conditionals of
 * the retrained classifiers are recomputed, and only for the items that have probability mass
 * on the retrained parent.
 *
 * Why that is sound: an item's marginal at a node below parent p is m(p) times conditionals, so a
 * retrain at p moves the item's marginals by at most m(p) at any node (the whole subtree holds
 * m(p) of mass). Items with m(p) ≤ ε for every retrained p keep their scores, off by a bound that
 * vanishes with ε; with ε = 0 the result is exactly a full recompute (test/unit/al-ranking.test.ts).
 * ROOT's classifier retrains after every label, but it has few children: its conditionals are cheap.
 */
import { ROOT, type Taxonomy } from '../taxonomy';
import type { LcpnClassifier } from './hierarchy';
import { marginalsFromConditionals } from './uncertainty';
import { scores as linearScores, type Features } from './softmax';

/** Where conditionals come from: a classifier per parent node. */
export interface ConditionalsSource {
  /** Writes P(child | parent) of row `row` for every child of `parent` at out[offset + child]. */
  conditionals(row: number, parent: number, out: Float32Array, offset: number): void;
}

/** Conditionals from an LCPN model on preprocessed inputs (uniform under an untrained or missing classifier). */
export function lcpnSource(lcpn: LcpnClassifier, X: Features): ConditionalsSource {
  const t = lcpn.taxonomy;
  const buffers = new Map<number, Float64Array>();
  return {
    conditionals(row, parent, out, offset) {
      const kids = t.childrenOf(parent);
      const c = lcpn.classifiers.get(parent);
      if (!c || !c.trained) {
        for (const k of kids) out[offset + k] = c?.kind === 'sigmoid' ? 0.5 : 1 / kids.length;
        return;
      }
      let s = buffers.get(c.children.length);
      if (!s) buffers.set(c.children.length, (s = new Float64Array(c.children.length)));
      linearScores(X.data, row * X.dim, X.dim, c.weights, c.children.length, s);
      if (c.kind === 'softmax') {
        let max = -Infinity;
        for (let k = 0; k < s.length; k++) if (s[k] > max) max = s[k];
        let z = 0;
        for (let k = 0; k < s.length; k++) z += s[k] = Math.exp(s[k] - max);
        for (let k = 0; k < s.length; k++) out[offset + c.children[k]] = s[k] / z;
      } else {
        for (let k = 0; k < s.length; k++) out[offset + c.children[k]] = 1 / (1 + Math.exp(-s[k]));
      }
    },
  };
}

export const DEFAULT_RERANK_EPSILON = 1e-4;

export class QueueRanking {
  /** Row-major n × nodes. */
  readonly cond: Float32Array;
  readonly marginals: Float32Array;
  readonly scores: Float64Array;
  private readonly parentOf: Int32Array;
  private readonly order: Int32Array;
  private readonly internal: number[];

  constructor(
    readonly taxonomy: Taxonomy,
    readonly rows: number,
    private readonly source: ConditionalsSource,
    /** The item's score from its marginals (higher = label sooner). */
    private readonly score: (marginals: Float32Array, offset: number) => number,
    readonly epsilon = DEFAULT_RERANK_EPSILON,
  ) {
    const N = taxonomy.size;
    this.cond = new Float32Array(rows * N);
    this.marginals = new Float32Array(rows * N);
    this.scores = new Float64Array(rows);
    this.parentOf = Int32Array.from(taxonomy.nodes, (n) => n.parent);
    this.order = Int32Array.from(taxonomy.walk());
    this.internal = [ROOT, ...taxonomy.nodes.filter((n) => n.children.length > 0).map((n) => n.id)];
    this.recomputeAll();
  }

  recomputeAll(): void {
    for (let r = 0; r < this.rows; r++) {
      for (const p of this.internal) this.source.conditionals(r, p, this.cond, r * this.taxonomy.size);
      this.refresh(r);
    }
  }

  /** After the classifiers of `retrained` parents changed: recomputes what can have changed. Returns the rows recomputed. */
  update(retrained: Iterable<number>): number {
    const t = this.taxonomy;
    const depth = t.depths();
    // Parents top-down, so that each check sees the marginals its retrained ancestors produce.
    const parents = [...new Set(retrained)]
      .filter((p) => p === ROOT || (p >= 0 && p < t.size && t.nodes[p].children.length > 0))
      .sort((a, b) => (a === ROOT ? 0 : depth[a]) - (b === ROOT ? 0 : depth[b]));
    const N = t.size;
    let recomputed = 0;
    for (let r = 0; r < this.rows; r++) {
      const o = r * N;
      let touched = false;
      let stale = false;
      for (const p of parents) {
        if (p !== ROOT) {
          if (stale) marginalsFromConditionals(this.parentOf, this.order, this.cond, o, this.marginals, o);
          stale = false;
          if (!(this.marginals[o + p] > this.epsilon)) continue;
        }
        this.source.conditionals(r, p, this.cond, o);
        touched = stale = true;
      }
      if (touched) {
        this.refresh(r);
        recomputed++;
      }
    }
    return recomputed;
  }

  private refresh(r: number): void {
    const o = r * this.taxonomy.size;
    marginalsFromConditionals(this.parentOf, this.order, this.cond, o, this.marginals, o);
    this.scores[r] = this.score(this.marginals, o);
  }
}
