/**
 * What "Audit Labels" found, kept under the dataset's `.taxon/`: `audit.json` (the last audit's
 * suspects and duplicates, read by the gallery's filters and the diagnostics) and `reviewed.json`
 * (findings a curator marked as reviewed, so that they are not raised again). Both are caches in
 * the sense of the design: a missing, corrupt or foreign file reads as "nothing found yet".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicWrite';

export const AUDIT_FORMAT = 'taxon-audit';
export const AUDIT_VERSION = 1;

/** A labelled item the out-of-fold model contradicts. Paths are node names joined with ` > `. */
export interface Suspect {
  /** Image path relative to the dataset root. */
  image: string;
  given: string;
  suggested: string;
  /** The first level (1 = children of the root) where the given path and the suggestion part. */
  level: number;
  /** How strongly the model contradicts the given path, 0..1; higher is more suspicious. */
  score: number;
}

/** Two images that are byte-identical (similarity 1) or whose embeddings are near-identical. */
export interface DuplicatePair {
  a: string;
  b: string;
  similarity: number;
  /** Whether both carry the same label (unlabelled counts as a label of its own). */
  sameLabel: boolean;
  /** True when the files are byte-identical. */
  identical?: boolean;
}

export interface AuditFindings {
  suspects: Suspect[];
  duplicates: DuplicatePair[];
}

interface AuditFile extends AuditFindings {
  format: string;
  version: number;
  createdAt: string;
}

export function auditFile(cacheDir: string): string {
  return path.join(cacheDir, 'audit.json');
}

export function reviewedFile(cacheDir: string): string {
  return path.join(cacheDir, 'reviewed.json');
}

export function saveAuditFindings(cacheDir: string, findings: AuditFindings): string {
  const file = auditFile(cacheDir);
  const body: AuditFile = { format: AUDIT_FORMAT, version: AUDIT_VERSION, createdAt: new Date().toISOString(), ...findings };
  fs.mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(file, JSON.stringify(body));
  return file;
}

/** The last audit's findings, or undefined when there is none (or it cannot be trusted). */
export function readAuditFindings(cacheDir: string): AuditFindings | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(auditFile(cacheDir), 'utf8'));
  } catch {
    return undefined;
  }
  const f = parsed as Partial<AuditFile>;
  if (!f || f.format !== AUDIT_FORMAT || f.version !== AUDIT_VERSION || !Array.isArray(f.suspects) || !Array.isArray(f.duplicates)) return undefined;
  const suspects = f.suspects.filter((s): s is Suspect => !!s && typeof s.image === 'string' && typeof s.given === 'string' && typeof s.suggested === 'string' && Number.isFinite(s.level) && Number.isFinite(s.score));
  const duplicates = f.duplicates.filter((d): d is DuplicatePair => !!d && typeof d.a === 'string' && typeof d.b === 'string' && Number.isFinite(d.similarity) && typeof d.sameLabel === 'boolean');
  return { suspects, duplicates };
}

/** The key under which a finding is remembered as reviewed: a new label on the image raises it again. */
export function suspectKey(s: Pick<Suspect, 'image' | 'given'>): string {
  return `suspect\u0000${s.image}\u0000${s.given}`;
}

export function duplicateKey(d: Pick<DuplicatePair, 'a' | 'b'>): string {
  const [x, y] = d.a < d.b ? [d.a, d.b] : [d.b, d.a];
  return `duplicate\u0000${x}\u0000${y}`;
}

/** The reviewed keys (see suspectKey / duplicateKey); an unreadable file reads as none. */
export function readReviewed(cacheDir: string): Set<string> {
  try {
    const parsed = JSON.parse(fs.readFileSync(reviewedFile(cacheDir), 'utf8')) as { reviewed?: unknown };
    return new Set(Array.isArray(parsed.reviewed) ? parsed.reviewed.filter((k): k is string => typeof k === 'string') : []);
  } catch {
    return new Set();
  }
}

export function markReviewed(cacheDir: string, keys: readonly string[]): void {
  const all = readReviewed(cacheDir);
  for (const k of keys) all.add(k);
  fs.mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(reviewedFile(cacheDir), JSON.stringify({ reviewed: [...all].sort() }, null, 1));
}
