/** Worker thread: loads and validates datasets off the extension host's main thread. */
import { parentPort } from 'node:worker_threads';
import { inspect, type InspectRequest, type InspectResponse, previewTaxonomy } from './inspection';

parentPort?.on('message', (req: InspectRequest) => {
  // a JSONL dataset's first level can show before its items are read
  const taxonomy = req.text ? undefined : previewTaxonomy(req);
  if (taxonomy) parentPort!.postMessage({ id: req.id, ok: true, preview: true, taxonomy } satisfies InspectResponse);
  parentPort!.postMessage(inspect(req));
});
