import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, Taxonomy } from '../../src/core/taxonomy';
import { conditionalsFromLeaves, Decoder, multiLevelEntropy } from '../../src/core/learn/inference';

/** A{a1, a2}, B{b1, b2, b3}: the top level leans to A, but b1 is the single most likely leaf. */
function toy() {
  const t = new Taxonomy();
  const A = t.add('A');
  const a1 = t.add('a1', A);
  const a2 = t.add('a2', A);
  const B = t.add('B');
  const b1 = t.add('b1', B);
  const b2 = t.add('b2', B);
  const b3 = t.add('b3', B);
  const cond = new Float64Array(t.size);
  cond[A] = 0.6;
  cond[B] = 0.4;
  cond[a1] = 0.55;
  cond[a2] = 0.45;
  cond[b1] = 0.9;
  cond[b2] = 0.05;
  cond[b3] = 0.05;
  const stop = new Uint8Array(t.size + 1);
  return { t, A, a1, a2, B, b1, b2, b3, cond, stop };
}

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≈ ${b}`);

test('top-down follows the greedy argmax from the root: A, then a1', () => {
  const { t, A, a1, b1, cond, stop } = toy();
  const p = new Decoder(t).decode(cond, stop, 'topdown');
  assert.deepEqual(p.path, [A, a1]);
  assert.equal(p.node, a1);
  close(p.marginals[a1], 0.33);
  close(p.marginals[b1], 0.36);
  assert.equal(p.confident, A, 'A has 0.6 ≥ τ, a1 only 0.33');
});

test('bottom-up takes the leaf with the largest product of conditionals: b1, internal nodes sum their leaves', () => {
  const { t, B, b1, cond, stop } = toy();
  const p = new Decoder(t).decode(cond, stop, 'bottomup');
  assert.deepEqual(p.path, [B, b1]);
  close(p.marginals[B], 0.4);
  close(p.marginals[b1], 0.36);
  assert.equal(p.confident, ROOT, 'nothing on the path reaches 0.5');
  assert.equal(new Decoder(t, { tau: 0.3 }).decode(cond, stop, 'bottomup').confident, b1);
});

test('diffusion solves (I − αWn) f = (1−α) f0 exactly and lets a strong parent outvote a lone leaf', () => {
  const { t, A, a1, B, b1, cond, stop } = toy();
  // α = 0 is bottom-up.
  assert.deepEqual(new Decoder(t, { alpha: 0 }).decode(cond, stop, 'diffusion').path, [B, b1]);
  const alpha = 0.9;
  const d = new Decoder(t, { alpha });
  const p = d.decode(cond, stop, 'diffusion');
  // Dense check: graph vertex 0 = root, i+1 = node i.
  const n = t.size + 1;
  const deg = new Array(n).fill(0);
  const edges: Array<[number, number]> = t.nodes.map((node) => [node.id + 1, node.parent + 1]);
  for (const [u, v] of edges) {
    deg[u]++;
    deg[v]++;
  }
  const M: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i === j ? 1 : 0)));
  for (const [u, v] of edges) {
    M[u][v] -= alpha / Math.sqrt(deg[u] * deg[v]);
    M[v][u] -= alpha / Math.sqrt(deg[u] * deg[v]);
  }
  M[0][n] = (1 - alpha) * 1;
  for (const node of t.nodes) M[node.id + 1][n] = (1 - alpha) * p.marginals[node.id];
  for (let c = 0; c < n; c++) {
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  for (const node of t.nodes) close(p.scores![node.id], M[node.id + 1][n] / M[node.id + 1][node.id + 1]);
  assert.deepEqual(p.path, [A, a1], 'A (0.6) lifts a1 (0.33) above b1 (0.36)');
});

test('an untrained classifier ends the path at its node: the parent decision stands', () => {
  const { t, B, cond, stop } = toy();
  stop[B + 1] = 1;
  cond[t.find(['B', 'b1'])!] = cond[t.find(['B', 'b2'])!] = cond[t.find(['B', 'b3'])!] = 1 / 3;
  cond[t.find(['A'])!] = 0.3;
  cond[B] = 0.7;
  for (const mode of ['topdown', 'bottomup', 'diffusion'] as const) {
    const p = new Decoder(t).decode(cond, stop, mode);
    assert.deepEqual(p.path, [B], mode);
    assert.equal(p.node, B);
  }
  const rootUntrained = new Uint8Array(t.size + 1);
  rootUntrained[0] = 1;
  assert.deepEqual(new Decoder(t).decode(cond, rootUntrained, 'topdown').path, []);
});

test('leaf probabilities become conditionals by summing into ancestors', () => {
  const { t, A, a1, B, b1 } = toy();
  const leafP = new Float64Array(t.size);
  leafP[a1] = 0.2;
  leafP[t.find(['A', 'a2'])!] = 0.2;
  leafP[b1] = 0.6;
  const cond = new Float64Array(t.size);
  const stop = new Uint8Array(t.size + 1);
  conditionalsFromLeaves(t, leafP, cond, stop);
  close(cond[A], 0.4);
  close(cond[B], 0.6);
  close(cond[a1], 0.5);
  close(cond[b1], 1);
  assert.deepEqual(new Decoder(t).decode(cond, stop, 'bottomup').path, [B, b1]);
});

test('multi-level entropy is 0 for a certain prediction and 1 for a uniform one', () => {
  const { t, A, a1 } = toy();
  const certain = new Float64Array(t.size);
  certain[A] = certain[a1] = 1;
  assert.equal(multiLevelEntropy(t, certain), 0);
  const uniform = new Float64Array(t.size);
  uniform[A] = uniform[t.find(['B'])!] = 0.5;
  for (const leaf of t.leaves()) uniform[leaf] = 1 / 5;
  close(multiLevelEntropy(t, uniform), 1);
});
