/** Worker thread that holds a labelling session (src/core/learn/session.ts) for the panel and the queue view. */
import { parentPort } from 'node:worker_threads';
import { loadDataset, parseAnnotationText } from '../core/formats';
import { LabelingSession } from '../core/learn/session';
import { embedImages } from '../core/model/embed';
import { labelEdits, LabelWriter } from '../core/labels';
import { ROOT } from '../core/taxonomy';
import type { SessionItem, SessionReply, SessionRequest } from './sessionProtocol';

let session: LabelingSession | undefined;
let writer: LabelWriter | undefined;
const post = (reply: SessionReply) => parentPort!.postMessage(reply);

function handle(req: SessionRequest): SessionReply {
  if (req.type === 'open') throw new Error('open is asynchronous');
  if (!session) return { id: req.id, type: 'error', message: 'no session is open' };
  const t = session.taxonomy;
  const path = (node: number) => (node === ROOT ? [] : t.path(node));
  const nodeOf = (p: string[]) => {
    const node = t.find(p);
    if (node === undefined) throw new Error(`"${p.join(' > ')}" is not a node of this taxonomy`);
    return node;
  };
  switch (req.type) {
    case 'strategy':
      session.setStrategy(req.strategy, req.selection);
      return { id: req.id, type: 'ok' };
    case 'queue': {
      const all = session.queue(req.under ? nodeOf(req.under) : undefined);
      const entries = all.slice(0, req.limit).map((e) => ({ image: e.image, score: e.score, predicted: path(session!.details(e.image)!.predicted.at(-1)?.node ?? ROOT) }));
      return { id: req.id, type: 'queue', entries, total: all.length };
    }
    case 'details': {
      const items: SessionItem[] = [];
      for (const image of req.images) {
        const d = session.details(image);
        if (!d) continue;
        items.push({
          image,
          score: d.score,
          predicted: d.predicted.map((l) => ({ path: path(l.node), p: l.p })),
          confidentDepth: d.confidentDepth,
          alternatives: d.alternatives.filter((a) => a.node !== ROOT).map((a) => ({ path: path(a.node), p: a.p })),
          current: d.current === undefined ? undefined : path(d.current),
        });
      }
      return { id: req.id, type: 'details', items };
    }
    case 'label': {
      const touched = session.label(req.image, req.path === null ? null : nodeOf(req.path));
      return { id: req.id, type: 'labelled', touched: touched.length, pending: session.pendingParents.length };
    }
    case 'skip':
      session.skip(req.image);
      return { id: req.id, type: 'ok' };
    case 'write':
    case 'flush': {
      const w = writer!;
      if (req.type === 'write') w.confirm([{ image: req.image, path: req.path, at: Date.now() }]);
      if (req.type === 'write' && !req.flush) return { id: req.id, type: 'written', file: w.file, pending: w.pending().length, changedOnDisk: false };
      try {
        const r = w.flush();
        return { id: req.id, type: 'written', file: w.file, pending: w.pending().length, changedOnDisk: r.changedOnDisk };
      } catch (err) {
        // the change is confirmed in the journal; the file could not take it (read-only, unparseable, …)
        return { id: req.id, type: 'written', file: w.file, pending: w.pending().length, changedOnDisk: false, error: (err as Error).message };
      }
    }
    case 'edits':
      return { id: req.id, type: 'edits', edits: labelEdits(parseAnnotationText(req.file, req.text), req.text, [{ image: req.image, path: req.path, at: Date.now() }]) };
    case 'retrain': {
      const r = session.retrainAffected();
      return { id: req.id, type: 'retrained', nodes: r.retrained.map((p) => (p === ROOT ? '(root)' : t.pathString(p))), millis: r.millis };
    }
  }
}

parentPort?.on('message', (req: SessionRequest) => {
  void (async () => {
    try {
      if (req.type === 'open') {
        // images added since the last inference are embedded first (cached ones cost a hash lookup)
        const ds = loadDataset(req.target);
        await embedImages({ root: ds.root, images: [...new Set(ds.items.map((i) => i.image))], modelPath: req.modelPath, cacheDir: req.cacheDir });
        const { session: s, trained } = await LabelingSession.open(req.target, { modelPath: req.modelPath, cacheDir: req.cacheDir, inference: req.inference, strategy: req.strategy, selection: req.selection }, ds);
        session = s;
        writer = new LabelWriter(ds, { stateDir: req.cacheDir });
        writer.recover();
        post({ id: req.id, type: 'opened', trained, unlabelled: s.queue().length, strategy: s.strategy });
      } else post(handle(req));
    } catch (err) {
      post({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
