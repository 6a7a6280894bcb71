/**
 * The inference suite of `npm run bench`: the embedding pipeline on the dev dataset
 * (../shared/datasets/tinyimagenet-wordnet, 20,000 images) with the default model, against
 * onnxruntime alone, measured side by side in the same run. Each measurement is a fresh process.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultThreads } from '../../src/core/model/backbone';
import { DEFAULT_BATCH_SIZE } from '../../src/core/model/embed';

const ROOT = path.resolve(__dirname, '../..');
export const DEV_DATASET = path.resolve(ROOT, '../shared/datasets/tinyimagenet-wordnet');

interface Measurement {
  kind: string;
  ms: number;
  peakRssMB: number;
  imagesPerSecond: number;
  [key: string]: unknown;
}

function measure(kind: 'embed' | 'ort-alone', options: Record<string, unknown>): Measurement {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'measureInference.ts'), kind, JSON.stringify(options)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export function inferenceSuite(quick: boolean): Record<string, unknown> | undefined {
  if (!fs.existsSync(DEV_DATASET)) {
    console.log(`inference: skipped, ${DEV_DATASET} is absent`);
    return undefined;
  }
  const threads = defaultThreads();
  const batchSize = DEFAULT_BATCH_SIZE;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taxon-bench-inference-'));
  try {
    // (a) pipeline vs onnxruntime alone on the same images, interleaved, medians of 3.
    const sample = quick ? 256 : 1024;
    const pipeline: Measurement[] = [];
    const alone: Measurement[] = [];
    for (let i = 0; i < 3; i++) {
      pipeline.push(measure('embed', { root: DEV_DATASET, limit: sample, cacheDir: path.join(tmp, `sample-${i}`), threads, batchSize }));
      alone.push(measure('ort-alone', { root: DEV_DATASET, limit: sample, threads, batchSize }));
    }
    const pipelineRate = median(pipeline.map((m) => m.imagesPerSecond));
    const aloneRate = median(alone.map((m) => m.imagesPerSecond));
    console.log(
      `inference (a): pipeline ${pipelineRate.toFixed(1)} images/s vs onnxruntime alone on prepared tensors ${aloneRate.toFixed(1)} images/s ` +
        `(${sample} images, batch ${batchSize}, ${threads} threads); ratio ${(pipelineRate / aloneRate).toFixed(2)} (target ≥ 0.8)`,
    );

    // (b)–(e) the whole dataset: a cold run, then a cached run, into one cache folder.
    const limit = quick ? 2000 : undefined;
    const cacheDir = path.join(tmp, 'full');
    const cold = measure('embed', { root: DEV_DATASET, limit, cacheDir, threads, batchSize });
    const cached = measure('embed', { root: DEV_DATASET, limit, cacheDir, threads, batchSize });
    const images = cold.images as number;
    const bytesPerImage = (cold.segmentBytes as number) / images;
    const withFileList = ((cold.segmentBytes as number) + (cold.fileListBytes as number)) / images;
    const delay = cold.eventLoopDelayMs as { p50: number; p99: number; max: number };
    console.log(`inference (b): cold ${(cold.ms / 1000).toFixed(1)} s (${cold.embedded} embedded), cached ${(cached.ms / 1000).toFixed(2)} s (${cached.fromCache} from cache); ratio ${(cold.ms / cached.ms).toFixed(0)} (target ≥ 50)`);
    console.log(`inference (c): peak RSS ${cold.peakRssMB.toFixed(0)} MB for ${images} images (cached run ${cached.peakRssMB.toFixed(0)} MB; target < 1024)`);
    console.log(`inference (d): cache ${bytesPerImage.toFixed(0)} bytes/image of embeddings, ${withFileList.toFixed(0)} with the file index (target ≤ 2662)`);
    console.log(`inference (e): event-loop delay of the calling thread while embedding p50 ${delay.p50.toFixed(1)} ms, p99 ${delay.p99.toFixed(1)} ms, max ${delay.max.toFixed(1)} ms (target p99 < 50)`);
    return {
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: os.loadavg() },
      date: new Date().toISOString(),
      model: 'media/models/mobilenet_v2_1.0_224.onnx',
      settings: { threads, batchSize },
      throughput: {
        sample,
        pipelineImagesPerSecond: pipelineRate,
        onnxruntimeAloneImagesPerSecond: aloneRate,
        ratio: pipelineRate / aloneRate,
        runs: { pipeline: pipeline.map((m) => m.imagesPerSecond), onnxruntimeAlone: alone.map((m) => m.imagesPerSecond) },
        target: 0.8,
      },
      coldVsCached: { images, coldSeconds: cold.ms / 1000, cachedSeconds: cached.ms / 1000, ratio: cold.ms / cached.ms, cold, cached, target: 50 },
      peakMemory: { images, coldPeakRssMB: cold.peakRssMB, cachedPeakRssMB: cached.peakRssMB, targetMB: 1024 },
      cacheSize: { images, segmentBytes: cold.segmentBytes, fileListBytes: cold.fileListBytes, bytesPerImage, bytesPerImageWithFileList: withFileList, targetBytes: 2.6 * 1024 },
      eventLoopDelay: { ...delay, targetP99Ms: 50 },
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
