/**
 * Datumaro / OpenVINO Training Extensions (OTX) hierarchical labels (H_LABEL_CLS):
 * `annotations/<subset>.json` with `categories.label.labels[{name, parent}]`,
 * `categories.label.label_groups[{name, group_type, labels}]` and `items[]`; images under
 * `images/<subset>/`.
 *
 * Reading is a single hand-written pass over the text (no full syntax tree: files hold up to
 * 1,000,000 items). The scanner is strict JSON; on the first syntax error it gives up and the
 * file is re-read leniently (jsonc-parser) for what can be salvaged, without positions.
 *
 * Round trip: fields Taxon does not interpret are kept in `extra`:
 * - `Dataset.extra`: every top-level field except `items`; `categories` is kept there without
 *   `label.labels` / `label.label_groups` (so `info`, `mask`, `points`, label-category
 *   `attributes`, ... survive).
 * - `TaxonNode.extra`: every label field except `name`, `parent` and `taxon_name` (see below).
 * - `LabelGroup.extra`: every group field except `name`, `group_type`, `labels`; a group_type
 *   that is neither "exclusive" nor "inclusive" (e.g. "restricted" or a number) is kept under
 *   `extra[GROUP_TYPE_KEY]` and written back verbatim.
 * - `Item.extra`: every item field except `id`, `annotations` and `image`/`media`, under its own
 *   name, plus these Taxon keys (all start with `$`, which Datumaro never uses):
 *   - `$media` (ITEM_MEDIA_KEY): `'media'` when the path came from `media` instead of `image`;
 *   - `$image` (ITEM_IMAGE_KEY): the other fields of the image object (e.g. `size`);
 *   - `$annotations` (ITEM_LABEL_ANNOTATIONS_KEY): one entry per `Item.labels` entry (same
 *     order): the fields of that label annotation other than `label_id`, or `null` when they are
 *     the default `{"id": 0, "type": "label", "attributes": {}, "group": 0}`. Absent when all
 *     are default (the common case: saves memory on large files);
 *   - `$otherAnnotations` (ITEM_OTHER_ANNOTATIONS_KEY): annotations that are not labels of this
 *     taxonomy (other types such as bbox, or a label annotation whose label_id is invalid),
 *     verbatim; written after the label annotations;
 *   - `$numericId` (ITEM_NUMERIC_ID_KEY): true when the id was a JSON number.
 */
import * as path from 'node:path';
import { parse as parseLenient } from 'jsonc-parser';
import { type Dataset, type Item, type ItemSource, type LabelGroup, emptyDataset } from '../dataset';
import { type Diagnostic, LineIndex, type Position, type Range, START_OF_FILE, type QuickFix } from '../diagnostics';
import { closestNode } from '../fuzzy';
import { jsonSyntaxDiagnostics } from '../textInput';
import { ROOT, Taxonomy } from '../taxonomy';

export const ITEM_MEDIA_KEY = '$media';
export const ITEM_IMAGE_KEY = '$image';
export const ITEM_LABEL_ANNOTATIONS_KEY = '$annotations';
export const ITEM_OTHER_ANNOTATIONS_KEY = '$otherAnnotations';
export const ITEM_NUMERIC_ID_KEY = '$numericId';
export const GROUP_TYPE_KEY = '$groupType';
/**
 * Label field holding the Taxon node name when the written `name` had to be made unique
 * (Datumaro needs globally unique label names; Taxon only needs them unique among siblings).
 * Datumaro and OTX ignore unknown label fields; Taxon reads it back as the node's name.
 */
export const TAXON_NAME_FIELD = 'taxon_name';

// ---------------------------------------------------------------------------------------------
// Reading

interface LabelRecord {
  /** `name` as written (identity for parent / group references). */
  key: string;
  /** Display name (`taxon_name` when present, else `name`). */
  name: string;
  parent: string;
  extra?: Record<string, unknown>;
  start: number;
  end: number;
  /** Offset of the `parent` value (for the missing-parent diagnostic), -1 when absent. */
  parentStart: number;
  parentEnd: number;
  nameStart: number;
  nameEnd: number;
}

interface GroupRecord {
  name: string;
  groupType: unknown;
  labels: Array<{ name: string; start: number; end: number }>;
  extra?: Record<string, unknown>;
  start: number;
  end: number;
}

/** Label annotation whose label_id is not a valid index, found before the labels were known. */
interface PendingLabel {
  item: Item;
  /** Index in item.labels (the entry holds NaN until resolved). */
  index: number;
  raw: unknown;
  /** Offsets of the label_id value (or of the annotation when there is none). */
  start: number;
  end: number;
  /** The `"label": "x"` member when the annotation names its label instead (for a fix). */
  labelName?: string;
  memberStart?: number;
  memberEnd?: number;
}

/** The file's line index, built on first use: a clean file never needs one while it is read. */
type LineStarts = () => LineIndex;

/**
 * Item positions as offsets in one shared Int32Array; Range objects are built only when read.
 * A million items would otherwise cost ~20 position objects each (seconds and ~1 GB on a
 * 2-core laptop), while diagnostics need the ranges of a handful of them.
 * Record at `at`: start, end, deleteStart, deleteEnd, idStart, idEnd, imageStart, imageEnd, n,
 * then per label: valueStart, valueEnd, deleteStart, deleteEnd. -1 = absent.
 */
class OffsetStore {
  data: Int32Array;
  length = 0;

  constructor(
    readonly file: string,
    private readonly lines: LineStarts,
    textLength: number,
  ) {
    // About 13 offsets per ~150-byte item: size it once instead of doubling (and copying) it.
    this.data = new Int32Array(Math.max(1 << 12, Math.ceil(textLength / 10)));
  }

  alloc(n: number): number {
    const need = this.length + n;
    if (need > this.data.length) {
      const bigger = new Int32Array(Math.max(need, this.data.length * 2));
      bigger.set(this.data.subarray(0, this.length));
      this.data = bigger;
    }
    const at = this.length;
    this.length = need;
    return at;
  }

  position(offset: number): Position {
    const s = this.lines().starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: offset - s[lo] };
  }

  range(start: number, end: number): Range | undefined {
    return start < 0 ? undefined : { start: this.position(start), end: this.position(end) };
  }
}

const RECORD = 9;
const PER_LABEL = 4;

class LazyItemSource implements ItemSource {
  constructor(
    private readonly store: OffsetStore,
    private readonly at: number,
  ) {}

  private field(i: number): number {
    return this.store.data[this.at + i];
  }

  private shadow<K extends keyof ItemSource>(key: K, value: ItemSource[K]): void {
    Object.defineProperty(this, key, { value, writable: true, enumerable: true, configurable: true });
  }

  get file(): string {
    return this.store.file;
  }
  get range(): Range {
    return this.store.range(this.field(0), this.field(1))!;
  }
  set range(v: Range) {
    this.shadow('range', v);
  }
  get deleteRange(): Range | undefined {
    return this.store.range(this.field(2), this.field(3));
  }
  set deleteRange(v: Range | undefined) {
    this.shadow('deleteRange', v);
  }
  get idRange(): Range | undefined {
    return this.store.range(this.field(4), this.field(5));
  }
  set idRange(v: Range | undefined) {
    this.shadow('idRange', v);
  }
  get imageRange(): Range | undefined {
    return this.store.range(this.field(6), this.field(7));
  }
  set imageRange(v: Range | undefined) {
    this.shadow('imageRange', v);
  }
  get labelRanges(): Range[] {
    const n = this.field(8);
    const out: Range[] = [];
    for (let k = 0; k < n; k++) out.push(this.store.range(this.field(RECORD + k * PER_LABEL), this.field(RECORD + k * PER_LABEL + 1))!);
    return out;
  }
  set labelRanges(v: Range[] | undefined) {
    this.shadow('labelRanges', v);
  }
  get labelDeleteRanges(): Range[] {
    const n = this.field(8);
    const out: Range[] = [];
    for (let k = 0; k < n; k++) out.push(this.store.range(this.field(RECORD + k * PER_LABEL + 2), this.field(RECORD + k * PER_LABEL + 3))!);
    return out;
  }
  set labelDeleteRanges(v: Range[] | undefined) {
    this.shadow('labelDeleteRanges', v);
  }
}

class SyntaxFail extends Error {
  constructor(readonly offset: number) {
    super('syntax');
  }
}

const DEFAULT_ANN = { id: 0, type: 'label', attributes: {}, group: 0 };

class Reader {
  private pos = 0;
  private readonly n: number;
  private lastOff = -1;
  private lastPos: Position = { line: 0, character: 0 };
  private cursor = 0;
  readonly labels: LabelRecord[] = [];
  readonly groups: GroupRecord[] = [];
  labelsSeen = false;
  groupsSeen = false;
  itemsSeen = false;
  categories: Record<string, unknown> | undefined;
  readonly items: Item[] = [];
  readonly pending: PendingLabel[] = [];
  readonly extra: Record<string, unknown> = {};
  topLevelObject = true;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly lines: LineStarts,
    private readonly imagePrefix: string,
  ) {
    this.n = text.length;
    this.sources = new OffsetStore(file, lines, text.length);
  }

  readonly sources: OffsetStore;
  private lastRecord = -1;

  /** Position of an offset: a forward cursor over the line starts (offsets mostly increase). */
  p(offset: number): Position {
    if (offset === this.lastOff) return this.lastPos;
    this.lastOff = offset;
    const s = this.lines().starts;
    const count = s.length;
    let c = this.cursor;
    if (offset >= s[c]) {
      while (c + 1 < count && s[c + 1] <= offset) c++;
    } else {
      let lo = 0;
      let hi = c;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (s[mid] <= offset) lo = mid;
        else hi = mid - 1;
      }
      c = lo;
    }
    this.cursor = c;
    return (this.lastPos = { line: c, character: offset - s[c] });
  }

  r(start: number, end: number): Range {
    return { start: this.p(start), end: this.p(end) };
  }

  /** Appends an item's offset record (label entries are filled by the caller). */
  private record(start: number, end: number, idS: number, idE: number, imS: number, imE: number, n: number): number {
    const at = this.sources.alloc(RECORD + n * PER_LABEL);
    const d = this.sources.data;
    d[at] = start;
    d[at + 1] = end;
    d[at + 2] = start;
    d[at + 3] = end;
    d[at + 4] = idS;
    d[at + 5] = idE;
    d[at + 6] = imS;
    d[at + 7] = imE;
    d[at + 8] = n;
    this.lastRecord = at;
    return at;
  }

  // --- lexical helpers -------------------------------------------------------------------

  private ws(): void {
    const t = this.text;
    let i = this.pos;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
    this.pos = i;
  }

  private expect(code: number): void {
    this.ws();
    if (this.text.charCodeAt(this.pos) !== code) throw new SyntaxFail(this.pos);
    this.pos++;
  }

  private peek(): number {
    this.ws();
    return this.text.charCodeAt(this.pos);
  }

  /** After a member/element: true when another follows (consumes the comma), false at `close`. */
  private more(close: number): boolean {
    const c = this.peek();
    if (c === 44) {
      this.pos++;
      return true;
    }
    if (c === close) {
      this.pos++;
      return false;
    }
    throw new SyntaxFail(this.pos);
  }

  /**
   * Reads an object key: the keys Datumaro files repeat a million times come back as constants,
   * without allocating a string each time; others as `str()` reads them.
   */
  private key(): string {
    this.ws();
    const t = this.text;
    const s = this.pos + 1;
    if (t.charCodeAt(s - 1) === 34) {
      const end = t.indexOf('"', s);
      const known = end < 0 ? undefined : KNOWN_KEYS[end - s];
      if (known) {
        for (const k of known) {
          if (t.startsWith(k, s)) {
            this.pos = end + 1;
            return k;
          }
        }
      }
    }
    return this.str();
  }

  /** Reads a string token at pos (after ws). */
  private str(): string {
    this.ws();
    const t = this.text;
    const start = this.pos;
    if (t.charCodeAt(start) !== 34) throw new SyntaxFail(start);
    let i = start + 1;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c < 32 || i >= this.n) throw new SyntaxFail(Math.min(i, this.n)); // NaN (end) also lands here
      i++;
    }
    this.pos = i + 1;
    if (!escaped) return t.slice(start + 1, i);
    try {
      return JSON.parse(t.slice(start, i + 1)) as string;
    } catch {
      throw new SyntaxFail(start);
    }
  }

  private num(): number {
    const t = this.text;
    const start = this.pos;
    // a small non-negative integer (ids, sizes, label ids) without slicing the text
    let v = 0;
    let j = start;
    for (let c = t.charCodeAt(j); c >= 48 && c <= 57 && j - start < 9; c = t.charCodeAt(++j)) v = v * 10 + (c - 48);
    const after = t.charCodeAt(j);
    if (j > start && !(after >= 48 && after <= 57) && after !== 46 && after !== 101 && after !== 69 && (t.charCodeAt(start) !== 48 || j === start + 1)) {
      this.pos = j;
      return v;
    }
    let i = start;
    if (t.charCodeAt(i) === 45) i++;
    const d0 = i;
    if (t.charCodeAt(i) === 48) i++;
    else {
      while (isDigit(t.charCodeAt(i))) i++;
    }
    if (i === d0) throw new SyntaxFail(start);
    if (t.charCodeAt(i) === 46) {
      i++;
      const f = i;
      while (isDigit(t.charCodeAt(i))) i++;
      if (i === f) throw new SyntaxFail(i);
    }
    const e = t.charCodeAt(i);
    if (e === 101 || e === 69) {
      i++;
      const s = t.charCodeAt(i);
      if (s === 43 || s === 45) i++;
      const f = i;
      while (isDigit(t.charCodeAt(i))) i++;
      if (i === f) throw new SyntaxFail(i);
    }
    this.pos = i;
    return Number(t.slice(start, i));
  }

  /** Any JSON value, parsed. Flat objects/arrays are read inline; nested ones go to JSON.parse. */
  value(): unknown {
    const c = this.peek();
    if (c === 34) return this.str();
    if (c === 45 || isDigit(c)) return this.num();
    if (c === 123 || c === 91) {
      const start = this.pos;
      const flat = c === 91 ? this.flatArray() : this.flatObject();
      if (flat !== undefined) return flat;
      this.pos = start;
      const end = this.skipComposite(start);
      try {
        const v = JSON.parse(this.text.slice(start, end)) as unknown;
        this.pos = end;
        return v;
      } catch {
        throw new SyntaxFail(start);
      }
    }
    const t = this.text;
    if (t.startsWith('true', this.pos)) return (this.pos += 4), true;
    if (t.startsWith('false', this.pos)) return (this.pos += 5), false;
    if (t.startsWith('null', this.pos)) return (this.pos += 4), null;
    throw new SyntaxFail(this.pos);
  }

  /** A value that is not an object or array; undefined (pos unchanged) for those. */
  private scalar(): unknown {
    const c = this.peek();
    if (c === 123 || c === 91) return undefined;
    return this.value();
  }

  /** An array of scalars at pos, or undefined when an element is an object/array. */
  private flatArray(): unknown[] | undefined {
    this.pos++;
    const out: unknown[] = [];
    if (this.peek() === 93) {
      this.pos++;
      return out;
    }
    do {
      const v = this.scalar();
      if (v === undefined) return undefined;
      out.push(v);
    } while (this.more(93));
    return out;
  }

  /** An object of scalar values at pos, or undefined when a value is an object/array. */
  private flatObject(): Record<string, unknown> | undefined {
    this.pos++;
    const out: Record<string, unknown> = {};
    if (this.peek() === 125) {
      this.pos++;
      return out;
    }
    do {
      const k = this.key();
      this.expect(58);
      const v = this.scalar();
      if (v === undefined) return undefined;
      out[k] = v;
    } while (this.more(125));
    return out;
  }

  /** End offset (exclusive) of the object/array at `start`, by bracket counting (iterative). */
  private skipComposite(start: number): number {
    const t = this.text;
    let depth = 0;
    let i = start;
    const n = this.n;
    while (i < n) {
      const c = t.charCodeAt(i);
      if (c === 34) {
        i++;
        for (;;) {
          const d = t.charCodeAt(i);
          if (d === 34) break;
          if (i >= n) throw new SyntaxFail(n);
          i += d === 92 ? 2 : 1;
        }
      } else if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new SyntaxFail(n);
  }

  /** Iterates the members of an object at pos; `fn` must consume the member's value. */
  private members(fn: (key: string, keyStart: number) => void): void {
    this.expect(123);
    if (this.peek() === 125) {
      this.pos++;
      return;
    }
    do {
      this.ws();
      const keyStart = this.pos;
      const key = this.key();
      this.expect(58);
      fn(key, keyStart);
    } while (this.more(125));
  }

  /** Iterates the elements of an array at pos; `fn(index, start)` must consume the element. */
  private elements(fn: (index: number, start: number) => void): void {
    this.expect(91);
    if (this.peek() === 93) {
      this.pos++;
      return;
    }
    let k = 0;
    do {
      this.ws();
      fn(k++, this.pos);
    } while (this.more(93));
  }

  // --- structure -------------------------------------------------------------------------

  document(): void {
    this.ws();
    if (this.text.charCodeAt(this.pos) !== 123) {
      this.topLevelObject = false;
      this.value();
    } else {
      this.members((key) => {
        if (key === 'categories' && this.peek() === 123) this.categoriesObj();
        else if (key === 'items' && this.peek() === 91) {
          this.itemsSeen = true;
          this.itemsArr();
        } else this.extra[key] = this.value();
      });
    }
    this.ws();
    if (this.pos < this.n) throw new SyntaxFail(this.pos);
  }

  private categoriesObj(): void {
    const cats: Record<string, unknown> = {};
    this.members((key) => {
      if (key === 'label' && this.peek() === 123) {
        const label: Record<string, unknown> = {};
        this.members((k) => {
          if (k === 'labels' && this.peek() === 91) {
            this.labelsSeen = true;
            this.elements((_, start) => this.labelObj(start));
          } else if (k === 'label_groups' && this.peek() === 91) {
            this.groupsSeen = true;
            this.elements((_, start) => this.groupObj(start));
          } else label[k] = this.value();
        });
        cats[key] = label;
      } else cats[key] = this.value();
    });
    this.categories = cats;
  }

  private labelObj(start: number): void {
    if (this.peek() !== 123) {
      this.value(); // not an object: ignored (reported as a malformed label)
      this.labels.push(badLabel(start, this.pos));
      return;
    }
    const rec: LabelRecord = {
      key: '',
      name: '',
      parent: '',
      start,
      end: start,
      parentStart: -1,
      parentEnd: -1,
      nameStart: start,
      nameEnd: start + 1,
    };
    let display: string | undefined;
    this.members((key) => {
      this.ws();
      const vs = this.pos;
      const v = this.value();
      if (key === 'name' && typeof v === 'string') {
        rec.key = v;
        rec.nameStart = vs;
        rec.nameEnd = this.pos;
      } else if (key === 'parent' && typeof v === 'string') {
        rec.parent = v;
        rec.parentStart = vs;
        rec.parentEnd = this.pos;
      } else if (key === TAXON_NAME_FIELD && typeof v === 'string') display = v;
      else (rec.extra ??= {})[key] = v;
    });
    rec.name = display ?? rec.key;
    rec.end = this.pos;
    this.labels.push(rec);
  }

  private groupObj(start: number): void {
    if (this.peek() !== 123) {
      this.value();
      return;
    }
    const rec: GroupRecord = { name: '', groupType: 'exclusive', labels: [], start, end: start };
    this.members((key) => {
      if (key === 'labels' && this.peek() === 91) {
        this.elements((_, s) => {
          const v = this.value();
          if (typeof v === 'string') rec.labels.push({ name: v, start: s, end: this.pos });
        });
        return;
      }
      const v = this.value();
      if (key === 'name' && typeof v === 'string') rec.name = v;
      else if (key === 'group_type') rec.groupType = v;
      else (rec.extra ??= {})[key] = v;
    });
    rec.end = this.pos;
    this.groups.push(rec);
  }

  // Items: the hot path (up to 1,000,000 items). No closures, exact-size arrays, and the
  // Position objects shared between ranges that start or end at the same offset.
  private readonly labelIds: number[] = [];
  // one annotation's other fields, reused: most annotations need no object at all
  private readonly annKeys: string[] = [];
  private readonly annValues: unknown[] = [];
  private readonly labelStarts: number[] = [];
  private readonly labelEnds: number[] = [];
  private readonly annStarts: number[] = [];
  private readonly annEnds: number[] = [];

  private itemsArr(): void {
    const items = this.items;
    this.expect(91);
    if (this.peek() === 93) {
      this.pos++;
      return;
    }
    const data = () => this.sources.data;
    let last = -1; // record of the previous item
    let prevEnd = -1; // end offset of the item before the current one
    for (;;) {
      this.ws();
      const start = this.pos;
      if (last >= 0) {
        // remove an item with what follows it up to the next item (its comma)
        data()[last + 2] = data()[last];
        data()[last + 3] = start;
      }
      const item = this.itemObj(start);
      const at = this.lastRecord;
      items.push(item);
      if (!this.more(93)) {
        // the last item goes with the comma before it
        data()[at + 2] = last >= 0 ? prevEnd : data()[at];
        data()[at + 3] = data()[at + 1];
        break;
      }
      prevEnd = data()[at + 1];
      last = at;
    }
  }

  private itemObj(start: number): Item {
    const t = this.text;
    if (this.peek() !== 123) {
      this.value();
      const at = this.record(start, this.pos, -1, -1, -1, -1, 0);
      return { id: '', image: '', labels: [], source: new LazyItemSource(this.sources, at) };
    }
    this.pos++;
    let id = '';
    let image = '';
    let idS = -1;
    let idE = -1;
    let imS = -1;
    let imE = -1;
    let annotations = false;
    let annFirst = 0; // index in the scratch arrays
    let extra: Record<string, unknown> | undefined;
    const labelIds = this.labelIds;
    labelIds.length = 0;
    this.labelStarts.length = 0;
    this.labelEnds.length = 0;
    this.annStarts.length = 0;
    this.annEnds.length = 0;
    let annCount = 0;
    let annExtras: Array<Record<string, unknown> | null> | undefined;
    let others: unknown[] | undefined;
    let pending: Array<Omit<PendingLabel, 'item'>> | undefined;
    if (this.peek() === 125) this.pos++;
    else {
      do {
        const key = this.key();
        this.expect(58);
        this.ws();
        const vs = this.pos;
        const c = t.charCodeAt(vs);
        if (key === 'annotations' && c === 91 && !annotations) {
          annotations = true;
          this.pos++;
          if (this.peek() === 93) this.pos++;
          else {
            do {
              this.ws();
              const as = this.pos;
              const ann = this.annotationObj(as);
              annCount++;
              if (ann.isLabel) {
                const index = labelIds.length;
                labelIds.push(ann.labelId);
                this.labelStarts.push(ann.ls);
                this.labelEnds.push(ann.le);
                this.annStarts.push(as);
                this.annEnds.push(this.pos);
                // annotation index (among all annotations) for the delete ranges
                if (ann.extra !== null) {
                  annExtras ??= new Array<Record<string, unknown> | null>(index).fill(null);
                  annExtras.push(ann.extra);
                } else if (annExtras) annExtras.push(null);
                if (ann.pending) (pending ??= []).push({ ...ann.pending, index });
                // neighbours for the delete range: remember where the next annotation starts
                this.annNext.push(-1);
                this.annPrevEnd.push(this.lastAnnEnd);
                this.pendingAnn = index;
              } else {
                (others ??= []).push(ann.raw);
                this.pendingAnn = -1;
              }
              this.lastAnnEnd = this.pos;
              if (!this.more(93)) break;
              this.ws();
              if (this.pendingAnn >= 0) this.annNext[this.pendingAnn] = this.pos;
            } while (true);
          }
          annFirst = annCount;
          continue;
        }
        if ((key === 'image' || key === 'media') && c === 123 && imS < 0) {
          this.pos++;
          let imageExtra: Record<string, unknown> | undefined;
          if (this.peek() === 125) this.pos++;
          else {
            do {
              const k = this.key();
              this.expect(58);
              this.ws();
              const ps = this.pos;
              const v = this.value();
              if (k === 'path' && typeof v === 'string' && imS < 0) {
                image = this.imagePrefix + v;
                imS = ps;
                imE = this.pos;
              } else (imageExtra ??= {})[k] = v;
            } while (this.more(125));
          }
          if (key === 'media') (extra ??= {})[ITEM_MEDIA_KEY] = 'media';
          if (imageExtra) (extra ??= {})[ITEM_IMAGE_KEY] = imageExtra;
          continue;
        }
        const v = this.value();
        if (key === 'id' && (typeof v === 'string' || typeof v === 'number') && idS < 0) {
          id = String(v);
          if (typeof v === 'number') (extra ??= {})[ITEM_NUMERIC_ID_KEY] = true;
          idS = vs;
          idE = this.pos;
        } else (extra ??= {})[key] = v;
      } while (this.more(125));
    }
    void annFirst;
    const end = this.pos;
    const n = labelIds.length;
    const at = this.record(start, end, idS, idE, imS, imE, n);
    const d = this.sources.data;
    for (let k = 0; k < n; k++) {
      const b = at + RECORD + k * PER_LABEL;
      const next = this.annNext[k];
      const prevEnd = this.annPrevEnd[k];
      d[b] = this.labelStarts[k];
      d[b + 1] = this.labelEnds[k];
      // drop an annotation with the comma after it, or the one before it when it is the last
      d[b + 2] = next >= 0 ? this.annStarts[k] : prevEnd >= 0 ? prevEnd : this.annStarts[k];
      d[b + 3] = next >= 0 ? next : this.annEnds[k];
    }
    this.annNext.length = 0;
    this.annPrevEnd.length = 0;
    this.lastAnnEnd = -1;
    this.pendingAnn = -1;
    const source = new LazyItemSource(this.sources, at);
    const labels = n === 1 ? [labelIds[0]] : labelIds.slice();
    if (annExtras || others) {
      extra ??= {};
      if (annExtras) extra[ITEM_LABEL_ANNOTATIONS_KEY] = annExtras;
      if (others) extra[ITEM_OTHER_ANNOTATIONS_KEY] = others;
    }
    const item: Item = extra ? { id, image, labels, source, extra } : { id, image, labels, source };
    if (pending) for (const pl of pending) this.pending.push({ ...pl, item });
    return item;
  }

  private readonly annNext: number[] = [];
  private readonly annPrevEnd: number[] = [];
  private lastAnnEnd = -1;
  private pendingAnn = -1;

  private annotationObj(start: number): {
    isLabel: boolean;
    labelId: number;
    ls: number;
    le: number;
    extra: Record<string, unknown> | null;
    raw?: unknown;
    pending?: Omit<PendingLabel, 'item' | 'index'>;
  } {
    const t = this.text;
    if (this.peek() !== 123) {
      const raw = this.value();
      return { isLabel: false, labelId: NaN, ls: start, le: start, extra: null, raw };
    }
    this.pos++;
    const keys = this.annKeys;
    const values = this.annValues;
    keys.length = 0;
    values.length = 0;
    let labelIdRaw: unknown = undefined;
    let hasLabelId = false;
    let ls = start;
    let le = start;
    let labelName: string | undefined;
    let ms = 0;
    let me = 0;
    // The common annotation is exactly {"id": 0, "type": "label", "attributes": {}, "group": 0, "label_id": N}
    // in any order: recognise it without building an object (one bit per default field).
    let defaults = 0;
    let nonDefault = false;
    if (this.peek() === 125) this.pos++;
    else {
      do {
        this.ws();
        const keyStart = this.pos;
        const key = this.key();
        this.expect(58);
        this.ws();
        const vs = this.pos;
        if (key === 'label_id') {
          labelIdRaw = this.value();
          hasLabelId = true;
          ls = vs;
          le = this.pos;
          continue;
        }
        let v: unknown;
        if (key === 'attributes' && t.charCodeAt(vs) === 123 && t.charCodeAt(vs + 1) === 125) {
          this.pos = vs + 2;
          v = EMPTY_ATTRIBUTES;
          defaults |= 8;
        } else {
          v = key === 'type' && t.charCodeAt(vs) === 34 ? this.key() : this.value(); // "label" without a new string
          if (key === 'id' && v === 0) defaults |= 1;
          else if (key === 'type' && v === 'label') defaults |= 2;
          else if (key === 'group' && v === 0) defaults |= 4;
          else if (key === 'attributes' && isEmptyObject(v)) defaults |= 8;
          else nonDefault = true;
        }
        keys.push(key);
        values.push(v);
        if (key === 'label' && typeof v === 'string') {
          labelName = v;
          ms = keyStart;
          me = this.pos;
        }
      } while (this.more(125));
    }
    const end = this.pos;
    const isDefault = !nonDefault && defaults === 15 && keys.length === 4;
    let fields: Record<string, unknown> | undefined;
    if (!isDefault && keys.length) {
      fields = {};
      for (let k = 0; k < keys.length; k++) fields[keys[k]] = values[k] === EMPTY_ATTRIBUTES ? {} : values[k];
    }
    const type = fields?.type;
    if (type !== undefined && type !== 'label') {
      const raw = fields!;
      if (hasLabelId) raw.label_id = labelIdRaw;
      return { isLabel: false, labelId: NaN, ls: start, le: start, extra: null, raw };
    }
    const extra = isDefault ? null : (fields ?? {});
    if (hasLabelId && typeof labelIdRaw === 'number' && Number.isInteger(labelIdRaw) && labelIdRaw >= 0) {
      // range against the label count is checked once all labels are known
      return { isLabel: true, labelId: labelIdRaw, ls, le, extra };
    }
    const pending: Omit<PendingLabel, 'item' | 'index'> = {
      raw: labelIdRaw,
      start: hasLabelId ? ls : start,
      end: hasLabelId ? le : end,
    };
    if (labelName !== undefined) {
      pending.labelName = labelName;
      pending.memberStart = ms;
      pending.memberEnd = me;
    }
    return { isLabel: true, labelId: NaN, ls: hasLabelId ? ls : start, le: hasLabelId ? le : end, extra, pending };
  }
}

/** Stands for an empty `attributes` object while an annotation is read; never stored. */
const EMPTY_ATTRIBUTES = Object.freeze({});

/** Keys by length: see `key()`. */
const KNOWN_KEYS: Record<number, readonly string[]> = {
  2: ['id'],
  4: ['type', 'path', 'size', 'name'],
  5: ['group', 'image', 'label', 'media'],
  6: ['parent'],
  8: ['label_id'],
  10: ['attributes'],
  11: ['annotations'],
};

function badLabel(start: number, end: number): LabelRecord {
  return { key: '', name: '', parent: '', start, end, parentStart: -1, parentEnd: -1, nameStart: start, nameEnd: end };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function isEmptyObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const _ in v) return false;
  return true;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The dataset root and subset of `annotations/<subset>.json`. */
export function datumaroLayout(file: string): { root: string; subset: string } {
  const dir = path.dirname(file);
  const root = path.basename(dir) === 'annotations' ? path.dirname(dir) : dir;
  const subset = path.basename(file).replace(/\.json$/i, '');
  return { root, subset };
}

/** Reads a Datumaro JSON annotation file (pure: `file` only names it and locates the root). */
export function parseDatumaro(text: string, file: string): Dataset {
  const { root, subset } = datumaroLayout(file);
  const ds = emptyDataset('datumaro', root, [file]);
  ds.subset = subset;
  const diags = ds.diagnostics;
  let lineIndex: LineIndex | undefined;
  const lines = (): LineIndex => (lineIndex ??= new LineIndex(text));
  if (text.trim() === '') {
    diags.push({ file, range: START_OF_FILE, severity: 'error', code: 'taxon.empty-file', message: 'The annotation file is empty.' });
    return ds;
  }
  const prefix = `images/${subset}/`;
  const reader = new Reader(text, file, lines, prefix);
  let positions = true;
  try {
    reader.document();
  } catch (e) {
    if (!(e instanceof SyntaxFail)) throw e;
    positions = false;
    const syntax = jsonSyntaxDiagnostics(text, file, lines());
    if (syntax.length === 0) {
      syntax.push({
        file,
        range: lines().range(e.offset, 1),
        severity: 'error',
        code: 'taxon.syntax-error',
        message: 'JSON syntax error.',
      });
    }
    diags.push(...syntax);
    return salvage(ds, text, prefix);
  }
  if (!reader.topLevelObject) {
    diags.push(notDatumaro(file, 'the file is JSON but not an object; a Datumaro file is an object with `categories.label.labels` and `items`'));
    return ds;
  }
  const missing: string[] = [];
  if (!reader.labelsSeen) missing.push('a `categories.label.labels` array');
  if (!reader.itemsSeen) missing.push('an `items` array');
  if (missing.length) {
    diags.push(notDatumaro(file, `not a Datumaro annotation file: it has no ${missing.join(' and no ')}`));
  }
  build(ds, reader.labels, reader.groups, reader.items, reader.pending, reader.categories, reader.extra, positions ? lines : undefined);
  void 0;
  return ds;
}

function notDatumaro(file: string, message: string): Diagnostic {
  return { file, range: START_OF_FILE, severity: 'error', code: 'taxon.not-datumaro', message: message.charAt(0).toUpperCase() + message.slice(1) + '.' };
}

/** After a syntax error: what a lenient parse still gives, without positions. */
function salvage(ds: Dataset, text: string, prefix: string): Dataset {
  const value = parseLenient(text, [], { allowTrailingComma: true, disallowComments: false }) as unknown;
  if (!isRecord(value)) return ds;
  const extra: Record<string, unknown> = {};
  let categories: Record<string, unknown> | undefined;
  const labels: LabelRecord[] = [];
  const groups: GroupRecord[] = [];
  const items: Item[] = [];
  const pending: PendingLabel[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k === 'items') continue;
    if (k === 'categories' && isRecord(v)) {
      categories = {};
      for (const [ck, cv] of Object.entries(v)) {
        if (ck !== 'label' || !isRecord(cv)) {
          categories[ck] = cv;
          continue;
        }
        const label: Record<string, unknown> = {};
        for (const [lk, lv] of Object.entries(cv)) {
          if (lk === 'labels' && Array.isArray(lv)) {
            for (const l of lv) {
              const rec = badLabel(0, 0);
              if (isRecord(l)) {
                for (const [fk, fv] of Object.entries(l)) {
                  if (fk === 'name' && typeof fv === 'string') rec.key = fv;
                  else if (fk === 'parent' && typeof fv === 'string') rec.parent = fv;
                  else if (fk !== TAXON_NAME_FIELD || typeof fv !== 'string') (rec.extra ??= {})[fk] = fv;
                }
                rec.name = typeof l[TAXON_NAME_FIELD] === 'string' ? (l[TAXON_NAME_FIELD] as string) : rec.key;
              }
              labels.push(rec);
            }
          } else if (lk === 'label_groups' && Array.isArray(lv)) {
            for (const g of lv) {
              if (!isRecord(g)) continue;
              const rec: GroupRecord = { name: '', groupType: 'exclusive', labels: [], start: 0, end: 0 };
              for (const [gk, gv] of Object.entries(g)) {
                if (gk === 'name' && typeof gv === 'string') rec.name = gv;
                else if (gk === 'group_type') rec.groupType = gv;
                else if (gk === 'labels' && Array.isArray(gv)) {
                  for (const n of gv) if (typeof n === 'string') rec.labels.push({ name: n, start: 0, end: 0 });
                } else (rec.extra ??= {})[gk] = gv;
              }
              groups.push(rec);
            }
          } else label[lk] = lv;
        }
        categories[ck] = label;
      }
      continue;
    }
    extra[k] = v;
  }
  if (Array.isArray(value.items)) {
    for (const raw of value.items) {
      const item: Item = { id: '', image: '', labels: [] };
      items.push(item);
      if (!isRecord(raw)) continue;
      for (const [k, v] of Object.entries(raw)) {
        if (k === 'id' && (typeof v === 'string' || typeof v === 'number')) {
          item.id = String(v);
          if (typeof v === 'number') (item.extra ??= {})[ITEM_NUMERIC_ID_KEY] = true;
        } else if ((k === 'image' || k === 'media') && isRecord(v)) {
          for (const [ik, iv] of Object.entries(v)) {
            if (ik === 'path' && typeof iv === 'string') item.image = prefix + iv;
            else (((item.extra ??= {})[ITEM_IMAGE_KEY] ??= {}) as Record<string, unknown>)[ik] = iv;
          }
          if (k === 'media') (item.extra ??= {})[ITEM_MEDIA_KEY] = 'media';
        } else if (k === 'annotations' && Array.isArray(v)) {
          for (const ann of v) {
            if (!isRecord(ann) || (ann.type !== undefined && ann.type !== 'label')) {
              (((item.extra ??= {})[ITEM_OTHER_ANNOTATIONS_KEY] ??= []) as unknown[]).push(ann);
              continue;
            }
            const { label_id: id, ...fields } = ann;
            const index = item.labels.length;
            if (typeof id === 'number' && Number.isInteger(id) && id >= 0) item.labels.push(id);
            else {
              item.labels.push(NaN);
              pending.push({ item, index, raw: id, start: 0, end: 0 });
            }
            const isDefault =
              Object.keys(fields).length === 4 && fields.id === 0 && fields.type === 'label' && fields.group === 0 && isEmptyObject(fields.attributes);
            const extras = item.extra?.[ITEM_LABEL_ANNOTATIONS_KEY] as Array<Record<string, unknown> | null> | undefined;
            if (!isDefault) {
              const arr = extras ?? new Array<Record<string, unknown> | null>(index).fill(null);
              arr.push(fields);
              (item.extra ??= {})[ITEM_LABEL_ANNOTATIONS_KEY] = arr;
            } else if (extras) extras.push(null);
          }
        } else (item.extra ??= {})[k] = v;
      }
    }
  }
  build(ds, labels, groups, items, pending, categories, extra, undefined);
  return ds;
}

/** Turns label / group / item records into the taxonomy, groups and items, with diagnostics. */
function build(
  ds: Dataset,
  labels: LabelRecord[],
  groups: GroupRecord[],
  items: Item[],
  pending: PendingLabel[],
  categories: Record<string, unknown> | undefined,
  extra: Record<string, unknown>,
  lines: (() => LineIndex) | undefined,
): void {
  const file = ds.files[0];
  const diags = ds.diagnostics;
  const rng = (s: number, e: number): Range => (lines ? lines().range(s, e - s) : START_OF_FILE);
  const L = labels.length;

  // --- names and parents ------------------------------------------------------------------
  const byKey = new Map<string, number>();
  const siblingKey = new Set<string>();
  for (let i = 0; i < L; i++) {
    const l = labels[i];
    const first = byKey.get(l.key);
    if (first === undefined) byKey.set(l.key, i);
    else {
      diags.push({
        file,
        range: rng(l.nameStart, l.nameEnd),
        severity: 'error',
        code: 'taxon.duplicate-label-name',
        message: `Label name ${JSON.stringify(l.key)} is used by more than one label (also label #${first}); Datumaro needs unique label names.`,
      });
    }
    const sk = `${l.parent}\u0000${l.name}`;
    if (siblingKey.has(sk)) {
      diags.push({
        file,
        range: rng(l.nameStart, l.nameEnd),
        severity: 'error',
        code: 'taxon.duplicate-sibling',
        message: `Two labels named ${JSON.stringify(l.name)} under the same parent ${l.parent === '' ? '(top level)' : JSON.stringify(l.parent)}.`,
      });
    } else siblingKey.add(sk);
  }
  const parentOf = new Int32Array(L).fill(-1);
  for (let i = 0; i < L; i++) {
    const l = labels[i];
    if (l.parent === '') continue;
    const p = byKey.get(l.parent);
    if (p === undefined) {
      diags.push({
        file,
        range: l.parentStart >= 0 ? rng(l.parentStart, l.parentEnd) : rng(l.start, l.end),
        severity: 'error',
        code: 'taxon.missing-parent',
        message: `Label ${JSON.stringify(l.name)} has parent ${JSON.stringify(l.parent)}, which is not a label; it is treated as top-level.`,
      });
    } else parentOf[i] = p;
  }

  // --- cycles (iterative: chains may be 10,000+ deep) -------------------------------------
  const state = new Uint8Array(L); // 0 new, 1 on the current walk, 2 done
  const walk: number[] = [];
  for (let i = 0; i < L; i++) {
    if (state[i]) continue;
    walk.length = 0;
    let j = i;
    while (j >= 0 && state[j] === 0) {
      state[j] = 1;
      walk.push(j);
      j = parentOf[j];
    }
    if (j >= 0 && state[j] === 1) {
      const cycle = walk.slice(walk.indexOf(j));
      const names = cycle.map((c) => JSON.stringify(labels[c].key));
      const text = [...names, names[0]].join(' → ');
      for (const c of cycle) {
        const l = labels[c];
        diags.push({
          file,
          range: l.parentStart >= 0 ? rng(l.parentStart, l.parentEnd) : rng(l.start, l.end),
          severity: 'error',
          code: 'taxon.cycle',
          message: `Label parents form a cycle: ${text}. These labels are treated as top-level.`,
        });
      }
      for (const c of cycle) parentOf[c] = -1;
    }
    for (const w of walk) state[w] = 2;
  }

  // --- taxonomy: file order, parents before children --------------------------------------
  const tax = new Taxonomy();
  const labelToNode = new Int32Array(L).fill(-1);
  const nodeSources: Array<{ file: string; range: Range } | undefined> = [];
  const chain: number[] = [];
  for (let i = 0; i < L; i++) {
    if (labelToNode[i] >= 0) continue;
    chain.length = 0;
    for (let j = i; j >= 0 && labelToNode[j] < 0; j = parentOf[j]) chain.push(j);
    for (let k = chain.length - 1; k >= 0; k--) {
      const c = chain[k];
      const l = labels[c];
      const p = parentOf[c];
      const id = tax.addUnchecked(l.name, p < 0 ? ROOT : labelToNode[p]);
      if (l.extra) tax.nodes[id].extra = l.extra;
      labelToNode[c] = id;
      nodeSources[id] = lines ? { file, range: rng(l.start, l.end) } : undefined;
    }
  }
  ds.taxonomy = tax;
  if (lines) ds.nodeSources = nodeSources;

  // --- groups -----------------------------------------------------------------------------
  const inGroup = new Uint8Array(tax.size);
  const exclusiveOf: Array<number[] | undefined> = new Array(tax.size);
  for (const g of groups) {
    const group: LabelGroup = { name: g.name, kind: 'exclusive', labels: [] };
    if (g.groupType === 'inclusive') group.kind = 'inclusive';
    else if (g.groupType !== 'exclusive') {
      // Datumaro's other types (e.g. "restricted") or numeric enums: kept verbatim
      group.kind = g.groupType === 1 ? 'inclusive' : 'exclusive';
      (group.extra ??= {})[GROUP_TYPE_KEY] = g.groupType;
    }
    if (g.extra) group.extra = Object.assign(g.extra, group.extra);
    const gi = ds.groups.length;
    for (const gl of g.labels) {
      const li = byKey.get(gl.name);
      if (li === undefined) {
        diags.push({
          file,
          range: rng(gl.start, gl.end),
          severity: 'warning',
          code: 'taxon.unknown-group-label',
          message: `Label group ${JSON.stringify(g.name)} names ${JSON.stringify(gl.name)}, which is not a label.`,
        });
        continue;
      }
      const node = labelToNode[li];
      group.labels.push(node);
      inGroup[node] = 1;
      if (group.kind === 'exclusive') (exclusiveOf[node] ??= []).push(gi);
    }
    ds.groups.push(group);
  }
  if (groups.length > 0) {
    for (let i = 0; i < L; i++) {
      const node = labelToNode[i];
      if (inGroup[node]) continue;
      const l = labels[i];
      diags.push({
        file,
        range: rng(l.start, l.end),
        severity: 'error',
        code: 'taxon.label-outside-group',
        message: `Label ${JSON.stringify(l.name)} is in no label group.`,
      });
    }
  }

  // --- items: label ids → node ids ---------------------------------------------------------
  const pendingAt = new Map<Item, PendingLabel[]>();
  for (const pl of pending) {
    const list = pendingAt.get(pl.item);
    if (list) list.push(pl);
    else pendingAt.set(pl.item, [pl]);
  }
  for (const item of items) {
    const ls = item.labels;
    let bad: number[] | undefined;
    for (let k = 0; k < ls.length; k++) {
      const id = ls[k];
      if (id >= 0 && id < L) ls[k] = labelToNode[id];
      else (bad ??= []).push(k);
    }
    if (bad) dropInvalidLabels(item, bad, pendingAt.get(item), L, tax, labels, labelToNode, file, rng, diags);
  }

  // --- exclusive groups ---------------------------------------------------------------------
  if (ds.groups.length > 0) {
    for (const item of items) {
      const ls = item.labels;
      if (ls.length < 2) continue;
      for (let a = 1; a < ls.length; a++) {
        const ga = exclusiveOf[ls[a]];
        if (!ga) continue;
        for (let b = 0; b < a; b++) {
          const gb = exclusiveOf[ls[b]];
          if (!gb || ls[a] === ls[b]) continue;
          const shared = ga.find((g) => gb.includes(g));
          if (shared === undefined) continue;
          const group = ds.groups[shared];
          const range = item.source?.labelRanges?.[a] ?? START_OF_FILE;
          const del = item.source?.labelDeleteRanges?.[a];
          const d: Diagnostic = {
            file,
            range,
            severity: 'error',
            code: 'taxon.exclusive-group-conflict',
            message: `Item ${JSON.stringify(item.id)} has both ${JSON.stringify(tax.nodes[ls[b]].name)} and ${JSON.stringify(tax.nodes[ls[a]].name)}, which are in the same exclusive group ${JSON.stringify(group.name)}.`,
          };
          if (del) d.fixes = [{ title: `Remove the ${JSON.stringify(tax.nodes[ls[a]].name)} annotation`, edits: [{ range: del, newText: '' }] }];
          diags.push(d);
          break;
        }
      }
    }
  }

  ds.items = items;
  if (categories) extra.categories = categories;
  if (Object.keys(extra).length) ds.extra = extra;
}

/** Moves annotations with invalid label ids out of `item.labels` (kept verbatim for writing). */
function dropInvalidLabels(
  item: Item,
  badIndices: number[],
  pending: PendingLabel[] | undefined,
  L: number,
  tax: Taxonomy,
  labels: LabelRecord[],
  labelToNode: Int32Array,
  file: string,
  rng: (s: number, e: number) => Range,
  diags: Diagnostic[],
): void {
  const byIndex = new Map<number, { raw: unknown; labelName?: string; memberStart?: number; memberEnd?: number }>();
  for (const k of badIndices) byIndex.set(k, { raw: item.labels[k] });
  for (const b of pending ?? []) byIndex.set(b.index, b);
  const src = item.source;
  const annExtras = item.extra?.[ITEM_LABEL_ANNOTATIONS_KEY] as Array<Record<string, unknown> | null> | undefined;
  const keepLabels: number[] = [];
  const keepRanges: Range[] = [];
  const keepDeletes: Range[] = [];
  const keepExtras: Array<Record<string, unknown> | null> = [];
  const others: unknown[] = [];
  for (let k = 0; k < item.labels.length; k++) {
    const id = item.labels[k];
    const info = byIndex.get(k);
    if (!info) {
      keepLabels.push(id);
      if (src?.labelRanges) keepRanges.push(src.labelRanges[k]);
      if (src?.labelDeleteRanges) keepDeletes.push(src.labelDeleteRanges[k]);
      keepExtras.push(annExtras?.[k] ?? null);
      continue;
    }
    const fields = annExtras?.[k] ?? { ...DEFAULT_ANN };
    others.push(info.raw === undefined ? { ...fields } : { ...fields, label_id: info.raw });
    const range = src?.labelRanges?.[k] ?? START_OF_FILE;
    let message: string;
    const fixes: QuickFix[] = [];
    if (info.raw === undefined) {
      if (info.labelName !== undefined) {
        const exact = labels.findIndex((l) => l.key === info.labelName);
        const node = exact >= 0 ? labelToNode[exact] : closestNode(tax, info.labelName);
        message = `Item ${JSON.stringify(item.id)} names its label ${JSON.stringify(info.labelName)}; Datumaro refers to labels by \`label_id\`.`;
        if (node !== undefined && node >= 0 && info.memberStart !== undefined && src) {
          const li = labelToNode.indexOf(node);
          fixes.push({
            title: `Use "label_id": ${li} (${JSON.stringify(tax.pathString(node))})`,
            edits: [{ range: rng(info.memberStart, info.memberEnd!), newText: `"label_id": ${li}` }],
          });
        }
      } else message = `Item ${JSON.stringify(item.id)} has a label annotation without \`label_id\`.`;
    } else if (typeof info.raw === 'number' && Number.isInteger(info.raw)) {
      message = `Item ${JSON.stringify(item.id)}: label_id ${info.raw} is out of range (there ${L === 1 ? 'is 1 label' : `are ${L} labels`}, ids 0–${Math.max(0, L - 1)}).`;
    } else {
      message = `Item ${JSON.stringify(item.id)}: label_id ${JSON.stringify(info.raw)} is not an integer label index.`;
    }
    const d: Diagnostic = { file, range, severity: 'error', code: 'taxon.unknown-label', message };
    if (fixes.length) d.fixes = fixes;
    diags.push(d);
  }
  item.labels = keepLabels;
  if (src) {
    if (src.labelRanges) src.labelRanges = keepRanges;
    if (src.labelDeleteRanges) src.labelDeleteRanges = keepDeletes;
  }
  const extra = (item.extra ??= {});
  if (annExtras) {
    if (keepExtras.some((e) => e !== null)) extra[ITEM_LABEL_ANNOTATIONS_KEY] = keepExtras;
    else delete extra[ITEM_LABEL_ANNOTATIONS_KEY];
  }
  const prevOthers = (extra[ITEM_OTHER_ANNOTATIONS_KEY] as unknown[] | undefined) ?? [];
  extra[ITEM_OTHER_ANNOTATIONS_KEY] = [...others, ...prevOthers];
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Written label names, unique as Datumaro requires. A name used by one node is written as is.
 * Every node whose name is shared is written as `name (parent name)` (top level: `name (root)`),
 * then, if that still collides, `name (full > path)`, then with ` #2`, ` #3`, ... — deterministic
 * in node order. Such labels also carry `taxon_name` with the real name so Taxon reads them
 * back with their own names.
 */
export function datumaroLabelNames(tax: Taxonomy): string[] {
  const count = new Map<string, number>();
  for (const n of tax.nodes) count.set(n.name, (count.get(n.name) ?? 0) + 1);
  const used = new Set<string>();
  const out: string[] = new Array(tax.size);
  for (const n of tax.nodes) if (count.get(n.name) === 1) used.add(n.name);
  for (const n of tax.nodes) {
    if (count.get(n.name) === 1) {
      out[n.id] = n.name;
      continue;
    }
    const parentName = n.parent === ROOT ? 'root' : tax.nodes[n.parent].name;
    let candidate = `${n.name} (${parentName})`;
    if (used.has(candidate) || count.has(candidate)) candidate = `${n.name} (${tax.pathString(n.id)})`;
    let k = 2;
    const base = candidate;
    while (used.has(candidate) || count.has(candidate)) candidate = `${base} #${k++}`;
    used.add(candidate);
    out[n.id] = candidate;
  }
  return out;
}

/** Writes a Datumaro JSON file: categories pretty-printed, one item per line. */
export function serializeDatumaro(ds: Dataset): string {
  const tax = ds.taxonomy;
  const names = datumaroLabelNames(tax);
  const subset = ds.subset ?? 'default';
  const prefix = `images/${subset}/`;
  // Node ids are the label ids in the written file.
  const labels = tax.nodes.map((n) => {
    const o: Record<string, unknown> = { name: names[n.id], parent: n.parent === ROOT ? '' : names[n.parent] };
    if (names[n.id] !== n.name) o[TAXON_NAME_FIELD] = n.name;
    if (n.extra) for (const [k, v] of Object.entries(n.extra)) if (k !== 'name' && k !== 'parent' && k !== TAXON_NAME_FIELD) o[k] = v;
    if (!('attributes' in o)) o.attributes = [];
    return o;
  });
  const groups: Array<Record<string, unknown>> = [];
  if (ds.groups.length > 0) {
    for (const g of ds.groups) {
      const extra = g.extra ?? {};
      const o: Record<string, unknown> = {
        name: g.name,
        group_type: GROUP_TYPE_KEY in extra ? extra[GROUP_TYPE_KEY] : g.kind,
        labels: g.labels.filter((id) => id >= 0 && id < tax.size).map((id) => names[id]),
      };
      for (const [k, v] of Object.entries(extra)) if (k !== GROUP_TYPE_KEY && !(k in o)) o[k] = v;
      groups.push(o);
    }
  } else {
    // OTX H_LABEL_CLS convention: one exclusive group per parent with children, holding them;
    // named after the parent ('Root' for the top level), made unique.
    const usedGroupNames = new Set<string>();
    const addGroup = (name: string, ids: readonly number[]): void => {
      let candidate = name;
      for (let k = 2; usedGroupNames.has(candidate); k++) candidate = `${name} #${k}`;
      usedGroupNames.add(candidate);
      groups.push({ name: candidate, group_type: 'exclusive', labels: ids.map((id) => names[id]) });
    };
    if (tax.roots.length) addGroup('Root', tax.roots);
    for (const id of tax.walk()) if (tax.nodes[id].children.length) addGroup(names[id], tax.nodes[id].children);
  }

  const top: Record<string, unknown> = {};
  const extra = ds.extra ?? {};
  for (const [k, v] of Object.entries(extra)) if (k !== 'categories' && k !== 'items') top[k] = v;
  const cats = isRecord(extra.categories) ? extra.categories : {};
  const labelCat = isRecord(cats.label) ? cats.label : {};
  const newLabelCat: Record<string, unknown> = { labels, label_groups: groups };
  for (const [k, v] of Object.entries(labelCat)) if (k !== 'labels' && k !== 'label_groups') newLabelCat[k] = v;
  if (!('attributes' in newLabelCat)) newLabelCat.attributes = [];
  const newCats: Record<string, unknown> = { label: newLabelCat };
  for (const [k, v] of Object.entries(cats)) if (k !== 'label') newCats[k] = v;
  top.categories = newCats;

  const out: string[] = ['{'];
  const keys = Object.keys(top);
  for (const k of keys) out.push(`  ${JSON.stringify(k)}: ${indentJson(top[k])},`);
  out.push('  "items": [');
  const n = ds.items.length;
  for (let i = 0; i < n; i++) out.push(`    ${JSON.stringify(itemJson(ds.items[i], tax.size, prefix))}${i < n - 1 ? ',' : ''}`);
  out.push('  ]', '}', '');
  return out.join('\n');
}

function indentJson(v: unknown): string {
  return JSON.stringify(v, null, 2).replace(/\n/g, '\n  ');
}

function itemJson(item: Item, size: number, prefix: string): Record<string, unknown> {
  const extra = item.extra ?? {};
  const o: Record<string, unknown> = {};
  o.id = extra[ITEM_NUMERIC_ID_KEY] === true && item.id.trim() !== '' && Number.isFinite(Number(item.id)) ? Number(item.id) : item.id;
  const annExtras = extra[ITEM_LABEL_ANNOTATIONS_KEY] as Array<Record<string, unknown> | null> | undefined;
  const anns: unknown[] = [];
  for (let k = 0; k < item.labels.length; k++) {
    const id = item.labels[k];
    if (!(id >= 0 && id < size)) continue;
    const fields = Array.isArray(annExtras) ? annExtras[k] : null;
    anns.push(fields ? { ...fields, label_id: id } : { ...DEFAULT_ANN, label_id: id });
  }
  const others = extra[ITEM_OTHER_ANNOTATIONS_KEY];
  if (Array.isArray(others)) anns.push(...others);
  o.annotations = anns;
  if (item.image !== '' || ITEM_IMAGE_KEY in extra) {
    const image: Record<string, unknown> = { path: relativeImagePath(item.image, prefix) };
    const imageExtra = extra[ITEM_IMAGE_KEY];
    if (isRecord(imageExtra)) for (const [k, v] of Object.entries(imageExtra)) if (k !== 'path') image[k] = v;
    o[extra[ITEM_MEDIA_KEY] === 'media' ? 'media' : 'image'] = image;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (k.startsWith('$') && (k === ITEM_MEDIA_KEY || k === ITEM_IMAGE_KEY || k === ITEM_LABEL_ANNOTATIONS_KEY || k === ITEM_OTHER_ANNOTATIONS_KEY || k === ITEM_NUMERIC_ID_KEY)) continue;
    if (k in o) continue;
    o[k] = v;
  }
  return o;
}

/**
 * Datumaro image paths are relative to `images/<subset>/`. A root-relative path outside that
 * folder (a dataset converted from another format) is written as `../../<path>`, which points
 * at the same file.
 */
function relativeImagePath(image: string, prefix: string): string {
  if (image.startsWith(prefix)) return image.slice(prefix.length);
  // Datumaro also looks for `images/<path>` when `images/<subset>/<path>` is absent (its
  // backward-compatible layout); readers apply the same fallback (see formats/index.ts).
  if (image.startsWith('images/')) return image.slice('images/'.length);
  return `../../${image}`;
}
