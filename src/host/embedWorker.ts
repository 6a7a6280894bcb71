/**
 * Worker thread that lists and embeds a folder's images (src/core/model/embed.ts), so that
 * hashing, decoding and inference never run on the extension host's main thread.
 */
import { parentPort } from 'node:worker_threads';
import { embedImages, imagesIn, noImagesMessage } from '../core/model/embed';
import type { EmbedWorkerReply, EmbedWorkerRequest } from './embedProtocol';

const abort = new AbortController();
const post = (reply: EmbedWorkerReply) => parentPort!.postMessage(reply);

parentPort?.on('message', (req: EmbedWorkerRequest) => {
  if (req.type === 'cancel') {
    abort.abort();
    return;
  }
  void (async () => {
    try {
      const source = await imagesIn(req.job.target);
      if (source.images.length === 0) throw new Error(`${source.root} ${noImagesMessage()}`);
      post({ type: 'listed', root: source.root, total: source.images.length });
      let last = 0;
      const result = await embedImages({
        root: source.root,
        images: source.images,
        modelPath: req.job.modelPath,
        batchSize: req.job.batchSize,
        threads: req.job.threads,
        cacheDir: req.job.cacheDir,
        pixelLimit: req.job.pixelLimit,
        signal: abort.signal,
        onProgress: (progress) => {
          const now = Date.now();
          if (now - last < 100 && progress.done < progress.total) return; // the UI needs no more
          last = now;
          post({ type: 'progress', progress });
        },
      });
      post({ type: 'done', result });
    } catch (err) {
      post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
