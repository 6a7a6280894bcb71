/**
 * Audit findings as diagnostics on the annotation lines (the image file itself for a folder tree):
 * `taxon.suspicious-label` for a label the out-of-fold model contradicts, `taxon.near-duplicate`
 * for a duplicate pair with different labels. Each carries what its actions need: the image, the
 * path to relabel it with, and the key under which "Mark as reviewed" remembers it.
 */
import * as path from 'node:path';
import type { Dataset, Item } from '../dataset';
import { START_OF_FILE, type Diagnostic, type Range } from '../diagnostics';
import { duplicateKey, suspectKey, type AuditFindings } from './auditStore';

export interface AuditDiagnostic extends Diagnostic {
  image: string;
  /** Relabel the image with this path (node names, top level first). */
  relabel: string[];
  /** "Mark as reviewed" key (auditStore). */
  reviewKey: string;
}

export const DEFAULT_MAX_AUDIT_DIAGNOSTICS = 200;

export function auditDiagnostics(ds: Dataset, findings: AuditFindings, max = DEFAULT_MAX_AUDIT_DIAGNOSTICS): { diagnostics: AuditDiagnostic[]; omitted: number } {
  const byImage = new Map<string, Item>();
  for (const item of ds.items) if (!byImage.has(item.image)) byImage.set(item.image, item);
  const where = (image: string): { file: string; range: Range } => {
    const item = byImage.get(image);
    const range = item?.source?.imageRange ?? item?.source?.range;
    if (item?.source && range) return { file: item.source.file, range };
    return { file: path.join(ds.root, ...image.split('/')), range: START_OF_FILE };
  };
  const out: AuditDiagnostic[] = [];
  let omitted = 0;
  for (const s of findings.suspects) {
    if (out.length >= max) {
      omitted++;
      continue;
    }
    out.push({
      ...where(s.image),
      severity: 'warning',
      code: 'taxon.suspicious-label',
      message: `Label "${s.given}" of ${JSON.stringify(s.image)} looks wrong: the model, trained without it, suggests "${s.suggested}" (the paths part at level ${s.level}; suspicion ${s.score.toFixed(3)}).`,
      image: s.image,
      relabel: s.suggested.split(' > '),
      reviewKey: suspectKey(s),
    });
  }
  const pairs = findings.duplicates.filter((d) => !d.sameLabel);
  for (const d of pairs) {
    if (out.length >= max) {
      omitted++;
      continue;
    }
    const a = byImage.get(d.a);
    const b = byImage.get(d.b);
    if (!a || !b) continue;
    const label = (item: Item) => (item.labels.length ? item.labels.map((l) => ds.taxonomy.pathString(l)).join(', ') : '(unlabelled)');
    const how = d.similarity >= 1 && d.identical ? 'byte-identical to' : `a near-duplicate (similarity ${d.similarity.toFixed(3)}) of`;
    out.push({
      ...where(d.b),
      severity: 'warning',
      code: 'taxon.near-duplicate',
      message: `Image ${JSON.stringify(d.b)} labelled "${label(b)}" is ${how} ${JSON.stringify(d.a)} labelled "${label(a)}".`,
      image: d.b,
      relabel: a.labels.length ? ds.taxonomy.path(a.labels[0]) : [],
      reviewKey: duplicateKey(d),
    });
  }
  return { diagnostics: out, omitted };
}
