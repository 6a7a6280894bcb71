/**
 * Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright, algorithms 7.4, 3.5
 * and 3.6): the optimiser behind every node classifier. Smooth, convex objectives only.
 */

/** Returns f(x) and writes ∇f(x) into `grad`. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  /** Most iterations (each usually one evaluation). */
  maxIterations?: number;
  /** Pairs (s, y) kept. */
  memory?: number;
  /** Converged when max|∇f| ≤ this. */
  gradientTolerance?: number;
  /** Converged when the relative decrease of f over one iteration is below this. */
  relativeTolerance?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  /** max|∇f| at the returned point. */
  gradientNorm: number;
  /** ∇f at the returned point. */
  gradient: Float64Array;
}

const C1 = 1e-4;
const C2 = 0.9;

export function minimize(f: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const maxIterations = options.maxIterations ?? 200;
  const m = options.memory ?? 10;
  const gtol = options.gradientTolerance ?? 1e-5;
  const ftol = options.relativeTolerance ?? 1e-10;
  const n = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let fx = f(x, g);
  let evaluations = 1;
  if (!Number.isFinite(fx)) throw new Error('the objective is not finite at the starting point');
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const d = new Float64Array(n);
  let xNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  let iterations = 0;
  let converged = maxAbs(g) <= gtol;
  while (!converged && iterations < maxIterations) {
    // Two-loop recursion: d = −H∇f.
    for (let i = 0; i < n; i++) d[i] = -g[i];
    const k = S.length;
    for (let j = k - 1; j >= 0; j--) {
      alpha[j] = rho[j] * dot(S[j], d);
      axpy(-alpha[j], Y[j], d);
    }
    if (k > 0) scale(d, dot(S[k - 1], Y[k - 1]) / dot(Y[k - 1], Y[k - 1]));
    for (let j = 0; j < k; j++) {
      const beta = rho[j] * dot(Y[j], d);
      axpy(alpha[j] - beta, S[j], d);
    }
    let dg = dot(d, g);
    if (!(dg < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      dg = dot(d, g);
    }
    const step0 = k === 0 ? Math.min(1, 1 / Math.sqrt(-dg)) : 1;
    const ls = lineSearch(f, x, fx, g, d, dg, step0, xNew, gNew);
    evaluations += ls.evaluations;
    iterations++;
    if (!ls.ok) {
      if (S.length === 0) break; // even steepest descent found no decrease: at the numerical optimum
      S.length = Y.length = rho.length = 0;
      continue;
    }
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      y[i] = gNew[i] - g[i];
    }
    const sy = dot(s, y);
    const decrease = fx - ls.value;
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    fx = ls.value;
    if (sy > 1e-12 * dot(y, y)) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    converged = maxAbs(g) <= gtol || decrease <= ftol * Math.max(Math.abs(fx), 1);
  }
  return { x, value: fx, iterations, evaluations, converged, gradientNorm: maxAbs(g), gradient: g };
}

interface LineSearchResult {
  ok: boolean;
  value: number;
  evaluations: number;
}

/** Strong-Wolfe line search; on success xNew/gNew hold the accepted point. */
function lineSearch(f: Objective, x: Float64Array, fx: number, g: Float64Array, d: Float64Array, dg0: number, step: number, xNew: Float64Array, gNew: Float64Array): LineSearchResult {
  const n = x.length;
  let evaluations = 0;
  const at = (a: number): { f: number; dg: number } => {
    for (let i = 0; i < n; i++) xNew[i] = x[i] + a * d[i];
    const v = f(xNew, gNew);
    evaluations++;
    return { f: v, dg: dot(gNew, d) };
  };
  let aPrev = 0;
  let fPrev = fx;
  let dgPrev = dg0;
  let a = step;
  for (let i = 0; i < 20; i++) {
    const p = at(a);
    if (!Number.isFinite(p.f) || p.f > fx + C1 * a * dg0 || (i > 0 && p.f >= fPrev)) {
      return zoom(aPrev, fPrev, dgPrev, a, p.f, p.dg);
    }
    if (Math.abs(p.dg) <= -C2 * dg0) return { ok: true, value: p.f, evaluations };
    if (p.dg >= 0) return zoom(a, p.f, p.dg, aPrev, fPrev, dgPrev);
    aPrev = a;
    fPrev = p.f;
    dgPrev = p.dg;
    a *= 2;
  }
  return { ok: false, value: fx, evaluations };

  function zoom(lo: number, fLo: number, dgLo: number, hi: number, fHi: number, dgHi: number): LineSearchResult {
    for (let j = 0; j < 30; j++) {
      let a = cubicMin(lo, fLo, dgLo, hi, Number.isFinite(fHi) ? fHi : NaN, dgHi);
      const lower = Math.min(lo, hi);
      const width = Math.abs(hi - lo);
      if (!Number.isFinite(a) || a < lower + 0.1 * width || a > lower + 0.9 * width) a = (lo + hi) / 2;
      const p = at(a);
      if (!Number.isFinite(p.f) || p.f > fx + C1 * a * dg0 || p.f >= fLo) {
        hi = a;
        fHi = p.f;
        dgHi = p.dg;
      } else {
        if (Math.abs(p.dg) <= -C2 * dg0) return { ok: true, value: p.f, evaluations };
        if (p.dg * (hi - lo) >= 0) {
          hi = lo;
          fHi = fLo;
          dgHi = dgLo;
        }
        lo = a;
        fLo = p.f;
        dgLo = p.dg;
      }
      if (width < 1e-14) break;
    }
    // Sufficient decrease without curvature: still usable when it went down.
    if (lo > 0 && fLo < fx) {
      at(lo);
      return { ok: true, value: fLo, evaluations };
    }
    return { ok: false, value: fx, evaluations };
  }
}

/** Minimiser of the cubic through (a, fa, da) and (b, fb, db); NaN when there is none. */
function cubicMin(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - ((b - a) * (db + d2 - d1)) / (db - da + 2 * d2);
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

function scale(x: Float64Array, s: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= s;
}

function maxAbs(x: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]);
    if (v > m) m = v;
  }
  return m;
}
