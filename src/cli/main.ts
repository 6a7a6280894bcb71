/** The `taxon` command: argument parsing and output formatting over src/core. */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FORMATS, type FormatName } from '../core/dataset';
import { countBySeverity, DatasetError, type Diagnostic } from '../core/diagnostics';
import { loadDataset, writeDataset } from '../core/formats';
import { writeFileAtomic } from '../core/atomicWrite';
import { NoLabelsError } from '../core/learn/hierarchy';
import { INFERENCE_MODES, multiLevelEntropy, type InferenceMode } from '../core/learn/inference';
import { evaluate } from '../core/learn/metrics';
import { CLASSIFIER_KINDS, deepest, TaxonModel, type ClassifierKind } from '../core/learn/model';
import { npyFloat32 } from '../core/learn/npy';
import { NonFiniteEmbeddingError } from '../core/learn/softmax';
import { isHeldOut } from '../core/learn/split';
import { rankDataset } from '../core/learn/queue';
import { DEFAULT_FOLDS, DEFAULT_SUSPECT_SCORE } from '../core/learn/audit';
import { auditDataset } from '../core/learn/auditWorkflow';
import { DEFAULT_DUPLICATE_SIMILARITY } from '../core/learn/duplicates';
import { DEFAULT_STRATEGY, isStrategy, STRATEGY_NAMES, type StrategyName } from '../core/learn/selection';
import { simulate, simulationData, SIMULATION_DEFAULTS, type L2Schedule } from '../core/learn/simulate';
import { fileSha256, loadClassifiers, saveClassifiers } from '../core/learn/store';
import { labelledEmbeddings as datasetEmbeddings } from '../core/learn/workflow';
import { defaultModelPath } from '../core/model/backbone';
import { embedImages, imagesIn, noImagesMessage, readEmbeddings, resolveCacheDir, type EmbedProgress } from '../core/model/embed';
import { datasetStats } from '../core/stats';
import { validateDataset } from '../core/validate';

const USAGE = `Usage: taxon <command> [options]

Commands:
  validate <dataset-or-file> [--json] [--no-files]   all consistency checks; exit 1 on errors
  stats <dataset> [--json]                           counts per level, labelled / unlabelled
  convert <in> --to <datumaro|csv|jsonl> <out>       convert between annotation formats
  embed <dataset-or-folder> [--model F] [--batch N] [--threads N] [--cache DIR] [--json]
                                                     fill the embedding cache; prints throughput
  train <dataset> [--model F] [--cache DIR] [--json] trains the node classifiers on the labelled items
  predict <dataset-or-folder> [--from <dataset>] [--inference topdown|bottomup|diffusion] [--out F.jsonl]
                                                     predictions with per-level confidence (JSON lines)
  eval --train <d> [--test <d> | --holdout 0.2] [--classifier lcpn|flat|knn] [--inference M[,M…]] [--json]
                                                     trains, predicts, prints the hierarchical metrics
  export <dataset> --embeddings out.npy --labels out.csv [--holdout 0.2]
                                                     cached embeddings as .npy, labels and split as CSV
  rank <dataset> [--strategy S] [--top N] [--model F] [--cache DIR] [--json]
                                                     the active-learning queue of unlabelled items
                                                     (S: ${STRATEGY_NAMES.join(', ')}; default ${DEFAULT_STRATEGY})
  al-sim --pool <d> [--test <d> | --holdout 0.2] [--strategy S[,S…]] [--seed-per-leaf 1] [--batch 200]
         [--budget 4000] [--repeats 3] [--cache DIR] [--json]
                                                     simulated labelling: accuracy curve per strategy
  audit <dataset> [--all] [--min-score ${DEFAULT_SUSPECT_SCORE}] [--similarity ${DEFAULT_DUPLICATE_SIMILARITY}] [--folds ${DEFAULT_FOLDS}] [--include-reviewed]
        [--model F] [--cache DIR] [--json]          suspicious labels (out-of-fold) and duplicate images

Common options:
  --max-mb <n>   largest annotation file to read (default 512)
  -h, --help     this help

Exit codes: 0 success, 1 the checked thing failed, 2 bad usage or unreadable input.`;

class UsageError extends Error {}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  cwd: string;
  /** Rewrites one status line in place (only given when stderr is a terminal). */
  progress?: (s: string) => void;
  /** Interrupts long commands (Ctrl-C); what they finished is kept. */
  signal?: AbortSignal;
}

/** Every command, the asynchronous ones (`embed`) included. */
export async function runAsync(argv: string[], io: Io): Promise<number> {
  if (argv[0] === 'embed') return embed(argv.slice(1), io).catch((err) => failure(err, io));
  const learning: Record<string, (args: string[], io: Io) => Promise<number>> = { train, predict, eval: evalCommand, export: exportCommand, rank, 'al-sim': alSim, audit };
  const command = learning[argv[0]];
  if (command && Object.hasOwn(learning, argv[0])) return command(argv.slice(1), io).catch((err) => failure(err, io));
  return run(argv, io);
}

/** The synchronous commands; `runAsync` runs them all. */
export function run(argv: string[], io: Io): number {
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    }
    switch (command) {
      case 'validate':
        return validate(rest, io);
      case 'stats':
        return stats(rest, io);
      case 'convert':
        return convert(rest, io);
      case 'embed':
      case 'train':
      case 'predict':
      case 'eval':
      case 'export':
      case 'rank':
      case 'al-sim':
      case 'audit':
        throw new UsageError(`${command} runs asynchronously: call runAsync`);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    return failure(err, io);
  }
}

function failure(err: unknown, io: Io): number {
  if (err instanceof UsageError) {
    io.err(`taxon: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (err instanceof DatasetError || err instanceof NoLabelsError || err instanceof NonFiniteEmbeddingError) {
    io.err(`taxon: ${err.message}`);
    return 2;
  }
  if (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    io.err(`taxon: ${err.message}\n${USAGE}`);
    return 2;
  }
  io.err(`taxon: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return 2;
}

function parse(args: string[], options: Record<string, { type: 'string' | 'boolean'; short?: string }>, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, 'max-mb': { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${parsed.positionals.length}`);
  }
  const maxMb = parsed.values['max-mb'];
  let maxBytes: number | undefined;
  if (maxMb !== undefined) {
    const n = Number(maxMb);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--max-mb must be a positive number, got ${JSON.stringify(maxMb)}`);
    maxBytes = Math.round(n * 1024 * 1024);
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals, maxBytes };
}

function validate(args: string[], io: Io): number {
  const { values, positionals, maxBytes } = parse(args, { json: { type: 'boolean' }, 'no-files': { type: 'boolean' } }, 1);
  const ds = loadDataset(path.resolve(io.cwd, positionals[0]), { maxBytes });
  const diagnostics = validateDataset(ds, { checkFiles: !values['no-files'] });
  const { errors, warnings } = countBySeverity(diagnostics);
  const rel = (file: string) => path.relative(io.cwd, file) || '.';
  if (values.json) {
    io.out(
      JSON.stringify({
        diagnostics: diagnostics.map((d) => ({
          file: rel(d.file),
          line: d.range.start.line + 1,
          column: d.range.start.character + 1,
          severity: d.severity,
          code: d.code,
          message: d.message,
        })),
        errors,
        warnings,
      }),
    );
  } else {
    for (const d of diagnostics) io.out(formatDiagnostic(d, rel(d.file)));
    io.out(`${ds.items.length} items checked (${ds.format}): ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  }
  return errors > 0 ? 1 : 0;
}

export function formatDiagnostic(d: Diagnostic, file: string): string {
  return `${file}:${d.range.start.line + 1}:${d.range.start.character + 1} ${d.severity} ${d.code} ${printable(d.message)}`;
}

/** Control characters from untrusted label names never reach the terminal raw. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function stats(args: string[], io: Io): number {
  const { values, positionals, maxBytes } = parse(args, { json: { type: 'boolean' } }, 1);
  const ds = loadDataset(path.resolve(io.cwd, positionals[0]), { maxBytes });
  const s = datasetStats(ds);
  if (values.json) {
    io.out(JSON.stringify(s));
    return 0;
  }
  io.out(`format      ${s.format}`);
  io.out(`images      ${s.images} (${s.labelled} labelled, ${s.unlabelled} unlabelled)`);
  io.out(`nodes       ${s.nodes} (${s.leaves} leaves), max depth ${s.maxDepth}`);
  io.out('level  nodes  images');
  for (const l of s.perLevel) io.out(`${String(l.level).padStart(5)}  ${String(l.nodes).padStart(5)}  ${String(l.images).padStart(6)}`);
  return 0;
}

function convert(args: string[], io: Io): number {
  const { values, positionals, maxBytes } = parse(args, { to: { type: 'string' } }, 2);
  const to = values.to;
  if (typeof to !== 'string' || !FORMATS.includes(to as FormatName) || to === 'folder') {
    throw new UsageError(`--to must be one of datumaro, csv, jsonl (got ${JSON.stringify(to ?? '')})`);
  }
  const ds = loadDataset(path.resolve(io.cwd, positionals[0]), { maxBytes });
  const { errors } = countBySeverity(ds.diagnostics);
  if (errors > 0) {
    io.err(`taxon: ${positionals[0]} has ${errors} reading error${errors === 1 ? '' : 's'}; run "taxon validate" and fix them first. Nothing was written.`);
    return 1;
  }
  const result = writeDataset(ds, to as FormatName, path.resolve(io.cwd, positionals[1]));
  for (const w of result.warnings) io.err(`taxon: warning: ${w}`);
  io.out(`wrote ${ds.items.length} items, ${ds.taxonomy.size} nodes as ${to}: ${result.files.map((f) => path.relative(io.cwd, f)).join(', ')}`);
  return 0;
}

async function embed(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    args,
    { model: { type: 'string' }, batch: { type: 'string' }, threads: { type: 'string' }, cache: { type: 'string' }, json: { type: 'boolean' } },
    1,
  );
  const positive = (name: string): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const batchSize = positive('batch');
  const threads = positive('threads');
  const target = path.resolve(io.cwd, positionals[0]);
  const source = await imagesIn(target);
  if (source.images.length === 0) throw new DatasetError(target, noImagesMessage());
  let lastDraw = 0;
  const onProgress = io.progress
    ? (p: EmbedProgress) => {
        const now = Date.now();
        if (now - lastDraw < 200 && p.done < p.total) return;
        lastDraw = now;
        const eta = p.etaSeconds === undefined ? '' : `, ${formatDuration(p.etaSeconds)} left`;
        io.progress!(`embedding ${p.done}/${p.total}: ${p.embedded} embedded, ${p.fromCache} from cache, ${p.skipped} skipped, ${p.imagesPerSecond.toFixed(0)} images/s${eta}`);
      }
    : undefined;
  const r = await embedImages({
    root: source.root,
    images: source.images,
    modelPath: typeof values.model === 'string' ? path.resolve(io.cwd, values.model) : undefined,
    batchSize,
    threads,
    cacheDir: typeof values.cache === 'string' ? path.resolve(io.cwd, values.cache) : undefined,
    signal: io.signal,
    onProgress,
  });
  if (io.progress) io.progress('');
  for (const note of r.notes) io.err(`taxon: note: ${note}`);
  if (values.json) {
    io.out(
      JSON.stringify({
        images: r.images,
        embedded: r.embedded,
        fromCache: r.fromCache,
        skipped: r.skipped.map((s) => ({ file: s.file, reason: s.reason })),
        seconds: r.seconds,
        imagesPerSecond: r.imagesPerSecond,
        model: { path: r.model.path, sha256: r.model.sha256, inputSize: r.model.inputSize, dim: r.model.dim },
      }),
    );
  } else {
    for (const s of r.skipped) io.out(`skipped ${printable(s.file)}: ${s.reason}`);
    io.out(
      `${r.images} images: ${r.embedded} embedded, ${r.fromCache} from cache, ${r.skipped.length} skipped in ${r.seconds.toFixed(1)} s (${r.imagesPerSecond.toFixed(0)} images/s)${r.cancelled ? '; cancelled, what was done is cached' : ''}`,
    );
    io.out(`model ${r.model.path} (${r.model.inputSize}×${r.model.inputSize}, ${r.model.dim}-d, sha256 ${r.model.sha256.slice(0, 12)}…); cache ${r.cacheDir}`);
  }
  return r.cancelled ? 130 : 0;
}

/** A dataset's items with their cached embeddings (src/core/learn/workflow.ts), with a note on what is left out. */
async function labelledEmbeddings(target: string, io: Io, modelPath: string | undefined, cacheDir: string | undefined) {
  const d = await datasetEmbeddings(target, { modelPath, cacheDir });
  if (d.missing > 0) io.err(`taxon: note: ${d.missing} of ${d.missing + d.images.length} images have no cached embedding and are left out (run "taxon embed" to add them)`);
  return d;
}

function learningOptions(values: Record<string, string | boolean | undefined>, io: Io) {
  const modelPath = typeof values.model === 'string' ? path.resolve(io.cwd, values.model) : undefined;
  const cacheDir = typeof values.cache === 'string' ? path.resolve(io.cwd, values.cache) : undefined;
  const inferences = String(values.inference ?? 'bottomup').split(',') as InferenceMode[];
  for (const m of inferences) if (!INFERENCE_MODES.includes(m)) throw new UsageError(`--inference must be one of ${INFERENCE_MODES.join(', ')} (got ${JSON.stringify(values.inference)})`);
  const inference = inferences[0];
  return { modelPath, cacheDir, inference, inferences, modelSha256: () => fileSha256(modelPath ?? defaultModelPath()) };
}

const LEARNING_OPTIONS = { model: { type: 'string' }, cache: { type: 'string' }, json: { type: 'boolean' } } as const;

async function train(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...LEARNING_OPTIONS }, 1);
  const o = learningOptions(values, io);
  const target = path.resolve(io.cwd, positionals[0]);
  const d = await labelledEmbeddings(target, io, o.modelPath, o.cacheDir);
  const { model, report } = TaxonModel.train(d.ds.taxonomy, d.raw, d.labels, d.images, { groups: d.ds.groups });
  const { dir: cacheDir } = resolveCacheDir(d.ds.root, o.cacheDir);
  const saved = saveClassifiers(cacheDir, model, o.modelSha256());
  const all = [...model.lcpn!.classifiers.values()];
  const untrained = all.filter((c) => !c.trained).map((c) => (c.parent === -1 ? '(root)' : d.ds.taxonomy.pathString(c.parent)));
  if (values.json) {
    io.out(JSON.stringify({ classifiers: all.length, untrained, labelled: report.labelled, alpha: report.alpha, alphaSource: report.alphaSource, seconds: report.seconds, saved }));
    return 0;
  }
  io.out(`trained ${all.length - untrained.length} of ${all.length} node classifiers on ${report.labelled} labelled images in ${report.seconds.toFixed(1)} s; diffusion α ${report.alpha} (${report.alphaSource})`);
  if (untrained.length) io.out(`untrained (fewer than two labelled examples or one child seen; predictions stop at them): ${untrained.map(printable).join(', ')}`);
  io.out(`saved to ${path.relative(io.cwd, saved) || '.'}`);
  return 0;
}

async function predict(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...LEARNING_OPTIONS, from: { type: 'string' }, inference: { type: 'string' }, out: { type: 'string' } }, 1);
  const o = learningOptions(values, io);
  if (o.inferences.length > 1) throw new UsageError('predict takes one --inference mode');
  const target = path.resolve(io.cwd, positionals[0]);
  const from = typeof values.from === 'string' ? path.resolve(io.cwd, values.from) : target;
  const trainedOn = loadDataset(from);
  const { dir: fromCache } = resolveCacheDir(trainedOn.root, typeof values.from === 'string' ? undefined : o.cacheDir);
  const loaded = loadClassifiers(fromCache, trainedOn.taxonomy, o.modelSha256());
  if (loaded.status === 'missing') throw new DatasetError(from, `has no trained classifiers: run "taxon train ${positionals[0]}" first`);
  if (loaded.status === 'rejected') throw new DatasetError(from, `${loaded.reason.replace(/; the classifiers will be retrained$/, '')}: run "taxon train" again`);
  if (loaded.stale.length) io.err(`taxon: note: the taxonomy changed since training: ${loaded.stale.length} classifier(s) are stale and predictions stop above them; run "taxon train" to update`);
  const source = await imagesIn(target);
  if (source.images.length === 0) throw new DatasetError(target, noImagesMessage());
  const e = await readEmbeddings({ root: source.root, images: source.images, modelPath: o.modelPath, cacheDir: o.cacheDir });
  const missing = new Set(e.missing);
  if (missing.size === source.images.length) throw new DatasetError(target, `has no cached embeddings: run "taxon embed ${positionals[0]}" first`);
  if (missing.size) io.err(`taxon: note: ${missing.size} of ${source.images.length} images have no cached embedding and are not predicted`);
  const { model } = loaded;
  const t = model.taxonomy;
  const rows = source.images.map((_, i) => i).filter((i) => !missing.has(i));
  const X = model.prepare({ data: e.matrix, n: source.images.length, dim: e.dim }, source.images);
  const depths = t.depths();
  const lines: string[] = [];
  const preds = model.predict(X, o.inference, rows);
  rows.forEach((row, i) => {
    const p = preds[i];
    lines.push(
      JSON.stringify({
        image: source.images[row],
        path: p.path.map((n) => t.nodes[n].name),
        confidentPath: p.confident === -1 ? [] : t.path(p.confident),
        levels: p.path.map((n) => ({ level: depths[n], node: t.nodes[n].name, p: round(p.marginals[n]) })),
        uncertainty: round(multiLevelEntropy(t, p.marginals, depths)),
      }),
    );
  });
  if (typeof values.out === 'string') {
    const out = path.resolve(io.cwd, values.out);
    writeFileAtomic(out, lines.length ? lines.join('\n') + '\n' : '');
    io.out(`${lines.length} predictions (${o.inference}) written to ${path.relative(io.cwd, out)}`);
  } else for (const line of lines) io.out(line);
  return 0;
}

async function evalCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse(
    args,
    { ...LEARNING_OPTIONS, train: { type: 'string' }, test: { type: 'string' }, holdout: { type: 'string' }, classifier: { type: 'string' }, inference: { type: 'string' }, alpha: { type: 'string' } },
    0,
  );
  const o = learningOptions(values, io);
  if (typeof values.train !== 'string') throw new UsageError('eval needs --train <dataset>');
  if (typeof values.test === 'string' && values.holdout !== undefined) throw new UsageError('give --test or --holdout, not both');
  const classifier = (values.classifier ?? 'lcpn') as ClassifierKind;
  if (!CLASSIFIER_KINDS.includes(classifier)) throw new UsageError(`--classifier must be one of ${CLASSIFIER_KINDS.join(', ')} (got ${JSON.stringify(values.classifier)})`);
  const holdout = values.holdout === undefined ? 0.2 : Number(values.holdout);
  if (!(holdout > 0 && holdout < 1)) throw new UsageError(`--holdout must be a fraction between 0 and 1, got ${JSON.stringify(values.holdout)}`);
  const alpha = values.alpha === undefined ? undefined : Number(values.alpha);
  if (alpha !== undefined && !(alpha >= 0 && alpha < 1)) throw new UsageError(`--alpha must be in [0, 1), got ${JSON.stringify(values.alpha)}`);
  const trainTarget = path.resolve(io.cwd, values.train);
  const tr = await labelledEmbeddings(trainTarget, io, o.modelPath, o.cacheDir);
  const t = tr.ds.taxonomy;
  let trainLabels = tr.labels;
  let testRaw = tr.raw;
  let testImages = tr.images;
  let testTruth: number[] = [];
  let testRows: number[];
  if (typeof values.test === 'string') {
    const te = await labelledEmbeddings(path.resolve(io.cwd, values.test), io, o.modelPath, o.cacheDir);
    if (te.raw.dim !== tr.raw.dim) throw new DatasetError(values.test, `embeddings have ${te.raw.dim} dimensions, the training set's ${tr.raw.dim}`);
    let unknown = 0;
    testTruth = te.labels.map((ls) => {
      if (ls.length === 0) return -1;
      const node = t.find(te.ds.taxonomy.path(deepest(te.ds.taxonomy, ls)));
      if (node === undefined) unknown++;
      return node ?? -1;
    });
    if (unknown) io.err(`taxon: note: ${unknown} test items have labels that are not in the training taxonomy and are left out`);
    testRaw = te.raw;
    testImages = te.images;
    testRows = testTruth.map((n, i) => (n === -1 ? -1 : i)).filter((i) => i >= 0);
  } else {
    testRows = tr.images.map((im, i) => (tr.labels[i].length > 0 && isHeldOut(im, holdout) ? i : -1)).filter((i) => i >= 0);
    testTruth = tr.labels.map((ls) => (ls.length ? deepest(t, ls) : -1));
    trainLabels = tr.labels.map((ls, i) => (isHeldOut(tr.images[i], holdout) ? [] : ls));
  }
  if (testRows.length === 0) throw new DatasetError(typeof values.test === 'string' ? values.test : trainTarget, 'has no labelled test items');
  const t0 = performance.now();
  const { model } = TaxonModel.train(t, tr.raw, trainLabels, tr.images, { classifier, groups: tr.ds.groups, alpha });
  const trainSeconds = (performance.now() - t0) / 1000;
  const X = testRaw === tr.raw ? model.prepare(tr.raw, tr.images) : model.prepare(testRaw, testImages);
  // One training, judged under each requested decoding rule (comma-separated --inference).
  for (const inference of o.inferences) {
    const t1 = performance.now();
    const preds = model.predict(X, inference, testRows);
    const predictSeconds = (performance.now() - t1) / 1000;
    const m = evaluate(t, testRows.map((r, i) => ({ truth: testTruth[r], predicted: preds[i].node, confident: preds[i].confident })));
    const result = {
      classifier,
      inference,
      train: trainLabels.filter((l) => l.length > 0).length,
      test: testRows.length,
      leafTop1: m.leafTop1,
      hP: m.hP,
      hR: m.hR,
      hF1: m.hF1,
      perLevel: m.perLevel,
      meanTreeDistance: m.meanTreeDistance,
      meanTreeDistanceOnMistakes: m.meanTreeDistanceOnMistakes,
      confident: { tau: model.decoder.tau, precision: m.confident?.precision ?? 0, meanDepth: m.confident?.meanDepth ?? 0 },
      trainSeconds,
      predictSeconds,
    };
    if (values.json) {
      io.out(JSON.stringify(result));
      continue;
    }
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    io.out(`${classifier} + ${inference} (α ${model.alpha}): ${result.train} train, ${result.test} test`);
    io.out(`leaf top-1 ${pct(m.leafTop1)} (${m.leafN} items with a leaf label)   hP ${pct(m.hP)}  hR ${pct(m.hR)}  hF1 ${pct(m.hF1)}`);
    io.out('level      n  accuracy');
    for (const l of m.perLevel) io.out(`${String(l.level).padStart(5)}  ${String(l.n).padStart(5)}  ${pct(l.accuracy).padStart(8)}`);
    io.out(`tree distance: ${m.meanTreeDistance.toFixed(3)} mean, ${m.meanTreeDistanceOnMistakes.toFixed(3)} on mistakes`);
    io.out(`confident depth (τ ${result.confident.tau}): precision ${pct(result.confident.precision)}, mean depth ${result.confident.meanDepth.toFixed(2)}`);
    io.out(`train ${trainSeconds.toFixed(2)} s, predict ${predictSeconds.toFixed(2)} s`);
  }
  return 0;
}

async function exportCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...LEARNING_OPTIONS, embeddings: { type: 'string' }, labels: { type: 'string' }, holdout: { type: 'string' } }, 1);
  const o = learningOptions(values, io);
  if (typeof values.embeddings !== 'string' || typeof values.labels !== 'string') throw new UsageError('export needs --embeddings <out.npy> and --labels <out.csv>');
  const holdout = values.holdout === undefined ? 0.2 : Number(values.holdout);
  if (!(holdout >= 0 && holdout < 1)) throw new UsageError(`--holdout must be a fraction in [0, 1), got ${JSON.stringify(values.holdout)}`);
  const d = await labelledEmbeddings(path.resolve(io.cwd, positionals[0]), io, o.modelPath, o.cacheDir);
  const t = d.ds.taxonomy;
  const npyFile = path.resolve(io.cwd, values.embeddings);
  const csvFile = path.resolve(io.cwd, values.labels);
  writeFileAtomic(npyFile, npyFloat32(d.raw.data, d.raw.n, d.raw.dim));
  const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['image,path,split'];
  d.images.forEach((image, i) => {
    const ls = d.labels[i];
    rows.push([image, ls.length ? t.pathString(deepest(t, ls)) : '', isHeldOut(image, holdout) ? 'test' : 'train'].map(csvField).join(','));
  });
  writeFileAtomic(csvFile, rows.join('\n') + '\n');
  io.out(`${d.raw.n} × ${d.raw.dim} embeddings written to ${path.relative(io.cwd, npyFile)}; labels and split (hold-out ${holdout}, by image path) to ${path.relative(io.cwd, csvFile)}`);
  return 0;
}

function strategyOption(value: string | boolean | undefined): StrategyName {
  const s = typeof value === 'string' ? value : DEFAULT_STRATEGY;
  if (!isStrategy(s)) throw new UsageError(`--strategy must be one of ${STRATEGY_NAMES.join(', ')} (got ${JSON.stringify(s)})`);
  return s;
}

function positiveInteger(values: Record<string, string | boolean | undefined>, name: string, fallback: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function rank(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...LEARNING_OPTIONS, strategy: { type: 'string' }, top: { type: 'string' }, inference: { type: 'string' } }, 1);
  const o = learningOptions(values, io);
  const strategy = strategyOption(values.strategy);
  const top = values.top === undefined ? undefined : positiveInteger(values, 'top', 0);
  const target = path.resolve(io.cwd, positionals[0]);
  const q = await rankDataset(target, { modelPath: o.modelPath, cacheDir: o.cacheDir }, { strategy, top, inference: o.inference });
  if (q.classifiers === 'trained') io.err('taxon: note: the dataset had no saved classifiers: trained and saved them first');
  if (values.json) {
    io.out(JSON.stringify({ strategy: q.strategy, classifiers: q.classifiers, items: q.items.map((it) => ({ ...it, score: round(it.score) })) }));
    return 0;
  }
  io.out(`${q.items.length} of ${q.unlabelled} unlabelled items by ${q.strategy} (${q.labelled} labelled; classifiers ${q.classifiers})`);
  for (const it of q.items) io.out(`${it.score.toFixed(4)}  ${printable(it.image)}  ${printable(it.path.join(' > '))}  (confident: ${printable(it.confidentPath.join(' > ') || '-')})`);
  return 0;
}

async function audit(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...LEARNING_OPTIONS, all: { type: 'boolean' }, 'min-score': { type: 'string' }, similarity: { type: 'string' }, folds: { type: 'string' }, 'include-reviewed': { type: 'boolean' } },
    1,
  );
  const o = learningOptions(values, io);
  const fraction = (name: string, fallback: number) => {
    const v = values[name];
    if (v === undefined) return fallback;
    const x = Number(v);
    if (!(x >= 0 && x <= 1)) throw new UsageError(`--${name} must be a number between 0 and 1, got ${JSON.stringify(v)}`);
    return x;
  };
  const folds = positiveInteger(values, 'folds', DEFAULT_FOLDS);
  if (folds < 2) throw new UsageError('--folds must be at least 2');
  const target = path.resolve(io.cwd, positionals[0]);
  const r = await auditDataset(
    target,
    { modelPath: o.modelPath, cacheDir: o.cacheDir },
    {
      all: values.all === true,
      minScore: fraction('min-score', DEFAULT_SUSPECT_SCORE),
      similarity: fraction('similarity', DEFAULT_DUPLICATE_SIMILARITY),
      folds,
      includeReviewed: values['include-reviewed'] === true,
      signal: io.signal,
      progress: io.progress ? (message, f) => io.progress!(`audit: ${message} (${Math.round(f * 100)} %)`) : undefined,
    },
  ).catch((err: unknown) => {
    if (err instanceof Error && err.name === 'AbortError') return undefined;
    throw err;
  });
  if (!r) {
    io.err('taxon: audit interrupted: nothing was written');
    return 130;
  }
  if (r.missingEmbeddings > 0) io.err(`taxon: note: ${r.missingEmbeddings} item${r.missingEmbeddings === 1 ? ' has' : 's have'} no cached embedding and ${r.missingEmbeddings === 1 ? 'was' : 'were'} not audited (run "taxon embed" first)`);
  if (r.unjudged > 0) io.err(`taxon: note: ${r.unjudged} labelled item${r.unjudged === 1 ? '' : 's'} not judged: no other example of ${r.unjudged === 1 ? 'its' : 'their'} label outside ${r.unjudged === 1 ? 'its' : 'their'} fold`);
  if (values.json) {
    io.out(
      JSON.stringify({
        suspects: r.suspects.map((s) => ({ image: s.image, given: s.given, suggested: s.suggested, level: s.level, score: round(s.score) })),
        duplicates: r.duplicates.map((d) => ({ a: d.a, b: d.b, similarity: round(d.similarity), sameLabel: d.sameLabel })),
      }),
    );
    return 0;
  }
  io.out(`${r.judged} labelled items judged out of fold; ${r.suspects.length} ${values.all ? 'listed' : 'suspicious'}, ${r.duplicates.length} duplicate pair${r.duplicates.length === 1 ? '' : 's'}${r.reviewedHidden ? ` (${r.reviewedHidden} reviewed finding${r.reviewedHidden === 1 ? '' : 's'} hidden)` : ''}`);
  for (const s of r.suspects) io.out(`${s.score.toFixed(4)}  ${printable(s.image)}  given ${printable(s.given)}  suggested ${printable(s.suggested)}${s.level ? ` (from level ${s.level})` : ''}`);
  for (const d of r.duplicates) io.out(`${d.similarity.toFixed(4)}  ${printable(d.a)}  ${printable(d.b)}  ${d.sameLabel ? 'same label' : 'DIFFERENT labels'}`);
  return 0;
}

async function alSim(args: string[], io: Io): Promise<number> {
  const { values } = parse(
    args,
    {
      ...LEARNING_OPTIONS,
      pool: { type: 'string' },
      test: { type: 'string' },
      holdout: { type: 'string' },
      strategy: { type: 'string' },
      'seed-per-leaf': { type: 'string' },
      batch: { type: 'string' },
      budget: { type: 'string' },
      repeats: { type: 'string' },
      seed: { type: 'string' },
    },
    0,
  );
  const o = learningOptions(values, io);
  if (typeof values.pool !== 'string') throw new UsageError('al-sim needs --pool <dataset>');
  if (typeof values.test === 'string' && values.holdout !== undefined) throw new UsageError('give --test or --holdout, not both');
  const holdout = values.holdout === undefined ? 0.2 : Number(values.holdout);
  if (!(holdout > 0 && holdout < 1)) throw new UsageError(`--holdout must be a fraction between 0 and 1, got ${JSON.stringify(values.holdout)}`);
  const strategies = (typeof values.strategy === 'string' ? values.strategy : STRATEGY_NAMES.join(',')).split(',').map((s) => strategyOption(s.trim()));
  const d = SIMULATION_DEFAULTS;
  const seedPerLeaf = positiveInteger(values, 'seed-per-leaf', d.seedPerLeaf);
  const batch = positiveInteger(values, 'batch', d.batch);
  const budget = positiveInteger(values, 'budget', d.budget);
  const repeats = positiveInteger(values, 'repeats', d.repeats);
  const seed = positiveInteger(values, 'seed', d.seed);
  const data = await simulationData(path.resolve(io.cwd, values.pool), { modelPath: o.modelPath, cacheDir: o.cacheDir }, typeof values.test === 'string' ? { target: path.resolve(io.cwd, values.test) } : { holdout });
  for (const note of data.notes) io.err(`taxon: note: ${note}`);
  const r = simulate(data, { strategies, seedPerLeaf, batch, budget, repeats, seed, onProgress: (m) => io.err(`taxon: ${m}`) });
  if (values.json) {
    io.out(
      JSON.stringify({
        strategies: r.strategies.map((s) => ({ strategy: s.strategy, repeats: s.repeats, curve: s.curve, labelsToMatchRandom: s.labelsToMatchRandom, runs: s.runs, seconds: s.seconds })),
        setup: r.setup,
        seconds: r.seconds,
      }),
    );
    return 0;
  }
  const keys = Object.keys(r.setup.randomAt);
  io.out(`${r.setup.pool} pool items, ${r.setup.test} test items, ${r.setup.leaves} leaves; ${r.setup.classifier} ${r.setup.dims}-d, L2 ${describeL2(r.setup.l2)}; ${repeats} repeat(s), ${seedPerLeaf} seed label(s) per leaf, batches of ${batch}`);
  io.out(`random's leaf top-1: ${keys.map((k) => `${(r.setup.randomAt[k] * 100).toFixed(2)} % at ${k}`).join(', ')}`);
  io.out(`${'strategy'.padEnd(20)}${keys.map((k) => `to match ${k}`.padStart(16)).join('')}   leaf top-1 / hF1 at ${budget}`);
  for (const s of r.strategies) {
    const last = s.curve[s.curve.length - 1];
    io.out(`${s.strategy.padEnd(20)}${keys.map((k) => String(s.labelsToMatchRandom[k] ?? 'never').padStart(16)).join('')}   ${(last.leafTop1 * 100).toFixed(2)} % / ${(last.hF1 * 100).toFixed(2)} %`);
  }
  return 0;
}

function describeL2(l2: L2Schedule): string {
  return typeof l2 === 'number' ? String(l2) : `${l2.perLabel} / labels`;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

if (require.main === module) {
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  // `taxon … | head`: the reader went away; stop quietly instead of crashing on EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  void runAsync(process.argv.slice(2), {
    out: (s) => process.stdout.write(s + '\n'),
    err: (s) => process.stderr.write(s + '\n'),
    cwd: process.cwd(),
    progress: process.stderr.isTTY ? (s) => process.stderr.write(`\r\x1b[K${s}`) : undefined,
    signal: interrupt.signal,
  }).then((code) => {
    process.exitCode = code;
  });
}
