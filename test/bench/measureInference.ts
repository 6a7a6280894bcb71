/**
 * One inference measurement in a fresh process (its peak memory is its own).
 *   node --import tsx test/bench/measureInference.ts <kind> <json options>
 * Prints one JSON line: { kind, ms, peakRssMB, ... }.
 *
 * kinds:
 *   embed      the real pipeline (worker thread, cache) on `images` of `root` into `cacheDir`;
 *              also samples this thread's event-loop delay, which stands for the extension host's
 *   ort-alone  the reference: onnxruntime alone on already-decoded, already-normalised tensors,
 *              same model, threads and batch size (decoding is done before the clock starts)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { defaultModelPath, openBackbone } from '../../src/core/model/backbone';
import { embedImages, imagesIn } from '../../src/core/model/embed';
import { decodeImage, toTensor } from '../../src/core/model/preprocess';

interface Options {
  root: string;
  limit?: number;
  cacheDir?: string;
  threads: number;
  batchSize: number;
  modelPath?: string;
}

const [kind, raw] = process.argv.slice(2);
const options = JSON.parse(raw) as Options;
const peakRssMB = () => process.resourceUsage().maxRSS / 1024;

async function images(): Promise<string[]> {
  const all = (await imagesIn(options.root)).images;
  if (!options.limit || options.limit >= all.length) return all;
  // An even spread over the classes, not the first folders only.
  const step = all.length / options.limit;
  return Array.from({ length: options.limit }, (_, i) => all[Math.floor(i * step)]);
}

async function measure(): Promise<Record<string, unknown>> {
  const list = await images();
  switch (kind) {
    case 'embed': {
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      const t0 = performance.now();
      const r = await embedImages({ root: options.root, images: list, cacheDir: options.cacheDir, threads: options.threads, batchSize: options.batchSize, modelPath: options.modelPath });
      const ms = performance.now() - t0;
      delay.disable();
      const segmentDir = path.join(options.cacheDir!, 'embeddings', r.model.sha256);
      const segmentBytes = fs.readdirSync(segmentDir).reduce((n, f) => n + fs.statSync(path.join(segmentDir, f)).size, 0);
      const filesDir = path.join(options.cacheDir!, 'files');
      const fileListBytes = fs.readdirSync(filesDir).reduce((n, f) => n + fs.statSync(path.join(filesDir, f)).size, 0);
      return {
        ms,
        images: r.images,
        embedded: r.embedded,
        fromCache: r.fromCache,
        skipped: r.skipped.length,
        modelMs: r.modelSeconds * 1000,
        // Throughput of the images themselves, model loading excluded (it is paid once per run).
        imagesPerSecond: (r.embedded + r.fromCache) / (r.seconds - r.modelSeconds),
        eventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
        segmentBytes,
        fileListBytes,
      };
    }
    case 'ort-alone': {
      const backbone = await openBackbone(options.modelPath ?? defaultModelPath(), { threads: options.threads });
      const { size } = backbone.spec;
      const plane = size * size * 3;
      const tensors: Float32Array[] = [];
      for (let i = 0; i < list.length; i += options.batchSize) {
        const chunk = list.slice(i, i + options.batchSize);
        const pixels = new Uint8Array(chunk.length * plane);
        for (let k = 0; k < chunk.length; k++) {
          const d = await decodeImage(fs.readFileSync(path.join(options.root, chunk[k])), { size });
          if ('pixels' in d) pixels.set(d.pixels, k * plane);
        }
        tensors.push(toTensor(pixels, chunk.length, backbone.spec));
      }
      await backbone.run(tensors[0], tensors[0].length / plane); // warm-up, as the pipeline's model check does
      const t0 = performance.now();
      for (const t of tensors) await backbone.run(t, t.length / plane);
      const ms = performance.now() - t0;
      await backbone.release();
      return { ms, images: list.length, imagesPerSecond: list.length / (ms / 1000) };
    }
    default:
      throw new Error(`unknown measurement ${kind}`);
  }
}

void measure().then((result) => console.log(JSON.stringify({ kind, ...result, peakRssMB: peakRssMB() })));
