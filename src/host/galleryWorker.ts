/**
 * Worker thread behind the node gallery: holds the dataset with its predictions and audit
 * findings, answers list and tile requests, makes missing thumbnails in the background (newest
 * request first, two at a time) and writes moves through the label writer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import type { Dataset } from '../core/dataset';
import { loadDataset, parseAnnotationText } from '../core/formats';
import { confirmPredictions, moveImages } from '../core/gallery/move';
import { AUDIT_MISSING, compactPredictions, Gallery, type GalleryFilter, type GalleryPredictions, type GallerySort } from '../core/gallery/selection';
import { ThumbnailCache, thumbnailDataUrl, type Thumbnail } from '../core/gallery/thumbnails';
import { labelEdits, labelFile, LabelWriter, type LabelChange } from '../core/labels';
import { auditFile, readAuditFindings } from '../core/learn/auditStore';
import { classifierDir } from '../core/learn/store';
import { labelledEmbeddings, predictItems, savedModel } from '../core/learn/workflow';
import { resolveCacheDir } from '../core/model/embed';
import { ROOT } from '../core/taxonomy';
import type { GalleryFilterName, GallerySortName, GalleryThumb, GalleryTile } from '../protocol';
import type { GalleryListReply, GalleryReply, GalleryRequest, GalleryThumbsEvent } from './galleryProtocol';

// The protocol's names and the core's are the same lists.
const filterNames: GalleryFilter = '' as GalleryFilterName;
const filterNamesBack: GalleryFilterName = '' as GalleryFilter;
const sortNames: GallerySort = '' as GallerySortName;
const sortNamesBack: GallerySortName = '' as GallerySort;
void [filterNames, filterNamesBack, sortNames, sortNamesBack];

type OpenRequest = Extract<GalleryRequest, { type: 'open' }>;

interface Loaded {
  request: OpenRequest;
  ds: Dataset;
  gallery: Gallery;
  predictions: GalleryPredictions;
  cache: ThumbnailCache;
  cacheDir: string;
  file: string;
  /** What the label file, the classifiers and the audit were when read. */
  stamps: { file: string; classifiers: string; audit: string };
}

let loaded: Loaded | undefined;
let list: { version: number; items: Int32Array; node: string[] | null; filter: GalleryFilter; sort: GallerySort } | undefined;
let nextVersion = 1;
/** Moves that can be undone, newest last. */
const undoStack: Array<{ changes: LabelChange[]; path: string[] }> = [];
/** The writer of a move waiting for the editor to save its edits. */
let editorWriter: LabelWriter | undefined;

const post = (reply: GalleryReply | GalleryThumbsEvent) => parentPort!.postMessage(reply);

function stampOf(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function stamps(file: string, cacheDir: string): Loaded['stamps'] {
  return { file: stampOf(file), classifiers: stampOf(path.join(classifierDir(cacheDir), 'lcpn.json')), audit: stampOf(auditFile(cacheDir)) };
}

async function predictionsFor(req: OpenRequest, ds: Dataset): Promise<GalleryPredictions> {
  const paths = { modelPath: req.modelPath, cacheDir: req.cacheDir };
  try {
    const { model } = savedModel(ds, req.target, paths);
    const data = await labelledEmbeddings(req.target, paths, ds);
    const { images, predictions } = predictItems(model, data, req.inference);
    return compactPredictions(images, predictions);
  } catch (err) {
    const message = (err as Error).message;
    if (/has no trained classifiers/.test(message)) return { unavailable: `No predictions: ${path.basename(req.target)} has no trained classifiers yet. Run Taxon: Train Classifiers first.` };
    return { unavailable: `No predictions: ${message}.` };
  }
}

async function open(req: OpenRequest): Promise<Loaded> {
  const ds = loadDataset(req.target);
  const { dir: cacheDir } = resolveCacheDir(ds.root, req.cacheDir);
  const file = labelFile(ds);
  const predictions = await predictionsFor(req, ds);
  const gallery = new Gallery(ds, predictions, readAuditFindings(cacheDir));
  const cache = new ThumbnailCache(ds.root, { cacheDir, pixelLimit: req.pixelLimit });
  return { request: req, ds, gallery, predictions, cache, cacheDir, file, stamps: stamps(file, cacheDir) };
}

/** Re-reads what changed on disk since it was read; true when anything did. */
async function refresh(): Promise<boolean> {
  const l = loaded!;
  const now = stamps(l.file, l.cacheDir);
  if (now.file === l.stamps.file && now.classifiers === l.stamps.classifiers && now.audit === l.stamps.audit) return false;
  const ds = now.file === l.stamps.file ? l.ds : loadDataset(l.request.target);
  const predictions = now.classifiers === l.stamps.classifiers && ds === l.ds ? l.predictions : await predictionsFor(l.request, ds);
  loaded = { ...l, ds, predictions, gallery: new Gallery(ds, predictions, readAuditFindings(l.cacheDir)), stamps: now };
  return true;
}

function select(node: string[] | null, filter: GalleryFilter, sort: GallerySort): GalleryListReply {
  const { gallery, ds } = loaded!;
  let id = ROOT;
  if (node) {
    const found = ds.taxonomy.find(node);
    if (found === undefined) {
      // a CSV or JSONL taxonomy is made of the paths in use: a node whose last image moved away is gone
      list = { version: nextVersion++, items: new Int32Array(0), node, filter, sort };
      const counts = { all: 0, labelled: 0, predicted: 0, disagreeing: 0, suspicious: 0, duplicates: 0 };
      return { version: list.version, total: 0, filter, sort, counts, unavailable: `No images at or under ${node.join(' > ')}: ${path.basename(loaded!.file)} no longer has that node.` };
    }
    id = found;
  }
  const s = gallery.select(id, filter, sort);
  list = { version: nextVersion++, items: s.items, node, filter, sort };
  jobs = [];
  const notAvailable: Partial<Record<GalleryFilter, string>> = {};
  if (gallery.predictionsUnavailable) notAvailable.predicted = notAvailable.disagreeing = gallery.predictionsUnavailable;
  if (!gallery.auditAvailable) notAvailable.suspicious = notAvailable.duplicates = AUDIT_MISSING;
  return { version: list.version, total: s.items.length, filter, sort, counts: s.counts, unavailable: s.unavailable, notAvailable };
}

function checkVersion(version: number): Int32Array {
  if (!list || list.version !== version) throw new Error('the gallery changed meanwhile; the action was not applied (try again)');
  return list.items;
}

function imagesAt(version: number, ranges: Array<[number, number]>): string[] {
  const items = checkVersion(version);
  const out: string[] = [];
  for (const [start, end] of ranges) {
    if (end > items.length) throw new Error(`the selection (${start}–${end}) is outside the gallery's ${items.length} images`);
    for (let i = start; i < end; i++) out.push(loaded!.ds.items[items[i]].image);
  }
  return out;
}

// ---------------------------------------------------------------- thumbnails in the background

const CONCURRENCY = 2;
const MAX_JOBS = 600;
let jobs: Array<{ version: number; index: number; image: string }> = [];
let running = 0;
const inFlight = new Set<string>();
let outbox: { version: number; thumbs: GalleryThumb[] } | undefined;
let outboxTimer: ReturnType<typeof setTimeout> | undefined;

function thumbView(t: Thumbnail): { thumb?: string; error?: string } {
  return 'data' in t ? { thumb: thumbnailDataUrl(t.data) } : { error: t.error };
}

function tiles(version: number, start: number, count: number): GalleryTile[] {
  // a page asked for just before the list changed: the webview has already moved on
  if (list?.version !== version) return [];
  const items = list.items;
  const { gallery, cache } = loaded!;
  const out: GalleryTile[] = [];
  const wanted: typeof jobs = [];
  for (let index = start; index < Math.min(items.length, start + count); index++) {
    const info = gallery.tile(items[index]);
    const cached = cache.cached(info.image);
    out.push({ index, ...info, ...(cached ? thumbView(cached) : {}) });
    if (!cached) wanted.push({ version, index, image: info.image });
  }
  // the newest request first: it is what is on screen now; far-away rows fall off the end
  const fresh = new Set(wanted.map((j) => j.index));
  jobs = [...wanted, ...jobs.filter((j) => j.version === version && !fresh.has(j.index))].slice(0, MAX_JOBS);
  pump();
  return out;
}

function pump(): void {
  while (running < CONCURRENCY && jobs.length > 0) {
    const job = jobs.shift()!;
    const key = `${job.version}:${job.index}`;
    if (inFlight.has(key)) continue;
    inFlight.add(key);
    running++;
    void loaded!.cache
      .get(job.image)
      .then((t) => deliver(job.version, { index: job.index, ...thumbView(t) }))
      .finally(() => {
        inFlight.delete(key);
        running--;
        pump();
      });
  }
}

function deliver(version: number, thumb: GalleryThumb): void {
  if (list?.version !== version) return;
  if (outbox && outbox.version !== version) outbox = undefined;
  outbox ??= { version, thumbs: [] };
  outbox.thumbs.push(thumb);
  if (outbox.thumbs.length >= 12) sendThumbs();
  else outboxTimer ??= setTimeout(sendThumbs, 40);
}

function sendThumbs(): void {
  clearTimeout(outboxTimer);
  outboxTimer = undefined;
  if (outbox && outbox.thumbs.length > 0 && outbox.version === list?.version) post({ id: 0, type: 'thumbs', version: outbox.version, thumbs: outbox.thumbs });
  outbox = undefined;
}

// ---------------------------------------------------------------- moves

function write(id: number, changes: LabelChange[], labelPath: string[] | null, unchanged: number, editorText: string | undefined): GalleryReply {
  const l = loaded!;
  // a fresh writer per move: it reads the journal as it is now (the labelling panel may have written to it)
  const writer = new LabelWriter(l.ds, { stateDir: l.cacheDir });
  if (editorText !== undefined) {
    writer.confirm(changes);
    editorWriter = writer;
    const edits = labelEdits(parseAnnotationText(l.file, editorText), editorText, changes);
    return { id, type: 'moved', file: writer.file, count: changes.length, unchanged, path: labelPath, edits, changedOnDisk: false };
  }
  try {
    const r = writer.apply(changes);
    return { id, type: 'moved', file: writer.file, count: changes.length, unchanged, path: labelPath, changedOnDisk: r.changedOnDisk };
  } catch (err) {
    if (writer.pending().length === 0) throw err;
    return { id, type: 'moved', file: writer.file, count: changes.length, unchanged, path: labelPath, changedOnDisk: false, error: (err as Error).message };
  }
}

async function handle(req: GalleryRequest): Promise<GalleryReply> {
  if (req.type === 'open') {
    const same = loaded && loaded.request.target === req.target && JSON.stringify(loaded.request) === JSON.stringify({ ...req, id: loaded.request.id });
    if (same) await refresh();
    else {
      loaded = await open(req);
      undoStack.length = 0;
    }
    const l = loaded!;
    const t = l.ds.taxonomy;
    return {
      id: req.id,
      type: 'opened',
      file: l.file,
      root: l.ds.root,
      paths: t.nodes.map((n) => t.path(n.id)),
      predictions: l.gallery.predictionsUnavailable,
      audit: l.gallery.auditAvailable,
    };
  }
  if (!loaded) return { id: req.id, type: 'error', message: 'no dataset is open in the gallery' };
  switch (req.type) {
    case 'select':
      await refresh();
      return { id: req.id, type: 'list', ...select(req.node, req.filter, req.sort) };
    case 'tiles':
      return { id: req.id, type: 'tiles', version: req.version, start: req.start, tiles: tiles(req.version, req.start, req.count) };
    case 'images':
      return { id: req.id, type: 'images', images: imagesAt(req.version, req.ranges) };
    case 'move': {
      const move = moveImages(loaded.ds, imagesAt(req.version, req.ranges), req.path);
      if (move.changes.length > 0) undoStack.push({ changes: move.undo, path: req.path });
      return write(req.id, move.changes, req.path, move.unchanged.length, req.editorText);
    }
    case 'confirm': {
      const items = checkVersion(req.version);
      const chosen: Array<{ image: string; predicted: number }> = [];
      for (const [start, end] of req.ranges) {
        if (end > items.length) throw new Error(`the selection (${start}–${end}) is outside the gallery's ${items.length} images`);
        for (let i = start; i < end; i++) chosen.push({ image: loaded.ds.items[items[i]].image, predicted: loaded.gallery.predictedOf(items[i]) });
      }
      const confirm = confirmPredictions(loaded.ds, chosen);
      if (confirm.changes.length > 0) undoStack.push({ changes: confirm.undo, path: [] });
      const reply = write(req.id, confirm.changes, null, confirm.unchanged.length, req.editorText);
      return reply.type === 'moved' ? { ...reply, unpredicted: confirm.unpredicted.length } : reply;
    }
    case 'undo': {
      const last = undoStack.pop();
      if (!last) return { id: req.id, type: 'error', message: 'Nothing to undo in the gallery.' };
      const at = Date.now();
      return write(req.id, last.changes.map((c) => ({ ...c, at })), null, 0, req.editorText);
    }
    case 'flush': {
      const writer = editorWriter ?? new LabelWriter(loaded.ds, { stateDir: loaded.cacheDir });
      editorWriter = undefined;
      try {
        writer.flush();
        return { id: req.id, type: 'written', file: writer.file, pending: writer.pending().length };
      } catch (err) {
        return { id: req.id, type: 'written', file: writer.file, pending: writer.pending().length, error: (err as Error).message };
      }
    }
    case 'reload': {
      const changed = await refresh();
      if (!changed || !list) return { id: req.id, type: 'reloaded', changed };
      return { id: req.id, type: 'reloaded', changed, list: select(list.node, list.filter, list.sort) };
    }
  }
}

parentPort?.on('message', (req: GalleryRequest) => {
  void handle(req).then(post, (err: unknown) => post({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) }));
});
