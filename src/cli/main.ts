/** The `taxon` command: argument parsing and output formatting over src/core. */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FORMATS, type FormatName } from '../core/dataset';
import { countBySeverity, DatasetError, type Diagnostic } from '../core/diagnostics';
import { loadDataset, writeDataset } from '../core/formats';
import { embedImages, imagesIn, noImagesMessage, type EmbedProgress } from '../core/model/embed';
import { datasetStats } from '../core/stats';
import { validateDataset } from '../core/validate';

const USAGE = `Usage: taxon <command> [options]

Commands:
  validate <dataset-or-file> [--json] [--no-files]   all consistency checks; exit 1 on errors
  stats <dataset> [--json]                           counts per level, labelled / unlabelled
  convert <in> --to <datumaro|csv|jsonl> <out>       convert between annotation formats
  embed <dataset-or-folder> [--model F] [--batch N] [--threads N] [--cache DIR] [--json]
                                                     fill the embedding cache; prints throughput

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
        throw new UsageError('embed runs asynchronously: call runAsync');
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
  if (err instanceof DatasetError) {
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

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

if (require.main === module) {
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
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
