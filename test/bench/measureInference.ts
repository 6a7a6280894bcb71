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
 *   resize-agreement
 *              Taxon's decoding against sharp doing the whole resize (lanczos3): mean and least
 *              cosine similarity of the embeddings, mean and largest pixel difference
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
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
      const cpu0 = process.cpuUsage();
      const r = await embedImages({ root: options.root, images: list, cacheDir: options.cacheDir, threads: options.threads, batchSize: options.batchSize, modelPath: options.modelPath });
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      delay.disable();
      const segmentBytes = bytesUnder(path.join(options.cacheDir!, 'embeddings', r.model.sha256));
      const fileListBytes = bytesUnder(path.join(options.cacheDir!, 'files'));
      // Everything the cache stores: segments, file index, .gitignore, folders' contents of every kind.
      const cacheBytes = bytesUnder(options.cacheDir!);
      return {
        ms,
        images: r.images,
        embedded: r.embedded,
        fromCache: r.fromCache,
        skipped: r.skipped.length,
        modelMs: r.modelSeconds * 1000,
        // Throughput of the images themselves, model loading excluded (it is paid once per run).
        imagesPerSecond: (r.embedded + r.fromCache) / (r.seconds - r.modelSeconds),
        // CPU time of every thread of this process (model loading included), per image handled.
        cpuMsPerImage: (cpu.user + cpu.system) / 1000 / Math.max(1, r.embedded + r.fromCache),
        eventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
        segmentBytes,
        fileListBytes,
        cacheBytes,
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
      const cpu0 = process.cpuUsage();
      for (const t of tensors) await backbone.run(t, t.length / plane);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      await backbone.release();
      return { ms, images: list.length, imagesPerSecond: list.length / (ms / 1000), cpuMsPerImage: (cpu.user + cpu.system) / 1000 / list.length };
    }
    case 'resize-agreement': {
      // Taxon's decoding (sharp shrinks, Taxon's bicubic enlarges) against sharp doing the whole
      // resize (lanczos3 kernel, i.e. libvips' bicubic when enlarging): pixels and embeddings.
      const backbone = await openBackbone(options.modelPath ?? defaultModelPath(), { threads: options.threads });
      const { size, dim } = backbone.spec;
      const cosines: number[] = [];
      let pixelDiff = 0;
      let pixelMax = 0;
      let values = 0;
      for (const file of list) {
        const bytes = fs.readFileSync(path.join(options.root, file));
        const ours = await decodeImage(bytes, { size });
        if (!('pixels' in ours)) continue;
        const reference = await sharp(bytes, { pages: 1, page: 0, failOn: 'error' })
          .rotate()
          .flatten({ background: { r: 255, g: 255, b: 255 } })
          .toColourspace('srgb')
          .resize(size, size, { fit: 'cover', kernel: 'lanczos3' })
          .removeAlpha()
          .raw({ depth: 'uchar' })
          .toBuffer();
        for (let i = 0; i < reference.length; i++) {
          const d = Math.abs(reference[i] - ours.pixels[i]);
          pixelDiff += d;
          if (d > pixelMax) pixelMax = d;
        }
        values += reference.length;
        const pixels = new Uint8Array(2 * size * size * 3);
        pixels.set(ours.pixels, 0);
        pixels.set(reference, size * size * 3);
        const out = await backbone.embed(pixels, 2);
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let i = 0; i < dim; i++) {
          dot += out[i] * out[dim + i];
          na += out[i] * out[i];
          nb += out[dim + i] * out[dim + i];
        }
        cosines.push(dot / Math.sqrt(na * nb));
      }
      await backbone.release();
      return {
        images: cosines.length,
        meanCosine: cosines.reduce((a, b) => a + b, 0) / cosines.length,
        minCosine: Math.min(...cosines),
        meanAbsPixelDiff: pixelDiff / values,
        maxAbsPixelDiff: pixelMax,
      };
    }
    default:
      throw new Error(`unknown measurement ${kind}`);
  }
}

function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? bytesUnder(p) : fs.statSync(p).size;
  }
  return total;
}

void measure().then((result) => console.log(JSON.stringify({ kind, ...result, peakRssMB: peakRssMB() })));
