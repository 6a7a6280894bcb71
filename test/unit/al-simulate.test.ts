import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LBFGS } from '../../src/core/learn/softmax';
import { l2At, simulate, SIMULATION_DEFAULTS, type SimulationData } from '../../src/core/learn/simulate';
import { hierarchicalClusters } from './learn-synthetic';

/** 12 leaves under 3 top nodes, 900 pool and 300 test items. */
function data(): SimulationData {
  const s = hierarchicalClusters({ n: 1200, dim: 16, branching: [3, 4], spread: [3, 1.5], noise: 2, seed: 5 });
  const part = (from: number, to: number) => ({ data: s.data.slice(from * s.dim, to * s.dim), n: to - from, dim: s.dim });
  return { taxonomy: s.taxonomy, pool: part(0, 900), poolLeaf: Int32Array.from(s.labels.slice(0, 900)), test: part(900, 1200), testTruth: Int32Array.from(s.labels.slice(900)) };
}

test('al-sim: random is judged against itself, every strategy has its curve, and a run is reproducible', () => {
  const options = { strategies: ['hybrid', 'multilevel-entropy', 'random'], batch: 24, budget: 120, repeats: 2, dims: 8 };
  const a = simulate(data(), options);
  assert.deepEqual(a.strategies.map((s) => s.strategy), ['hybrid', 'multilevel-entropy', 'random']);
  const random = a.strategies.find((s) => s.strategy === 'random')!;
  // its own curve reaches its accuracy at a checkpoint by that checkpoint (earlier where the curve dips after)
  assert.deepEqual(Object.keys(random.labelsToMatchRandom), ['30', '60', '120']);
  for (const [at, n] of Object.entries(random.labelsToMatchRandom)) assert.ok(n !== null && n <= Number(at), `${at}: ${n}`);
  for (const s of a.strategies) {
    assert.equal(s.runs.length, 2);
    // 12 seed labels, then batches of 24 up to the budget
    assert.deepEqual(s.curve.map((p) => p.labels), [12, 36, 60, 84, 108, 120]);
    for (const p of s.curve) assert.ok(p.leafTop1 > 0 && p.leafTop1 <= 1 && p.hF1 >= p.leafTop1 - 1e-9, JSON.stringify(p));
  }
  // the synthetic leaves are separable: every strategy learns
  for (const s of a.strategies) assert.ok(s.curve[s.curve.length - 1].leafTop1 > s.curve[0].leafTop1, s.strategy);
  const b = simulate(data(), options);
  assert.deepEqual(b.strategies.map((s) => s.curve), a.strategies.map((s) => s.curve));
});

test('al-sim fits its classifier as the product fits its own: to convergence, not capped at a few iterations', () => {
  assert.equal(SIMULATION_DEFAULTS.maxIterations, DEFAULT_LBFGS.maxIterations);
  const r = simulate(data(), { strategies: ['hybrid'], batch: 24, budget: 36, repeats: 1, dims: 8 });
  // random runs beside every strategy (its curve is the yardstick) and is reported only when asked for
  assert.deepEqual(r.strategies.map((s) => s.strategy), ['hybrid']);
  assert.equal(r.setup.maxIterations, DEFAULT_LBFGS.maxIterations);
});

test('al-sim regularises as labels grow: λ = c / labels (scikit-learn\'s constant C), or a fixed λ when given one', () => {
  assert.deepEqual(SIMULATION_DEFAULTS.l2, { perLabel: 10 });
  assert.equal(l2At({ perLabel: 10 }, 1000), 0.01);
  assert.equal(l2At({ perLabel: 10 }, 4000), 0.0025);
  assert.equal(l2At(1e-3, 4000), 1e-3);
  // no labels yet: no division by zero
  assert.equal(l2At({ perLabel: 10 }, 0), 10);
  const fixed = simulate(data(), { strategies: ['random'], batch: 24, budget: 60, repeats: 1, dims: 8, l2: 1e-3 });
  const scheduled = simulate(data(), { strategies: ['random'], batch: 24, budget: 60, repeats: 1, dims: 8 });
  assert.deepEqual(scheduled.setup.l2, { perLabel: 10 });
  assert.equal(fixed.setup.l2, 1e-3);
  // the same labels (random's draws do not depend on the classifier), a different fit
  assert.notDeepEqual(scheduled.strategies[0].curve, fixed.strategies[0].curve);
});

test('al-sim strategies see the geometry of the product\'s queue: the embeddings whitened on its principal directions', () => {
  const r = simulate(data(), { strategies: ['hybrid'], batch: 24, budget: 36, repeats: 1, dims: 12, geometryDims: 6 });
  assert.equal(r.setup.dims, 12);
  assert.equal(r.setup.geometryDims, 6);
});
