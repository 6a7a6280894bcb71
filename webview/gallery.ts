/**
 * The node gallery's webview: a virtualised grid of thumbnails (only the rows on screen are in the
 * DOM), filters, an order, a selection by mouse and keyboard, and a path picker to move the
 * selected images. It renders and reports; the host decides and writes.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import type { GalleryFilterName, GalleryHostMessage, GallerySortName, GalleryThumb, GalleryTile, GalleryWebviewMessage, KeyHelp } from '../src/protocol';
import { gridLayout, navigate, visibleRange, type GridLayout } from './gallery/grid';
import { RangeSelection } from './gallery/selection';
import { PathIndex, type PathMatch } from './labeling/pathSearch';

interface VsCodeApi {
  postMessage(message: GalleryWebviewMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

const PAGE = 60;
const MIN_TILE = 148;
const GAP = 10;
const CAPTION = 46;
const MAX_CACHED_TILES = 3000;
const MAX_RESULTS = 50;

const FILTERS: Array<{ name: GalleryFilterName; label: string; title: string }> = [
  { name: 'all', label: 'All', title: 'Every image at or under this node: labelled there, or unlabelled and predicted there' },
  { name: 'labelled', label: 'Labelled', title: 'Images labelled at or under this node' },
  { name: 'predicted', label: 'Predicted', title: 'Unlabelled images the model puts at or under this node' },
  { name: 'disagreeing', label: 'Disagreeing', title: 'Labelled images whose prediction goes another way' },
  { name: 'suspicious', label: 'Suspicious', title: 'Images the last audit found suspicious (Taxon: Audit Labels)' },
  { name: 'duplicates', label: 'Duplicates', title: 'Images the last audit found duplicated (Taxon: Audit Labels)' },
];
const SORTS: Array<{ name: GallerySortName; label: string }> = [
  { name: 'file', label: 'File order' },
  { name: 'name', label: 'Image name' },
  { name: 'confidence-asc', label: 'Confidence, lowest first' },
  { name: 'confidence-desc', label: 'Confidence, highest first' },
  { name: 'suspicion', label: 'Suspicion, highest first' },
];

// ---------------------------------------------------------------- DOM

/** Creates an element; text always goes in as textContent (names and paths are untrusted). */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function icon(name: string): HTMLElement {
  const i = document.createElement('vscode-icon');
  i.name = name;
  i.setAttribute('aria-hidden', 'true');
  return i;
}

/** A codicon as a plain span: tiles are made by the dozen while scrolling, a custom element each would cost. */
function glyph(name: string): HTMLElement {
  return h('span', { class: `codicon codicon-${name}`, 'aria-hidden': 'true' });
}

function button(label: string, iconName: string, keys: string, secondary = true): VscodeButton {
  const b = document.createElement('vscode-button');
  b.icon = iconName;
  b.secondary = secondary;
  b.title = keys ? `${label} (${keys})` : label;
  if (keys) b.setAttribute('aria-keyshortcuts', keys.replace('Ctrl', 'Control'));
  b.append(label);
  return b;
}

const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));

const title = h('h1', { class: 'title' }, 'Images');
const datasetBadge = document.createElement('vscode-badge');
datasetBadge.title = 'Dataset';
const countText = h('span', { class: 'count' });

const filterButtons = new Map<GalleryFilterName, { button: VscodeButton; badge: HTMLElement }>();
const filterGroup = h('div', { class: 'filters', role: 'group', 'aria-label': 'Show' });
for (const f of FILTERS) {
  const b = document.createElement('vscode-button');
  b.secondary = true;
  b.title = f.title;
  b.dataset.filter = f.name;
  const badge = h('span', { class: 'filter-count' });
  b.append(f.label, badge);
  b.setAttribute('aria-pressed', 'false');
  filterGroup.append(b);
  filterButtons.set(f.name, { button: b, badge });
}
const sortSelect = document.createElement('vscode-single-select') as VscodeSingleSelect;
sortSelect.setAttribute('aria-label', 'Order');
sortSelect.title = 'Order';
for (const s of SORTS) {
  const o = document.createElement('vscode-option');
  o.value = s.name;
  o.textContent = s.label;
  sortSelect.append(o);
}
const sortLabel = h('label', { class: 'sort' }, h('span', { class: 'muted' }, 'Order'), sortSelect);

const selectionText = h('span', { class: 'selection-text' });
const moveButton = button('Move to…', 'move', 'M', false);
const confirmButton = button('Confirm', 'check', 'C');
confirmButton.title = "Label each selected image with the path the model predicts for it (C)";
/** Why there is nothing to confirm (no predictions yet), or undefined. */
let noPredictions: string | undefined;
const openButton = button('Label', 'tag', 'Enter');
openButton.title = 'Open the focused image in the labelling panel (Enter)';
const undoButton = button('Undo', 'discard', 'U');
const helpButton = document.createElement('vscode-button');
helpButton.icon = 'keyboard';
helpButton.iconOnly = true;
helpButton.secondary = true;
helpButton.title = 'Keyboard shortcuts (?)';
helpButton.setAttribute('aria-label', 'Keyboard shortcuts');
const header = h(
  'header',
  { class: 'bar' },
  h('div', { class: 'heading' }, title, datasetBadge, countText),
  h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Actions on the selected images' }, selectionText, moveButton, confirmButton, openButton, undoButton, helpButton),
);
const toolbar = h('div', { class: 'toolbar' }, filterGroup, sortLabel);

const statusNotice = h('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });
const alertNotice = h('div', { class: 'notices', role: 'alert' });

const spacer = h('div', { class: 'spacer-grid' });
const viewport = h('div', { class: 'viewport', tabindex: '0', role: 'listbox', 'aria-multiselectable': 'true', 'aria-label': 'Images' }, spacer);
const message = h('div', { class: 'message', hidden: '' });
const messageIcon = icon('info');
const messageText = h('p', {});
message.append(messageIcon, messageText);
const main = h('main', { class: 'main' }, viewport, message);

const liveRegion = h('div', { class: 'visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true' });

// the path picker
const pathField = document.createElement('vscode-textfield') as VscodeTextfield;
pathField.type = 'search';
pathField.placeholder = 'Type part of a node name or path';
pathField.label = 'Path to move the images to';
const pathResults = h('ul', { class: 'results', role: 'listbox', 'aria-label': 'Matching paths' });
const moveTitle = h('h2', { id: 'move-title' }, 'Move to');
const moveSummary = h('p', { class: 'muted' });
const moveCancel = document.createElement('vscode-button');
moveCancel.secondary = true;
moveCancel.append('Cancel');
const moveDialog = h(
  'dialog',
  { class: 'move', 'aria-labelledby': 'move-title' },
  moveTitle,
  moveSummary,
  pathField,
  pathResults,
  h('div', { class: 'dialog-actions' }, moveCancel),
);

const keysTable = h('tbody');
const closeHelp = document.createElement('vscode-button');
closeHelp.secondary = true;
closeHelp.append('Close');
const helpDialog = h(
  'dialog',
  { class: 'help', 'aria-labelledby': 'help-title' },
  h('h2', { id: 'help-title' }, 'Keyboard'),
  h('table', {}, keysTable),
  h('div', { class: 'dialog-actions' }, closeHelp),
);

app.append(header, toolbar, h('div', { class: 'notice-area' }, statusNotice, alertNotice), main, liveRegion, moveDialog, helpDialog);

// ---------------------------------------------------------------- state

let version = 0;
let total = 0;
let filter: GalleryFilterName = 'all';
let sort: GallerySortName = 'file';
let paths: string[][] = [];
let pathIndex: PathIndex | undefined;
let results: PathMatch[] = [];
let activeResult = 0;
let nodeTitle = '';
const tiles = new Map<number, GalleryTile>();
const requestedPages = new Set<number>();
const rendered = new Map<number, HTMLElement>();
const selection = new RangeSelection();
let active = 0;
let anchor = 0;
let layout: GridLayout = gridLayout(800, 0, { minTile: MIN_TILE, gap: GAP, caption: CAPTION });
let frame = 0;

// ---------------------------------------------------------------- messages and notices

const numberFormat = new Intl.NumberFormat('en');
const count = (n: number, one: string, many = `${one}s`) => `${numberFormat.format(n)} ${n === 1 ? one : many}`;
const percent = (p: number) => `${Math.round(Math.max(0, Math.min(1, p)) * 100)}%`;

function post(m: GalleryWebviewMessage): void {
  vscode.postMessage(m);
}

let announceTimer: ReturnType<typeof setTimeout> | undefined;
function announce(text: string): void {
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => {
    liveRegion.textContent = liveRegion.textContent === text ? `${text}\u00a0` : text;
  }, 60);
}

function showNotice(level: 'info' | 'warning' | 'error', text: string): void {
  const region = level === 'error' ? alertNotice : statusNotice;
  const dismiss = h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss' }, '×');
  const banner = h('div', { class: `notice ${level}` }, icon(level === 'error' ? 'error' : level === 'warning' ? 'warning' : 'info'), h('span', { class: 'text' }, text), dismiss);
  dismiss.addEventListener('click', () => banner.remove());
  region.replaceChildren(banner);
}

function showMessage(text: string | undefined, kind: 'info' | 'warning' = 'info'): void {
  message.hidden = text === undefined;
  viewport.hidden = text !== undefined;
  if (text !== undefined) {
    messageText.textContent = text;
    messageIcon.setAttribute('name', kind === 'warning' ? 'warning' : 'info');
    message.className = `message ${kind}`;
  }
}

// ---------------------------------------------------------------- the grid

function describe(t: GalleryTile): string {
  const parts = [t.image];
  parts.push(t.labels.length ? `labelled ${t.labels.join(' and ')}` : 'unlabelled');
  if (t.predicted) parts.push(`predicted ${t.predicted}${t.confidence !== undefined ? ` at ${percent(t.confidence)}` : ''}`);
  if (t.disagrees) parts.push('the model disagrees');
  if (t.suspect) parts.push(`suspicious: the audit suggests ${t.suspect.suggested}`);
  if (t.duplicate) parts.push(`${t.duplicate.identical ? 'identical to' : 'near-duplicate of'} ${t.duplicate.other}`);
  if (t.error) parts.push(`no thumbnail: ${t.error}`);
  return parts.join(', ');
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function lastName(p: string): string {
  const i = p.lastIndexOf(' > ');
  return i < 0 ? p : p.slice(i + 3);
}

function makeTile(index: number): HTMLElement {
  const el = h('div', { class: 'tile', role: 'option', id: `tile-${index}`, 'aria-selected': 'false' });
  el.dataset.index = String(index);
  fillTile(el, index);
  return el;
}

function fillTile(el: HTMLElement, index: number): void {
  const t = tiles.get(index);
  el.setAttribute('aria-posinset', String(index + 1));
  el.setAttribute('aria-setsize', String(total));
  el.classList.toggle('selected', selection.has(index));
  el.classList.toggle('active', index === active);
  el.setAttribute('aria-selected', String(selection.has(index)));
  const signature = t ? `${t.image}|${t.thumb ? 'T' : t.error ? 'E' : 'P'}|${t.labels.join(',')}` : 'loading';
  if (el.dataset.signature === signature) return;
  el.dataset.signature = signature;
  if (!t) {
    el.setAttribute('aria-label', `Image ${index + 1}, loading`);
    el.replaceChildren(h('div', { class: 'thumb loading' }), h('div', { class: 'caption' }, h('span', { class: 'name' }, '…')));
    return;
  }
  el.setAttribute('aria-label', describe(t));
  el.title = describe(t);
  let thumb: HTMLElement;
  if (t.thumb) {
    const img = h('img', { alt: '', decoding: 'async', draggable: 'false' });
    img.src = t.thumb;
    thumb = h('div', { class: 'thumb' }, img);
  } else if (t.error) {
    thumb = h('div', { class: 'thumb broken' }, glyph('file-media'), h('span', { class: 'reason' }, t.error));
  } else thumb = h('div', { class: 'thumb loading' });
  const flags = h('div', { class: 'flags' });
  if (t.suspect) flags.append(h('span', { class: 'flag suspect', title: `Suspicious: the audit suggests ${t.suspect.suggested}` }, glyph('warning')));
  if (t.disagrees) flags.append(h('span', { class: 'flag disagree', title: `The model predicts ${t.predicted}` }, glyph('git-compare')));
  if (t.duplicate) flags.append(h('span', { class: 'flag duplicate', title: `${t.duplicate.identical ? 'Identical to' : 'Near-duplicate of'} ${t.duplicate.other}` }, glyph('files')));
  const check = h('span', { class: 'check', 'aria-hidden': 'true' }, glyph('check'));
  const label = t.labels.length ? t.labels.map(lastName).join(', ') : t.predicted ? `${lastName(t.predicted)}?` : 'unlabelled';
  const labelClass = t.labels.length ? 'label' : 'label predicted';
  const confidence = t.confidence !== undefined ? h('span', { class: 'confidence' }, percent(t.confidence)) : '';
  el.replaceChildren(
    thumb,
    flags,
    check,
    h('div', { class: 'caption' }, h('span', { class: 'name' }, baseName(t.image)), h('span', { class: 'meta' }, h('span', { class: labelClass }, label), confidence)),
  );
}

function relayout(): void {
  const width = viewport.clientWidth - 2 * GAP;
  layout = gridLayout(width, total, { minTile: MIN_TILE, gap: GAP, caption: CAPTION });
  spacer.style.height = `${layout.height + 2 * GAP}px`;
  app.style.setProperty('--tile', `${layout.tile}px`);
  for (const el of rendered.values()) el.remove();
  rendered.clear();
  render();
}

function position(el: HTMLElement, index: number): void {
  const row = Math.floor(index / layout.columns);
  const col = index % layout.columns;
  el.style.transform = `translate(${GAP + col * (layout.tile + GAP)}px, ${GAP + row * layout.rowHeight}px)`;
}

/** Puts the tiles on screen into the DOM (and only those), asks for the pages it lacks. */
function render(): void {
  frame = 0;
  const { start, end } = visibleRange(layout, viewport.scrollTop, viewport.clientHeight, total, 2);
  for (const [index, el] of rendered) {
    if ((index < start || index >= end) && index !== active) {
      el.remove();
      rendered.delete(index);
    }
  }
  const wanted = [start, end];
  if (total > 0 && (active < start || active >= end)) wanted.push(active, active + 1);
  for (let k = 0; k < wanted.length; k += 2) {
    for (let i = wanted[k]; i < wanted[k + 1]; i++) {
      let el = rendered.get(i);
      if (!el) {
        el = makeTile(i);
        position(el, i);
        spacer.append(el);
        rendered.set(i, el);
      } else fillTile(el, i);
    }
  }
  if (total > 0) viewport.setAttribute('aria-activedescendant', `tile-${active}`);
  else viewport.removeAttribute('aria-activedescendant');
  requestPages(start, end);
  evict(start, end);
}

function scheduleRender(): void {
  frame ||= requestAnimationFrame(render);
}

function requestPages(start: number, end: number): void {
  if (end <= start) return;
  for (let p = Math.floor(start / PAGE); p <= Math.floor((end - 1) / PAGE); p++) {
    if (requestedPages.has(p)) continue;
    requestedPages.add(p);
    post({ type: 'tiles', version, start: p * PAGE, count: Math.min(PAGE, total - p * PAGE) });
  }
}

/** Forgets tiles far from the screen (their thumbnails are the memory). */
function evict(start: number, end: number): void {
  if (tiles.size <= MAX_CACHED_TILES) return;
  const keepFrom = start - MAX_CACHED_TILES / 3;
  const keepTo = end + MAX_CACHED_TILES / 3;
  for (const index of tiles.keys()) {
    if (index < keepFrom || index > keepTo) {
      tiles.delete(index);
      requestedPages.delete(Math.floor(index / PAGE));
    }
  }
}

function refreshRendered(): void {
  for (const [index, el] of rendered) fillTile(el, index);
  if (total > 0) viewport.setAttribute('aria-activedescendant', `tile-${active}`);
  updateSelectionText();
}

function updateSelectionText(): void {
  const n = selection.size;
  selectionText.textContent = n > 0 ? `${count(n, 'image')} selected` : '';
  moveButton.disabled = total === 0;
  confirmButton.disabled = total === 0 || noPredictions !== undefined;
  confirmButton.title = noPredictions ?? "Label each selected image with the path the model predicts for it (C)";
  openButton.disabled = total === 0;
}

/** Scrolls so that position `index` is fully visible. */
function reveal(index: number): void {
  const row = Math.floor(index / layout.columns);
  const top = GAP + row * layout.rowHeight;
  const bottom = top + layout.rowHeight;
  if (top < viewport.scrollTop) viewport.scrollTop = top - GAP;
  else if (bottom > viewport.scrollTop + viewport.clientHeight) viewport.scrollTop = bottom - viewport.clientHeight;
}

function setActive(index: number, focus = true): void {
  active = Math.max(0, Math.min(total - 1, index));
  reveal(active);
  render();
  refreshRendered();
  if (focus) viewport.focus({ preventScroll: true });
  const t = tiles.get(active);
  if (t) announce(`${describe(t)}${selection.has(active) ? ', selected' : ''}. ${active + 1} of ${numberFormat.format(total)}.`);
}

// ---------------------------------------------------------------- selection

function click(index: number, event: MouseEvent): void {
  if (event.shiftKey) selection.selectRange(anchor, index);
  else if (event.ctrlKey || event.metaKey) {
    selection.toggle(index);
    anchor = index;
  } else {
    selection.clear();
    selection.add(index, index + 1);
    anchor = index;
  }
  setActive(index);
}

function selectAll(): void {
  selection.clear();
  selection.add(0, total);
  refreshRendered();
  announce(`Selected all ${count(total, 'image')}.`);
}

/** The selection, or the focused image when nothing is selected. */
function targetRanges(): Array<[number, number]> {
  if (selection.size > 0) return selection.toRanges();
  return total > 0 ? [[active, active + 1]] : [];
}

// ---------------------------------------------------------------- moving

/** The batch view's action: each selected image (or the focused one) gets the model's path. */
function confirmPredicted(): void {
  if (noPredictions !== undefined) {
    announce(noPredictions);
    return;
  }
  const ranges = targetRanges();
  if (ranges.length > 0) post({ type: 'confirm', version, ranges });
}

function openMove(): void {
  const ranges = targetRanges();
  if (ranges.length === 0) return;
  const n = ranges.reduce((s, [a, b]) => s + b - a, 0);
  moveTitle.textContent = `Move ${count(n, 'image')} to`;
  moveSummary.textContent = selection.size > 0 ? 'The selected images get the path you choose (written to the label file, undo with U).' : 'The focused image gets the path you choose (written to the label file, undo with U).';
  pathField.value = '';
  runSearch();
  moveDialog.showModal();
  pathField.focus();
}

function runSearch(): void {
  pathIndex ??= new PathIndex(paths);
  const query = pathField.value;
  // an empty query lists the paths in tree order; typing narrows them, best matches first
  results = query.trim() === '' ? pathIndex.entries.slice(0, MAX_RESULTS).map((entry) => ({ entry, score: 0 })) : pathIndex.search(query, MAX_RESULTS).matches;
  activeResult = 0;
  pathResults.replaceChildren(
    ...results.map((m, i) => {
      const li = h('li', { role: 'option', class: 'result', id: `path-${i}`, 'aria-selected': 'false' }, m.entry.path.join(' › '));
      li.dataset.index = String(i);
      return li;
    }),
  );
  if (results.length === 0) pathResults.append(h('li', { class: 'no-result' }, 'No path matches.'));
  markResult();
}

function markResult(): void {
  Array.from(pathResults.children).forEach((li, i) => {
    li.classList.toggle('active', i === activeResult);
    li.setAttribute('aria-selected', String(i === activeResult));
  });
  (pathResults.children[activeResult] as HTMLElement | undefined)?.scrollIntoView({ block: 'nearest' });
  const input = pathField.shadowRoot?.querySelector('input') as (HTMLInputElement & { ariaActiveDescendantElement?: Element | null }) | null;
  if (input && 'ariaActiveDescendantElement' in input) input.ariaActiveDescendantElement = (pathResults.children[activeResult] as Element) ?? null;
}

function chooseResult(i: number): void {
  const m = results[i];
  if (!m) return;
  const ranges = targetRanges();
  moveDialog.close();
  if (ranges.length === 0) return;
  post({ type: 'move', version, ranges, path: [...m.entry.path] });
  app.dataset.busy = 'true';
  viewport.focus();
}

// ---------------------------------------------------------------- host messages

function onList(m: Extract<GalleryHostMessage, { type: 'list' }>): void {
  version = m.version;
  total = m.total;
  filter = m.filter;
  sort = m.sort;
  tiles.clear();
  requestedPages.clear();
  selection.clear();
  for (const el of rendered.values()) el.remove();
  rendered.clear();
  if (!m.keepPosition) {
    active = 0;
    anchor = 0;
    viewport.scrollTop = 0;
  } else active = Math.min(active, Math.max(0, total - 1));
  for (const [name, { button: b, badge }] of filterButtons) {
    const on = name === filter;
    const reason = m.notAvailable?.[name];
    b.secondary = !on;
    b.setAttribute('aria-pressed', String(on));
    badge.textContent = reason ? ' –' : ` ${numberFormat.format(m.counts[name])}`;
    b.title = reason ?? FILTERS.find((f) => f.name === name)!.title;
    b.classList.toggle('not-available', reason !== undefined);
  }
  noPredictions = m.notAvailable?.predicted;
  if (sortSelect.value !== sort) sortSelect.value = sort;
  countText.textContent = m.unavailable && total === 0 ? '' : `${count(total, 'image')}`;
  delete app.dataset.busy;
  app.dataset.version = String(version);
  app.dataset.total = String(total);
  app.dataset.filter = filter;
  if (m.unavailable && total === 0) showMessage(m.unavailable, 'warning');
  else if (total === 0) showMessage(filter === 'all' ? `No images at or under ${nodeTitle}.` : `No ${FILTERS.find((f) => f.name === filter)!.label.toLowerCase()} images at or under ${nodeTitle}.`);
  else {
    showMessage(undefined);
    if (m.unavailable) showNotice('warning', m.unavailable);
  }
  relayout();
  updateSelectionText();
  if (!m.keepPosition) announce(total === 0 ? messageText.textContent ?? '' : `${count(total, 'image')}.`);
}

function onTiles(m: Extract<GalleryHostMessage, { type: 'tiles' }>): void {
  if (m.version !== version) return;
  for (const t of m.tiles) tiles.set(t.index, t);
  for (const t of m.tiles) {
    const el = rendered.get(t.index);
    if (el) fillTile(el, t.index);
  }
  app.dataset.loaded = String(tiles.size);
}

function onThumbs(version_: number, thumbs: GalleryThumb[]): void {
  if (version_ !== version) return;
  for (const t of thumbs) {
    const tile = tiles.get(t.index);
    if (!tile) continue;
    tile.thumb = t.thumb;
    tile.error = t.error;
    const el = rendered.get(t.index);
    if (el) fillTile(el, t.index);
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  const m = event.data as GalleryHostMessage;
  if (typeof m !== 'object' || m === null || typeof m.type !== 'string') return;
  switch (m.type) {
    case 'init':
      nodeTitle = m.title;
      title.textContent = m.title;
      document.title = `Images: ${m.title}`;
      datasetBadge.textContent = m.datasetName;
      viewport.setAttribute('aria-label', `Images at or under ${m.title}`);
      paths = m.paths;
      pathIndex = undefined;
      keysTable.replaceChildren(...m.keys.map((k: KeyHelp) => h('tr', {}, h('td', {}, h('kbd', {}, k.keys)), h('td', {}, k.action))));
      break;
    case 'list':
      onList(m);
      break;
    case 'tiles':
      onTiles(m);
      break;
    case 'thumbs':
      onThumbs(m.version, m.thumbs);
      break;
    case 'moved':
      delete app.dataset.busy;
      showNotice('info', m.text);
      announce(m.text);
      break;
    case 'notice':
      delete app.dataset.busy;
      showNotice(m.level, m.text);
      announce(m.text);
      break;
  }
});

// ---------------------------------------------------------------- input

viewport.addEventListener('scroll', scheduleRender, { passive: true });
new ResizeObserver(() => relayout()).observe(viewport);

spacer.addEventListener('click', (event) => {
  const tile = (event.target as Element).closest<HTMLElement>('.tile');
  if (tile) click(Number(tile.dataset.index), event);
});
spacer.addEventListener('dblclick', (event) => {
  const tile = (event.target as Element).closest<HTMLElement>('.tile');
  if (tile) post({ type: 'open', version, index: Number(tile.dataset.index) });
});

viewport.addEventListener('keydown', (event) => {
  if (event.isComposing || total === 0) return;
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (ctrl && key.toLowerCase() === 'a') {
    event.preventDefault();
    selectAll();
    return;
  }
  const pageRows = Math.max(1, Math.floor(viewport.clientHeight / layout.rowHeight));
  const next = navigate(active, key, layout.columns, total, pageRows);
  if (next !== undefined) {
    event.preventDefault();
    if (event.shiftKey) selection.selectRange(anchor, next);
    else anchor = next;
    setActive(next);
    return;
  }
  if (ctrl || event.altKey) return;
  switch (key) {
    case ' ':
      event.preventDefault();
      announce(selection.toggle(active) ? 'Selected.' : 'Unselected.');
      anchor = active;
      refreshRendered();
      return;
    case 'Enter':
      event.preventDefault();
      post({ type: 'open', version, index: active });
      return;
    case 'Escape':
      if (selection.size > 0) {
        event.preventDefault();
        selection.clear();
        refreshRendered();
        announce('Selection cleared.');
      }
      return;
  }
});

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (moveDialog.open || helpDialog.open) {
    if (helpDialog.open && event.key === '?') {
      event.preventDefault();
      helpDialog.close();
    }
    return;
  }
  const target = event.composedPath()[0];
  if (target instanceof HTMLElement && target.matches('input, textarea')) return;
  switch (event.key.toLowerCase()) {
    case 'm':
      event.preventDefault();
      openMove();
      return;
    case 'c':
      event.preventDefault();
      confirmPredicted();
      return;
    case 'u':
      event.preventDefault();
      post({ type: 'undo' });
      return;
    case '?':
      event.preventDefault();
      helpDialog.showModal();
      return;
  }
});

pathField.addEventListener('input', () => runSearch());
pathField.addEventListener('keydown', (event) => {
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    event.preventDefault();
    activeResult = Math.max(0, Math.min(results.length - 1, activeResult + (event.key === 'ArrowDown' ? 1 : -1)));
    markResult();
  } else if (event.key === 'Enter') {
    event.preventDefault();
    chooseResult(activeResult);
  }
});
pathResults.addEventListener('mousedown', (event) => event.preventDefault());
pathResults.addEventListener('click', (event) => {
  const li = (event.target as Element).closest<HTMLElement>('li.result');
  if (li) chooseResult(Number(li.dataset.index));
});
moveCancel.addEventListener('click', () => moveDialog.close());
moveDialog.addEventListener('close', () => viewport.focus());

for (const [name, { button: b }] of filterButtons) {
  b.addEventListener('click', () => {
    if (name === filter) return;
    post({ type: 'view', filter: name, sort });
  });
}
sortSelect.addEventListener('change', () => {
  const value = sortSelect.value as GallerySortName;
  if (value !== sort) post({ type: 'view', filter, sort: value });
});
moveButton.addEventListener('click', () => openMove());
confirmButton.addEventListener('click', () => confirmPredicted());
openButton.addEventListener('click', () => total > 0 && post({ type: 'open', version, index: active }));
undoButton.addEventListener('click', () => post({ type: 'undo' }));
helpButton.addEventListener('click', () => helpDialog.showModal());
closeHelp.addEventListener('click', () => helpDialog.close());

showMessage('Loading the images…');
updateSelectionText();
post({ type: 'ready' });
