/**
 * `taxon audit` and "Taxon: Audit Labels" on a dataset: the out-of-fold label audit (audit.ts),
 * byte-identical images, and near-duplicate embeddings (duplicates.ts), with what a curator
 * already marked as reviewed left out. Findings are saved to `.taxon/audit.json` only when the
 * whole audit completed: a cancelled audit writes nothing.
 */
import type { Dataset } from '../dataset';
import { loadDataset } from '../formats';
import { identicalFileGroups } from '../identical';
import { RootContainment } from '../paths';
import { resolveCacheDir } from '../model/embed';
import { auditError, auditLabels, DEFAULT_SUSPECT_SCORE, type AuditOptions } from './audit';
import { duplicateKey, readReviewed, saveAuditFindings, suspectKey, type AuditFindings, type DuplicatePair, type Suspect } from './auditStore';
import { DEFAULT_DUPLICATE_SIMILARITY, nearDuplicates } from './duplicates';
import { yieldToEventLoop } from './lda';
import { labelledEmbeddings, type LearningPaths } from './workflow';

export interface DatasetAuditOptions extends AuditOptions {
  /** Near-duplicate threshold (cosine of the centred embeddings). */
  similarity?: number;
  /** Every judged item as a suspect, with its score (to evaluate the ranking). */
  all?: boolean;
  /** Score from which an item is a suspect. */
  minScore?: number;
  /** Keep findings marked as reviewed. */
  includeReviewed?: boolean;
  /** Save the findings to `.taxon/audit.json` (default true). */
  save?: boolean;
}

export interface DatasetAudit extends AuditFindings {
  labelled: number;
  judged: number;
  /** Labelled items whose class has no other example outside their fold. */
  unjudged: number;
  /** Items left out for want of a cached embedding. */
  missingEmbeddings: number;
  /** Findings left out because a curator marked them as reviewed. */
  reviewedHidden: number;
  /** Where the findings were saved, when they were. */
  saved?: string;
  seconds: { audit: number; duplicates: number };
}

export async function auditDataset(target: string, paths: LearningPaths = {}, options: DatasetAuditOptions = {}, ds: Dataset = loadDataset(target)): Promise<DatasetAudit> {
  const data = await labelledEmbeddings(target, paths, ds);
  const t = ds.taxonomy;
  const t0 = performance.now();
  let report;
  try {
    report = await auditLabels(t, data.raw, data.labels, data.images, options);
  } catch (err) {
    throw auditError(target, err);
  }
  const t1 = performance.now();
  options.signal?.throwIfAborted();
  const { dir } = resolveCacheDir(ds.root, paths.cacheDir);
  const reviewed = options.includeReviewed ? new Set<string>() : readReviewed(dir);
  let reviewedHidden = 0;

  const minScore = options.minScore ?? DEFAULT_SUSPECT_SCORE;
  const toSuspect = (i: (typeof report.items)[number]): Suspect => ({
    image: data.images[i.row],
    given: t.pathString(i.given),
    suggested: t.pathString(i.suggested),
    level: i.level,
    score: i.score,
  });
  const flagged: Suspect[] = [];
  for (const item of report.items) {
    if (item.level === 0 || item.score < minScore) continue;
    const s = toSuspect(item);
    if (reviewed.has(suspectKey(s))) reviewedHidden++;
    else flagged.push(s);
  }

  options.progress?.('Looking for duplicates', 0.97);
  const labelText = (labels: readonly number[]) => labels.map((l) => t.pathString(l)).sort().join('\n');
  const duplicates: DuplicatePair[] = [];
  const seen = new Set<string>();
  const addPair = (a: string, b: string, aLabels: readonly number[], bLabels: readonly number[], similarity: number, identical: boolean) => {
    const pair: DuplicatePair = { a, b, similarity, sameLabel: labelText(aLabels) === labelText(bLabels), ...(identical ? { identical: true } : {}) };
    const key = duplicateKey(pair);
    if (seen.has(key)) return;
    seen.add(key);
    if (reviewed.has(key)) reviewedHidden++;
    else duplicates.push(pair);
  };
  // Only images that stay inside the dataset root are read (the workspace is untrusted input).
  const inside = new RootContainment(ds.root);
  const items = ds.items.flatMap((item) => {
    const absolute = inside.resolve(item.image).absolute;
    return absolute ? [{ item, absolute }] : [];
  });
  for (const group of identicalFileGroups(items.map((f) => f.absolute))) {
    for (let x = 0; x < group.length; x++) {
      for (let y = x + 1; y < group.length; y++) {
        const [a, b] = [items[group[x]].item, items[group[y]].item];
        addPair(a.image, b.image, a.labels, b.labels, 1, true);
      }
    }
  }
  await yieldToEventLoop(options.signal);
  const near = nearDuplicates(data.raw, { threshold: options.similarity ?? DEFAULT_DUPLICATE_SIMILARITY, signal: options.signal });
  for (const p of near.pairs) addPair(data.images[p.a], data.images[p.b], data.labels[p.a], data.labels[p.b], p.similarity, false);
  // Differently labelled pairs first (those are the ones to fix), then by similarity.
  duplicates.sort((p, q) => Number(p.sameLabel) - Number(q.sameLabel) || q.similarity - p.similarity || p.a.localeCompare(q.a));
  const t2 = performance.now();

  await yieldToEventLoop(options.signal);
  const suspects = options.all ? report.items.map(toSuspect) : flagged;
  const result: DatasetAudit = {
    suspects,
    duplicates,
    labelled: report.items.length + report.unjudged,
    judged: report.items.length,
    unjudged: report.unjudged,
    missingEmbeddings: data.missing,
    reviewedHidden,
    seconds: { audit: (t1 - t0) / 1000, duplicates: (t2 - t1) / 1000 },
  };
  if (options.save !== false) result.saved = saveAuditFindings(dir, { suspects: flagged, duplicates });
  return result;
}
