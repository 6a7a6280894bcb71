/**
 * Both cores for one large softmax fit: a helper thread evaluates the data term on one half of
 * the rows while the fitting thread does the other, within each (synchronous) L-BFGS evaluation.
 * The two meet through shared memory and Atomics: the helper blocks on a generation counter, the
 * fitting thread publishes the weights, bumps the counter, computes its half and waits for the
 * helper's "done". The helper thread is started once per thread that fits (lazily) and unref'd.
 *
 * Where no helper can run (one core, TAXON_THREADS=1, the worker script missing, a helper that
 * failed before) the fit runs on one thread, with the same result up to rounding.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { defaultThreads } from '../model/backbone';
import type { Features } from './softmax';

/** Below this many multiply-adds per evaluation (rows × classes × dims) one thread is faster. */
export const PARALLEL_MIN_WORK = 4_000_000;
/** Slots of the control array. */
export const Slot = { Generation: 0, Done: 1, Stop: 2, Ready: 3, Failed: 4 } as const;
const SLOTS = Object.keys(Slot).length;
/** How long the fitting thread waits for its helper before giving up on it. */
const HELPER_TIMEOUT_MS = 10 * 60 * 1000;
const START_TIMEOUT_MS = 30 * 1000;

/** What the helper gets for one fit (SharedArrayBuffers: nothing is copied per evaluation). */
export interface SplitJob {
  type: 'fit';
  data: SharedArrayBuffer;
  dim: number;
  rows: SharedArrayBuffer;
  targets: SharedArrayBuffer;
  rowWeights: SharedArrayBuffer;
  K: number;
  start: number;
  end: number;
  control: SharedArrayBuffer;
  weights: SharedArrayBuffer;
  gradient: SharedArrayBuffer;
  loss: SharedArrayBuffer;
}

/** A one-shot job: softmax probabilities of one head for some rows (the labelling session's refresh). */
export interface RowsJob {
  type: 'softmax-rows';
  data: SharedArrayBuffer;
  dim: number;
  rows: SharedArrayBuffer;
  /** Float32, K × (dim + 1). */
  weights: SharedArrayBuffer;
  K: number;
  /** Float64, rows × K. */
  out: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

/**
 * One-shot jobs of the Laplace posterior (laplace.ts) for the leaves [from, to): their factors
 * (leafFactors) or their quadratic forms (quadraticTerms). The arrays they write are in shared
 * memory; `data` is the geometry's inputs (xDim per row).
 */
export interface FactorsJob {
  type: 'laplace-factors';
  /** Float64, leaves × (dims + 1)²: written. */
  factors: Float64Array;
  data: Float32Array;
  xDim: number;
  dims: number;
  /** Leaf k's labelled rows are rows[start[k] … start[k + 1]), each with its scale √(p(1 − p)). */
  start: Int32Array;
  rows: Int32Array;
  scales: Float64Array;
  priorPrecision: number;
  from: number;
  to: number;
}

export interface TermsJob {
  type: 'laplace-terms';
  factors: Float64Array;
  data: Float32Array;
  xDim: number;
  dims: number;
  /** The rows of the terms, sorted by leaf; leaf k's are byLeaf[start[k] … start[k + 1]). */
  byLeaf: Int32Array;
  start: Int32Array;
  from: number;
  to: number;
  /** Float64, one per term: written. */
  out: Float64Array;
}

/** BALD of the rows [from, to) over their likeliest leaves (baldRows in laplace.ts). */
export interface BaldJob {
  type: 'laplace-bald';
  /** Float64, rows × classes: each row's log-probabilities of its likeliest leaves (−∞ past its last). */
  logp: Float64Array;
  /** Float64, rows × classes: the variances of those leaves' logits. */
  variance: Float64Array;
  classes: number;
  /** Float64, samples × classes: the standard normal draws. */
  draws: Float64Array;
  samples: number;
  from: number;
  to: number;
  /** Float64, one per row: written. */
  out: Float64Array;
}

/** A Laplace job as the helper receives it, with its control array. */
export type LaplaceJob = (FactorsJob | TermsJob | BaldJob) & { control: SharedArrayBuffer };

export interface SplitTerm {
  /** The fitting thread's rows are [0, mid); the helper's [mid, rows). */
  mid: number;
  /** Publishes the weights and wakes the helper. */
  start(w: Float64Array): void;
  /** Waits for the helper; adds its gradient into `grad` and returns its loss. */
  finish(grad: Float64Array): number;
  /** Releases the helper (it goes back to waiting for the next fit). */
  close(): void;
}

let helper: Worker | undefined;
let unusable = false;
/**
 * Shared copies of feature matrices that are not in shared memory already (one per matrix, made at
 * its first parallel fit): a matrix must not change once it has been fitted on (none does: features
 * are prepared once and then only read).
 */
const sharedCopies = new WeakMap<Float32Array, Float32Array>();

/** Threads a fit may use: TAXON_THREADS if set, else 2 where the machine has two or more cores. */
export function fitThreads(): number {
  const env = Number(process.env.TAXON_THREADS);
  return Math.min(2, Number.isInteger(env) && env >= 1 ? env : defaultThreads());
}

/** The helper's script: dist/objectiveWorker.js beside the bundle, or the .ts under tsx. */
function workerFile(): string | undefined {
  for (const f of [path.join(__dirname, 'objectiveWorker.js'), path.join(__dirname, 'objectiveWorker.ts')]) if (fs.existsSync(f)) return f;
  return undefined;
}

function getHelper(): Worker | undefined {
  if (helper || unusable) return helper;
  const file = workerFile();
  if (!file) {
    unusable = true;
    return undefined;
  }
  try {
    // Under tsx the helper is TypeScript too; tsx's CommonJS hook loads it (see embed.ts).
    helper = new Worker(file, { execArgv: file.endsWith('.ts') ? ['--require', 'tsx/cjs'] : [] });
    helper.unref();
    helper.on('error', () => {
      unusable = true;
      helper = undefined;
    });
    helper.on('exit', () => {
      helper = undefined;
    });
  } catch {
    unusable = true;
    helper = undefined;
  }
  return helper;
}

function shared<T extends Int32Array | Float64Array | Float32Array>(a: T): SharedArrayBuffer {
  const buf = new SharedArrayBuffer(a.byteLength);
  new Uint8Array(buf).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return buf;
}

function sharedData(X: Features): SharedArrayBuffer {
  return sharedFloat32(X.data).buffer as SharedArrayBuffer;
}

/** `a` itself when it is a whole SharedArrayBuffer, else its shared copy (made once per array). */
function sharedFloat32(a: Float32Array): Float32Array {
  if (a.buffer instanceof SharedArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) return a;
  let copy = sharedCopies.get(a);
  if (!copy) {
    copy = new Float32Array(new SharedArrayBuffer(a.byteLength));
    copy.set(a);
    sharedCopies.set(a, copy);
  }
  return copy;
}

/**
 * A split of the softmax data term over two threads, or undefined when this fit runs on one
 * (too small, one thread wanted or available, no helper).
 */
export function openSplit(X: Features, rows: Int32Array, targets: Int32Array, rowWeights: Float64Array, K: number, threads = fitThreads()): SplitTerm | undefined {
  if (threads < 2 || rows.length < 64 || rows.length * K * X.dim < PARALLEL_MIN_WORK) return undefined;
  const worker = getHelper();
  if (!worker) return undefined;
  const D = X.dim + 1;
  const control = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  const weights = new Float64Array(new SharedArrayBuffer(K * D * 8));
  const gradient = new Float64Array(new SharedArrayBuffer(K * D * 8));
  const loss = new Float64Array(new SharedArrayBuffer(8));
  // Blocks of four rows: the split falls on a block boundary.
  const mid = Math.floor(rows.length / 8) * 4;
  const job: SplitJob = {
    type: 'fit',
    data: sharedData(X),
    dim: X.dim,
    rows: shared(rows),
    targets: shared(targets),
    rowWeights: shared(rowWeights),
    K,
    start: mid,
    end: rows.length,
    control: control.buffer as SharedArrayBuffer,
    weights: weights.buffer as SharedArrayBuffer,
    gradient: gradient.buffer as SharedArrayBuffer,
    loss: loss.buffer as SharedArrayBuffer,
  };
  worker.postMessage(job);
  if (Atomics.wait(control, Slot.Ready, 0, START_TIMEOUT_MS) === 'timed-out' && Atomics.load(control, Slot.Ready) === 0) {
    // The helper did not start (or is stuck): this fit and the later ones run on one thread.
    unusable = true;
    void worker.terminate();
    helper = undefined;
    return undefined;
  }
  let generation = 0;
  return {
    mid,
    start(w) {
      weights.set(w);
      generation++;
      Atomics.store(control, Slot.Generation, generation);
      Atomics.notify(control, Slot.Generation);
    },
    finish(grad) {
      for (;;) {
        const done = Atomics.load(control, Slot.Done);
        if (done === generation) break;
        if (Atomics.wait(control, Slot.Done, done, HELPER_TIMEOUT_MS) === 'timed-out') {
          unusable = true;
          throw new Error('the training helper thread stopped responding');
        }
      }
      if (Atomics.load(control, Slot.Failed)) {
        unusable = true;
        throw new Error('the training helper thread failed; training again runs on one thread');
      }
      for (let i = 0; i < grad.length; i++) grad[i] += gradient[i];
      return loss[0];
    },
    close() {
      Atomics.store(control, Slot.Stop, 1);
      Atomics.store(control, Slot.Generation, ++generation);
      Atomics.notify(control, Slot.Generation);
    },
  };
}

/** Waits for a one-shot job's "done" (a helper silent for HELPER_TIMEOUT_MS is given up on, with an error). */
function awaitDone(control: Int32Array): void {
  while (Atomics.load(control, Slot.Done) === 0) {
    if (Atomics.wait(control, Slot.Done, 0, HELPER_TIMEOUT_MS) === 'timed-out') {
      unusable = true;
      throw new Error('the helper thread stopped responding');
    }
  }
}

/** Below this many rows a head's refresh stays on one thread. */
export const PARALLEL_MIN_ROWS = 256;

/**
 * Starts the softmax probabilities of one head (weights K × (dim + 1)) for `rows` on the helper
 * thread; `wait()` returns them (rows × K). Undefined when there is no helper (the caller computes
 * them itself).
 */
export function softmaxRowsOnHelper(X: Features, rows: Int32Array, weights: Float32Array, K: number, threads = fitThreads()): { wait(): Float64Array } | undefined {
  if (threads < 2 || rows.length < PARALLEL_MIN_ROWS) return undefined;
  const worker = getHelper();
  if (!worker) return undefined;
  const control = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  const out = new Float64Array(new SharedArrayBuffer(rows.length * K * 8));
  const w = new Float32Array(new SharedArrayBuffer(weights.byteLength));
  w.set(weights);
  const job: RowsJob = {
    type: 'softmax-rows',
    data: sharedData(X),
    dim: X.dim,
    rows: shared(rows),
    weights: w.buffer as SharedArrayBuffer,
    K,
    out: out.buffer as SharedArrayBuffer,
    control: control.buffer as SharedArrayBuffer,
  };
  worker.postMessage(job);
  return {
    wait() {
      awaitDone(control);
      if (Atomics.load(control, Slot.Failed)) throw new Error('the helper thread failed to compute the predictions');
      return out;
    },
  };
}

/**
 * Starts a Laplace job on the helper thread; `wait()` returns true once it is done, false when
 * the helper did not take it up in time or failed (the caller then does it itself, as it does when
 * this returns undefined: no helper, one thread wanted, or an array it writes not in shared memory).
 * `startTimeoutMs`: how long the helper has to take the job up.
 */
export function onHelper(job: FactorsJob | TermsJob | BaldJob, threads = fitThreads(), startTimeoutMs = START_TIMEOUT_MS): { wait(): boolean } | undefined {
  if (threads < 2) return undefined;
  const written = job.type === 'laplace-terms' ? [job.factors, job.out] : job.type === 'laplace-bald' ? [job.out] : [job.factors];
  if (!written.every((a) => a.buffer instanceof SharedArrayBuffer)) return undefined;
  const worker = getHelper();
  if (!worker) return undefined;
  const control = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  // the geometry goes once into shared memory (not copied per job); a BALD job's arrays are the caller's (shared when it splits rows)
  const message: LaplaceJob = job.type === 'laplace-bald' ? { ...job, control: control.buffer as SharedArrayBuffer } : { ...job, data: sharedFloat32(job.data), control: control.buffer as SharedArrayBuffer };
  worker.postMessage(message);
  return {
    wait() {
      // a helper that has not claimed the job in time (it failed to start, or is stuck) is given up
      // on: the job is withdrawn (Ready 0 → 2, so that the helper never starts it late, while the
      // caller is doing it or using its output) and the caller does it itself
      if (Atomics.wait(control, Slot.Ready, 0, startTimeoutMs) === 'timed-out' && Atomics.compareExchange(control, Slot.Ready, 0, 2) === 0) {
        unusable = true;
        void worker.terminate();
        helper = undefined;
        return false;
      }
      awaitDone(control);
      return Atomics.load(control, Slot.Failed) === 0;
    },
  };
}
