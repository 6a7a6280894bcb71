/**
 * Worker thread for training and evaluating a dataset's classifiers (src/core/learn/workflow.ts).
 * Images without a cached embedding are embedded first, so one command does the whole job.
 */
import { parentPort } from 'node:worker_threads';
import { loadDataset } from '../core/formats';
import { embedImages } from '../core/model/embed';
import { evaluateHoldout, predictItems, trainDataset } from '../core/learn/workflow';
import type { LearnJob, LearnWorkerReply } from './learnProtocol';

const post = (reply: LearnWorkerReply) => parentPort!.postMessage(reply);

parentPort?.on('message', (job: LearnJob) => {
  void (async () => {
    try {
      const ds = loadDataset(job.target);
      post({ type: 'stage', message: 'checking embeddings…' });
      const images = [...new Set(ds.items.map((i) => i.image))];
      let last = 0;
      await embedImages({
        root: ds.root,
        images,
        modelPath: job.modelPath,
        cacheDir: job.cacheDir,
        batchSize: job.batchSize,
        threads: job.threads,
        onProgress: (progress) => {
          const now = Date.now();
          if (now - last < 200) return;
          last = now;
          post({ type: 'embedding', progress });
        },
      });
      const paths = { modelPath: job.modelPath, cacheDir: job.cacheDir };
      const t = ds.taxonomy;
      if (job.kind === 'train') {
        post({ type: 'stage', message: 'training node classifiers…' });
        const trained = await trainDataset(job.target, paths, ds);
        post({ type: 'stage', message: 'predicting…' });
        const { predictedCounts } = predictItems(trained.model, trained.data, job.inference);
        post({
          type: 'trained',
          summary: {
            labelled: trained.report.labelled,
            classifiers: trained.classifiers,
            untrained: trained.untrained,
            seconds: trained.report.seconds,
            alpha: trained.report.alpha,
            saved: trained.saved,
            predicted: t.nodes.map((n) => [t.pathString(n.id), predictedCounts[n.id]] as [string, number]),
            missing: trained.data.missing,
          },
        });
      } else {
        post({ type: 'stage', message: `training on ${Math.round((1 - job.holdout) * 100)} % and evaluating on the ${Math.round(job.holdout * 100)} % hold-out…` });
        const evaluation = await evaluateHoldout(job.target, paths, { holdout: job.holdout, inference: job.inference }, ds);
        post({ type: 'evaluated', evaluation, paths: t.nodes.map((n) => t.pathString(n.id)), datasetName: job.target });
      }
    } catch (err) {
      post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
