/**
 * Worker thread for training and evaluating a dataset's classifiers (src/core/learn/workflow.ts).
 * Images without a cached embedding are embedded first, so one command does the whole job.
 */
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { loadDataset } from '../core/formats';
import { embedImages } from '../core/model/embed';
import { evaluateHoldout, predictItems, trainDataset } from '../core/learn/workflow';
import { auditDataset } from '../core/learn/auditWorkflow';
import { auditDiagnostics } from '../core/learn/auditDiagnostics';
import { labelEdits, LabelWriter, labelFile } from '../core/labels';
import type { LearnJob, LearnWorkerReply, RelabelJob } from './learnProtocol';

const post = (reply: LearnWorkerReply) => parentPort!.postMessage(reply);

function relabel(job: RelabelJob): void {
  const ds = loadDataset(job.target);
  const change = { image: job.image, path: job.path, at: Date.now() };
  const file = labelFile(ds);
  if (job.editorText !== undefined) {
    post({ type: 'relabelled', file, edits: labelEdits(ds, job.editorText, [change]) });
    return;
  }
  const writer = new LabelWriter(ds, { stateDir: job.cacheDir });
  const r = writer.apply([change]);
  post({ type: 'relabelled', file, written: r.written > 0, changedOnDisk: r.changedOnDisk });
}

parentPort?.on('message', (job: LearnJob | RelabelJob) => {
  void (async () => {
    try {
      if (job.kind === 'relabel') return relabel(job);
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
      } else if (job.kind === 'audit') {
        const settings = job.audit ?? { similarity: 0.92, minScore: 0.95, maxDiagnostics: 200 };
        let lastStage = 0;
        const r = await auditDataset(job.target, paths, {
          similarity: settings.similarity,
          minScore: settings.minScore,
          progress: (message, fraction) => {
            const now = Date.now();
            if (now - lastStage < 200 && fraction < 1) return;
            lastStage = now;
            post({ type: 'stage', message: `auditing: ${message.toLowerCase()} (${Math.round(fraction * 100)} %)` });
          },
        }, ds);
        const { diagnostics, omitted } = auditDiagnostics(ds, r, settings.maxDiagnostics);
        post({
          type: 'audited',
          summary: {
            labelled: r.labelled,
            judged: r.judged,
            unjudged: r.unjudged,
            suspects: r.suspects.length,
            duplicates: r.duplicates.length,
            differentLabelDuplicates: r.duplicates.filter((d) => !d.sameLabel).length,
            reviewedHidden: r.reviewedHidden,
            missingEmbeddings: r.missingEmbeddings,
            seconds: r.seconds.audit + r.seconds.duplicates,
            cacheDir: path.dirname(r.saved!),
            labelFile: labelFile(ds),
            diagnostics,
            omitted,
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
