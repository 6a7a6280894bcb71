/**
 * The helper thread of a two-thread softmax fit (parallel.ts): for each fit it is sent, it waits
 * on the generation counter, evaluates the data term on its rows with the published weights and
 * signals "done", until told to stop; then it returns to its message loop for the next fit. It
 * also takes one-shot jobs: one head's probabilities for a set of rows (the session's refresh) and
 * the Laplace posterior's factors or quadratic forms for some leaves, or BALD over several leaves
 * for some rows (the hybrid's BALD, laplace.ts).
 */
import { parentPort } from 'node:worker_threads';
import { baldRows, leafFactors, quadraticTerms } from './laplace';
import { Slot, type LaplaceJob, type RowsJob, type SplitJob } from './parallel';
import { softmaxRows, softmaxDataTerm } from './softmax';

parentPort?.on('message', (job: SplitJob | RowsJob | LaplaceJob) => {
  if (job.type !== 'fit') {
    const control = new Int32Array(job.control);
    // claims the job, unless its sender has withdrawn it (it waited too long and does it itself)
    if (Atomics.compareExchange(control, Slot.Ready, 0, 1) !== 0) return;
    Atomics.notify(control, Slot.Ready);
    try {
      if (job.type === 'softmax-rows') softmaxRows(new Float32Array(job.data), job.dim, new Int32Array(job.rows), new Float32Array(job.weights), job.K, new Float64Array(job.out));
      else if (job.type === 'laplace-terms') quadraticTerms(job);
      else if (job.type === 'laplace-bald') baldRows(job);
      else if (job.type === 'laplace-factors') leafFactors(job);
      else throw new Error(`unknown job ${JSON.stringify((job as { type: unknown }).type)}`);
    } catch {
      Atomics.store(control, Slot.Failed, 1);
    }
    Atomics.store(control, Slot.Done, 1);
    Atomics.notify(control, Slot.Done);
    return;
  }
  const control = new Int32Array(job.control);
  const w = new Float64Array(job.weights);
  const grad = new Float64Array(job.gradient);
  const loss = new Float64Array(job.loss);
  const term = softmaxDataTerm(new Float32Array(job.data), job.dim, new Int32Array(job.rows), new Int32Array(job.targets), new Float64Array(job.rowWeights), job.K);
  Atomics.store(control, Slot.Ready, 1);
  Atomics.notify(control, Slot.Ready);
  let seen = 0;
  for (;;) {
    Atomics.wait(control, Slot.Generation, seen);
    const generation = Atomics.load(control, Slot.Generation);
    if (generation === seen) continue;
    seen = generation;
    if (Atomics.load(control, Slot.Stop)) break;
    try {
      grad.fill(0);
      loss[0] = term(w, grad, job.start, job.end);
    } catch {
      Atomics.store(control, Slot.Failed, 1);
    }
    Atomics.store(control, Slot.Done, generation);
    Atomics.notify(control, Slot.Done);
  }
});
