/**
 * The worker thread that owns the onnxruntime session, so inference never blocks the thread that
 * started it (the extension host's, or the CLI's). Bundled as dist/inferenceWorker.js.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openBackbone, type Backbone, type BackboneSpec } from './backbone';

export interface InferenceWorkerData {
  modelPath: string;
  threads?: number;
  /** Run one batch of this size before answering 'ready' (see below). */
  warmUpBatch?: number;
}

export type InferenceRequest = { type: 'embed'; id: number; pixels: Uint8Array; count: number };

export type InferenceReply =
  | { type: 'ready'; spec: BackboneSpec }
  | { type: 'unusable-model'; file: string; message: string }
  | { type: 'embedded'; id: number; embeddings: Float32Array; ms: number }
  | { type: 'failed'; id: number; message: string };

async function serve(): Promise<void> {
  const port = parentPort!;
  const { modelPath, threads, warmUpBatch } = workerData as InferenceWorkerData;
  let backbone: Backbone;
  try {
    backbone = await openBackbone(modelPath, { threads });
    // onnxruntime's first run at a new batch size sizes its buffers and is several times slower
    // than the next (~0.9–1.2 s against ~0.2 s for 32 images of MobileNetV2 on 2 cores): pay it
    // with the model's opening, not on the first images.
    if (warmUpBatch && warmUpBatch > 1) {
      const { size } = backbone.spec;
      await backbone.embed(new Uint8Array(warmUpBatch * size * size * 3), warmUpBatch);
    }
  } catch (err) {
    const file = (err as { file?: string }).file ?? modelPath;
    const message = err instanceof Error ? err.message : String(err);
    port.postMessage({ type: 'unusable-model', file, message } satisfies InferenceReply);
    return;
  }
  // Requests run one after another: the backbone reuses one input buffer.
  let queue = Promise.resolve();
  port.on('message', (request: InferenceRequest) => {
    queue = queue.then(() => answer(request));
  });
  const answer = async (request: InferenceRequest) => {
    const t0 = performance.now();
    try {
      const out = await backbone.embed(request.pixels, request.count);
      // Copy out of onnxruntime's buffer so the result can be transferred, not cloned.
      const embeddings = new Float32Array(out);
      port.postMessage({ type: 'embedded', id: request.id, embeddings, ms: performance.now() - t0 } satisfies InferenceReply, [embeddings.buffer]);
    } catch (err) {
      port.postMessage({ type: 'failed', id: request.id, message: err instanceof Error ? err.message.split('\n')[0] : String(err) } satisfies InferenceReply);
    }
  };
  port.postMessage({ type: 'ready', spec: backbone.spec } satisfies InferenceReply);
}

if (parentPort) void serve();
