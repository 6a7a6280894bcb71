/** Reading annotation text safely: size limit, binary detection, JSON syntax errors with positions. */
import * as fs from 'node:fs';
import { printParseErrorCode, parse, type ParseError } from 'jsonc-parser';
import { DatasetError, type Diagnostic, LineIndex } from './diagnostics';

/** Default ceiling for one annotation file; large enough for 1,000,000 Datumaro items. */
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;

export function readTextFile(file: string, maxBytes = DEFAULT_MAX_BYTES): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new DatasetError(file, 'does not exist or cannot be read');
  }
  if (stat.isDirectory()) throw new DatasetError(file, 'is a folder, not a file');
  if (stat.size > maxBytes) {
    throw new DatasetError(
      file,
      `is ${formatBytes(stat.size)}, over the ${formatBytes(maxBytes)} limit for annotation files (setting taxon.maxAnnotationFileMB / --max-mb)`,
    );
  }
  return decodeText(file, fs.readFileSync(file));
}

const UTF8 = new TextDecoder('utf-8');

/** Decodes UTF-8 text, refusing binary content (NUL bytes, or mostly invalid UTF-8). */
export function decodeText(file: string, bytes: Uint8Array): string {
  const probe = bytes.subarray(0, Math.min(bytes.length, 64 * 1024));
  if (probe.includes(0)) throw new DatasetError(file, 'looks like a binary file (it contains NUL bytes), not a text annotation file');
  // TextDecoder: ~20 % faster than Buffer#toString on a 150 MB file; it drops a BOM itself.
  const text = UTF8.decode(bytes);
  const sample = text.slice(0, 64 * 1024);
  let replaced = 0;
  for (let i = 0; i < sample.length; i++) if (sample.charCodeAt(i) === 0xfffd) replaced++;
  if (sample.length > 0 && replaced / sample.length > 0.05) {
    throw new DatasetError(file, 'is not valid UTF-8 text (it looks binary)');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * JSON syntax errors as diagnostics (code `taxon.syntax-error`). `base` shifts offsets when
 * `text` is a slice of a larger document (one JSONL line).
 */
export function jsonSyntaxDiagnostics(text: string, file: string, index: LineIndex, base = 0): Diagnostic[] {
  const errors: ParseError[] = [];
  parse(text, errors, { allowTrailingComma: false, disallowComments: true });
  return errors.map((e) => ({
    file,
    range: index.range(base + e.offset, Math.max(1, e.length)),
    severity: 'error' as const,
    code: 'taxon.syntax-error',
    message: `JSON syntax error: ${describeParseError(printParseErrorCode(e.error))}`,
  }));
}

function describeParseError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(n >= 100 * 1024 * 1024 ? 0 : 1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} bytes`;
}
