/**
 * The inference suite of `npm run bench`: the embedding pipeline on the dev dataset
 * (../shared/datasets/tinyimagenet-wordnet, 20,000 images) with the default model, against
 * onnxruntime alone, measured side by side in the same run. Each measurement is a fresh process.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultInferenceThreads, defaultThreads } from '../../src/core/model/backbone';
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

function measure(kind: 'embed' | 'ort-alone' | 'resize-agreement', options: Record<string, unknown>): Measurement {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'measureInference.ts'), kind, JSON.stringify(options)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * The pipeline against onnxruntime alone with the same threads. On a shared machine the load of
 * other processes changes from minute to minute, so the two are measured in adjacent pairs (the
 * order alternating), and the result is the median of the pairs' ratios: noise that lasts longer
 * than a pair hits both sides alike.
 */
function pipelineVsAlone(tmp: string, sample: number, pairs: number, threads: number, batchSize: number) {
  const pipeline: Measurement[] = [];
  const alone: Measurement[] = [];
  for (let i = 0; i < pairs; i++) {
    const runPipeline = () => pipeline.push(measure('embed', { root: DEV_DATASET, limit: sample, cacheDir: path.join(tmp, `sample-${threads}-${i}`), threads, batchSize }));
    const runAlone = () => alone.push(measure('ort-alone', { root: DEV_DATASET, limit: sample, threads, batchSize }));
    if (i % 2 === 0) {
      runPipeline();
      runAlone();
    } else {
      runAlone();
      runPipeline();
    }
  }
  const pairRatios = pipeline.map((m, i) => m.imagesPerSecond / alone[i].imagesPerSecond);
  const ratio = median(pairRatios);
  const pipelineRate = median(pipeline.map((m) => m.imagesPerSecond));
  const aloneRate = median(alone.map((m) => m.imagesPerSecond));
  console.log(
    `inference (a): pipeline ${pipelineRate.toFixed(1)} images/s vs onnxruntime alone on prepared tensors ${aloneRate.toFixed(1)} images/s (medians; ` +
      `${sample} images, batch ${batchSize}, ${threads} thread${threads === 1 ? '' : 's'} of ${defaultThreads()} cores); ratio ${ratio.toFixed(2)}, the median of ${pairs} adjacent pairs ` +
      `[${pairRatios.map((r) => r.toFixed(2)).join(', ')}] (target ≥ 0.8)`,
  );
  return {
    threads,
    sample,
    pipelineImagesPerSecond: pipelineRate,
    onnxruntimeAloneImagesPerSecond: aloneRate,
    ratio,
    ratioOfMedians: pipelineRate / aloneRate,
    pairRatios,
    runs: { pipeline: pipeline.map((m) => m.imagesPerSecond), onnxruntimeAlone: alone.map((m) => m.imagesPerSecond) },
  };
}

export function inferenceSuite(quick: boolean): Record<string, unknown> | undefined {
  if (!fs.existsSync(DEV_DATASET)) {
    console.log(`inference: skipped, ${DEV_DATASET} is absent`);
    return undefined;
  }
  const threads = defaultInferenceThreads();
  const batchSize = DEFAULT_BATCH_SIZE;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taxon-bench-inference-'));
  try {
    // (a) pipeline vs onnxruntime alone on the same images, at the default threads (the cores
    // minus a quarter kept for decoding) and, for comparison, with every core given to the model.
    const sample = quick ? 256 : 1024;
    const pairs = quick ? 3 : 5;
    const throughput = pipelineVsAlone(tmp, sample, pairs, threads, batchSize);
    const allCores = defaultThreads() !== threads ? pipelineVsAlone(tmp, sample, pairs, defaultThreads(), batchSize) : undefined;

    // (b)–(e) the whole dataset: a cold run, then a cached run, into one cache folder.
    const limit = quick ? 2000 : undefined;
    const cacheDir = path.join(tmp, 'full');
    const cold = measure('embed', { root: DEV_DATASET, limit, cacheDir, threads, batchSize });
    const cached = measure('embed', { root: DEV_DATASET, limit, cacheDir, threads, batchSize });
    const images = cold.images as number;
    const embeddingBytesPerImage = (cold.segmentBytes as number) / images;
    const fileIndexBytesPerImage = (cold.fileListBytes as number) / images;
    // The target counts everything the cache stores: all bytes under the cache folder.
    const bytesPerImage = (cold.cacheBytes as number) / images;
    const delay = cold.eventLoopDelayMs as { p50: number; p99: number; max: number };
    console.log(`inference (b): cold ${(cold.ms / 1000).toFixed(1)} s (${cold.embedded} embedded), cached ${(cached.ms / 1000).toFixed(2)} s (${cached.fromCache} from cache); ratio ${(cold.ms / cached.ms).toFixed(0)} (target ≥ 50)`);
    console.log(`inference (c): peak RSS ${cold.peakRssMB.toFixed(0)} MB for ${images} images (cached run ${cached.peakRssMB.toFixed(0)} MB; target < 1024)`);
    console.log(
      `inference (d): cache ${bytesPerImage.toFixed(1)} bytes/image, all files under the cache folder ` +
        `(${embeddingBytesPerImage.toFixed(1)} of embeddings, ${fileIndexBytesPerImage.toFixed(1)} of file index; target ≤ 2600)`,
    );
    console.log(`inference (e): event-loop delay of the calling thread while embedding p50 ${delay.p50.toFixed(1)} ms, p99 ${delay.p99.toFixed(1)} ms, max ${delay.max.toFixed(1)} ms (target p99 < 50)`);
    // (f) the decoding's enlargement against sharp's own (lanczos3) on 200 dev images.
    const agreement = measure('resize-agreement', { root: DEV_DATASET, limit: 200, threads, batchSize });
    console.log(
      `inference (f): Taxon's enlargement vs sharp's lanczos3 on ${agreement.images} dev images: embeddings' cosine mean ${(agreement.meanCosine as number).toFixed(5)}, ` +
        `least ${(agreement.minCosine as number).toFixed(5)}; pixels differ by ${(agreement.meanAbsPixelDiff as number).toFixed(3)} on average, ${agreement.maxAbsPixelDiff} at most (of 255)`,
    );
    return {
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: os.loadavg() },
      date: new Date().toISOString(),
      model: 'media/models/mobilenet_v2_1.0_224.onnx',
      settings: { threads, batchSize },
      throughput: { ...throughput, target: 0.8 },
      throughputAllCores: allCores,
      coldVsCached: { images, coldSeconds: cold.ms / 1000, cachedSeconds: cached.ms / 1000, ratio: cold.ms / cached.ms, cold, cached, target: 50 },
      peakMemory: { images, coldPeakRssMB: cold.peakRssMB, cachedPeakRssMB: cached.peakRssMB, targetMB: 1024 },
      cacheSize: {
        images,
        cacheBytes: cold.cacheBytes,
        segmentBytes: cold.segmentBytes,
        fileIndexBytes: cold.fileListBytes,
        bytesPerImage,
        embeddingBytesPerImage,
        fileIndexBytesPerImage,
        targetBytes: 2600,
      },
      eventLoopDelay: { ...delay, targetP99Ms: 50 },
      resizeAgreement: { images: agreement.images, meanCosine: agreement.meanCosine, minCosine: agreement.minCosine, meanAbsPixelDiff: agreement.meanAbsPixelDiff, maxAbsPixelDiff: agreement.maxAbsPixelDiff, target: 0.99 },
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
