/**
 * The labelling panel's webview: shows one queued image with its prediction and lets the curator
 * label it from the keyboard. It only renders and reports; every decision is the host's.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import type { AlternativeView, HostMessage, KeyHelp, QueueItemView, RetrainedNodeView, WebviewMessage } from '../src/protocol';
import { PathIndex, type PathMatch } from './labeling/pathSearch';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: PanelState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** What survives the panel being hidden and shown again. */
interface PanelState {
  search: string;
}

const MAX_ALTERNATIVES = 9;
const MAX_RESULTS = 50;
/** Re-enable actions if the host never answers one (it should always answer with show/empty/notice). */
const HOST_ANSWER_TIMEOUT_MS = 3000;

const DEFAULT_KEYS: KeyHelp[] = [
  { keys: '1 … 9', action: 'Label with that alternative' },
  { keys: 'Enter', action: 'Accept the prediction' },
  { keys: 'Shift+Enter', action: 'Accept the prediction down to its confident depth only' },
  { keys: '/', action: 'Search every path (internal nodes give a partial label)' },
  { keys: '↑ ↓ Enter', action: 'In search: move through the results, choose one' },
  { keys: 'Escape', action: 'Leave the search field; close this help' },
  { keys: 'S', action: 'Skip this image' },
  { keys: 'U', action: 'Undo the last label' },
  { keys: '← →', action: 'Previous / next image' },
  { keys: 'R', action: 'Retrain the affected nodes' },
  { keys: '?', action: 'Show or hide these keys' },
];

const vscode = acquireVsCodeApi();

// ---------------------------------------------------------------- DOM

type Attrs = Record<string, string>;

/** Creates an element; text always goes in as textContent (label names are untrusted). */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function button(label: string, icon: string, keys: string, shortcut: string, secondary = true): VscodeButton {
  const b = document.createElement('vscode-button');
  b.icon = icon;
  b.secondary = secondary;
  b.setAttribute('aria-keyshortcuts', shortcut);
  b.title = `${label} (${keys})`;
  b.append(label, h('kbd', { 'aria-hidden': 'true' }, keys));
  return b;
}

const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
app.tabIndex = -1;

const datasetName = h('h1', { class: 'dataset' }, 'Taxon');
const strategyBadge = document.createElement('vscode-badge');
strategyBadge.title = 'Queue strategy';
const position = h('span', { class: 'position', 'aria-label': 'Position in the queue' });
const score = h('span', { class: 'score' });
const labelledCount = h('span', { class: 'count' });
const helpButton = document.createElement('vscode-button');
helpButton.icon = 'keyboard';
helpButton.iconOnly = true;
helpButton.secondary = true;
helpButton.title = 'Keyboard shortcuts (?)';
helpButton.setAttribute('aria-label', 'Keyboard shortcuts');
helpButton.setAttribute('aria-keyshortcuts', '?');
const header = h(
  'header',
  { class: 'bar' },
  h('div', { class: 'title' }, datasetName, strategyBadge),
  h('div', { class: 'facts' }, position, score, labelledCount, helpButton),
);

const statusNotice = h('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });
const alertNotice = h('div', { class: 'notices', role: 'alert' });

const image = h('img', { class: 'image', alt: '', decoding: 'async' });
const imageCaption = h('figcaption', { class: 'image-path' });
const currentLabel = h('p', { class: 'current', hidden: '' });
const emptyMessage = h('p', { class: 'empty-message', hidden: '' });
const viewer = h('figure', { class: 'viewer', 'aria-label': 'Image to label' }, image, imageCaption, emptyMessage);

const predictedList = h('ol', { class: 'crumbs' });
const confidenceNote = h('p', { class: 'note' });
const prediction = h(
  'section',
  { class: 'card prediction', 'aria-labelledby': 'prediction-title' },
  h('h2', { id: 'prediction-title' }, 'Prediction'),
  h('nav', { 'aria-label': 'Predicted path' }, predictedList),
  confidenceNote,
  currentLabel,
);

const alternativesList = h('ol', { class: 'alternatives', 'aria-label': 'Alternative paths; press the number to label' });
const stopAt = h('div', { class: 'stop-at', role: 'group', 'aria-label': 'Stop at an internal node' });
const alternatives = h(
  'section',
  { class: 'card', 'aria-labelledby': 'alternatives-title' },
  h('h2', { id: 'alternatives-title' }, 'Alternatives'),
  alternativesList,
  stopAt,
);

const searchField = document.createElement('vscode-textfield') as VscodeTextfield;
searchField.type = 'search';
searchField.placeholder = 'Search every path  ( / )';
searchField.label = 'Search every path';
searchField.setAttribute('aria-keyshortcuts', '/');
const searchIcon = document.createElement('vscode-icon');
searchIcon.name = 'search';
searchIcon.slot = 'content-before';
searchField.append(searchIcon);
const resultsSummary = h('p', { class: 'note results-summary', 'aria-live': 'polite' });
const resultsList = h('ul', { class: 'results', role: 'listbox', id: 'path-results', 'aria-label': 'Matching paths' });
const picker = h(
  'section',
  { class: 'card picker', 'aria-labelledby': 'picker-title' },
  h('h2', { id: 'picker-title' }, 'Any path'),
  searchField,
  resultsSummary,
  resultsList,
);

const retrainedList = h('ul', { class: 'retrained' });
const retrainedTitle = h('h2', { id: 'retrained-title' }, 'Retrained');
const retrained = h('section', { class: 'card', 'aria-labelledby': 'retrained-title', hidden: '' }, retrainedTitle, retrainedList);

const side = h('aside', { class: 'side' }, prediction, alternatives, retrained, picker);
const main = h('main', { class: 'layout' }, viewer, side);

const acceptButton = button('Accept', 'check', 'Enter', 'Enter', false);
const acceptConfidentButton = button('Accept confident', 'check-all', '⇧Enter', 'Shift+Enter');
const skipButton = button('Skip', 'debug-step-over', 'S', 's');
const undoButton = button('Undo', 'discard', 'U', 'u');
const previousButton = button('Previous', 'arrow-left', '←', 'ArrowLeft');
const nextButton = button('Next', 'arrow-right', '→', 'ArrowRight');
const retrainButton = button('Retrain', 'sync', 'R', 'r');
const actions = h(
  'footer',
  { class: 'actions', role: 'toolbar', 'aria-label': 'Actions' },
  acceptButton,
  acceptConfidentButton,
  skipButton,
  undoButton,
  h('span', { class: 'spacer' }),
  previousButton,
  nextButton,
  retrainButton,
);

const liveRegion = h('div', { class: 'visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true', id: 'announcer' });

const keysTable = h('tbody');
const closeHelpButton = document.createElement('vscode-button');
closeHelpButton.append('Close');
closeHelpButton.secondary = true;
const helpDialog = h(
  'dialog',
  { class: 'help', 'aria-labelledby': 'help-title' },
  h('h2', { id: 'help-title' }, 'Keyboard'),
  h('table', {}, h('thead', { class: 'visually-hidden' }, h('tr', {}, h('th', {}, 'Keys'), h('th', {}, 'Action'))), keysTable),
  h('div', { class: 'help-actions' }, closeHelpButton),
);

app.append(header, h('div', { class: 'notice-area' }, statusNotice, alertNotice), main, actions, liveRegion, helpDialog);

// ---------------------------------------------------------------- state

/** Every path from `init`; indexed for search when the panel is idle or at the first search. */
let taxonomyPaths: readonly (readonly string[])[] = [];
let pathIndex: PathIndex | undefined;
const searchIndex = (): PathIndex => (pathIndex ??= new PathIndex(taxonomyPaths));
let item: QueueItemView | undefined;
let selectedAlternative = 0;
let results: PathMatch[] = [];
let activeResult = -1;
/** performance.now()-based time of the key press or click that asked the host for a new image. */
let requestedAt: number | undefined;
/** An action was posted for the current image; further ones wait for the host's answer. */
let awaitingHost = false;
let awaitingTimer: ReturnType<typeof setTimeout> | undefined;
let retraining = false;
/** The image whose `load` completes a `shown` measurement, and when its request started. */
let shownPending: { image: string; src: string; startedAt: number } | undefined;
/** Prefetched next images; kept referenced until they have loaded. */
const prefetched: HTMLImageElement[] = [];

// ---------------------------------------------------------------- rendering

const joined = (path: readonly string[]): string => path.join(' > ');
const numberFormat = new Intl.NumberFormat('en');
const formatCount = (n: number): string => numberFormat.format(n);
const percent = (p: number): string => `${Math.round(Math.max(0, Math.min(1, p)) * 100)}%`;

function setMeter(meter: HTMLElement, p: number, label: string): void {
  const value = Math.round(Math.max(0, Math.min(1, p)) * 100);
  meter.setAttribute('aria-valuenow', String(value));
  meter.setAttribute('aria-valuetext', `${value}%`);
  meter.setAttribute('aria-label', label);
  (meter.firstElementChild as HTMLElement).style.width = `${value}%`;
}

function meter(): HTMLElement {
  return h('div', { class: 'meter', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100' }, h('div', { class: 'fill' }));
}

/** Grows `list` to `count` children made by `make`, hides the rest: nodes are reused across images. */
function ensureChildren(list: HTMLElement, count: number, make: () => HTMLElement): HTMLElement[] {
  while (list.children.length < count) list.append(make());
  const children = Array.from(list.children) as HTMLElement[];
  children.forEach((child, i) => (child.hidden = i >= count));
  return children.slice(0, count);
}

function makeCrumb(): HTMLElement {
  return h('li', { class: 'crumb' }, h('span', { class: 'name' }), h('span', { class: 'p' }), meter());
}

function renderPrediction(shown: QueueItemView): void {
  const crumbs = ensureChildren(predictedList, shown.predicted.length, makeCrumb);
  shown.predicted.forEach((level, i) => {
    const crumb = crumbs[i];
    const confident = i < shown.confidentDepth;
    crumb.classList.toggle('uncertain', !confident);
    crumb.classList.toggle('last-confident', confident && i === shown.confidentDepth - 1 && i < shown.predicted.length - 1);
    (crumb.children[0] as HTMLElement).textContent = level.node;
    (crumb.children[1] as HTMLElement).textContent = percent(level.p);
    const prefix = shown.predicted.slice(0, i + 1).map((l) => l.node);
    setMeter(crumb.children[2] as HTMLElement, level.p, `${joined(prefix)}: ${percent(level.p)}${confident ? ', confident' : ', below the confidence threshold'}`);
  });
  const depth = shown.predicted.length;
  confidenceNote.textContent =
    shown.confidentDepth >= depth
      ? 'Confident at every level.'
      : shown.confidentDepth === 0
        ? 'Not confident at any level.'
        : `Confident down to ${shown.predicted[shown.confidentDepth - 1].node} (level ${shown.confidentDepth} of ${depth}).`;
  currentLabel.hidden = !shown.current;
  currentLabel.textContent = shown.current ? `Current label: ${joined(shown.current)}` : '';
}

function makeAlternative(): HTMLElement {
  const choose = h(
    'button',
    { type: 'button', class: 'alternative' },
    h('kbd', { 'aria-hidden': 'true' }),
    h('span', { class: 'path' }),
    h('span', { class: 'p' }),
    meter(),
  );
  choose.lastElementChild?.setAttribute('aria-hidden', 'true'); // the button's label says it
  return h('li', {}, choose);
}

function renderAlternatives(list: readonly AlternativeView[]): void {
  const shown = list.slice(0, MAX_ALTERNATIVES);
  const rows = ensureChildren(alternativesList, shown.length, makeAlternative);
  shown.forEach((alternative, i) => {
    const choose = rows[i].firstElementChild as HTMLButtonElement;
    choose.dataset.index = String(i);
    choose.tabIndex = i === selectedAlternative ? 0 : -1;
    choose.classList.toggle('selected', i === selectedAlternative);
    choose.setAttribute('aria-keyshortcuts', String(i + 1));
    choose.setAttribute('aria-label', `${i + 1}: ${joined(alternative.path)}, ${percent(alternative.p)}${i === 0 ? ', the prediction' : ''}`);
    (choose.children[0] as HTMLElement).textContent = String(i + 1);
    (choose.children[1] as HTMLElement).textContent = alternative.path.join(' › ');
    (choose.children[2] as HTMLElement).textContent = percent(alternative.p);
    setMeter(choose.children[3] as HTMLElement, alternative.p, `Probability of ${joined(alternative.path)}`);
  });
  renderStopAt();
}

/** Buttons that label the selected alternative only down to one of its ancestors. */
function renderStopAt(): void {
  const alternative = item?.alternatives[selectedAlternative];
  stopAt.replaceChildren();
  if (!alternative || alternative.path.length < 2) {
    stopAt.hidden = true;
    return;
  }
  stopAt.hidden = false;
  stopAt.append(h('span', { class: 'note' }, `Unsure? Stop ${selectedAlternative === 0 ? 'the prediction' : `alternative ${selectedAlternative + 1}`} at:`));
  for (let depth = 1; depth < alternative.path.length; depth++) {
    const prefix = alternative.path.slice(0, depth);
    const stop = h('button', { type: 'button', class: 'stop', 'aria-label': `Label as ${joined(prefix)} (partial label)` }, alternative.path[depth - 1]);
    stop.dataset.depth = String(depth);
    stopAt.append(stop);
  }
}

function selectAlternative(index: number, focus: boolean): void {
  if (!item || index < 0 || index >= Math.min(item.alternatives.length, MAX_ALTERNATIVES)) return;
  const buttons = alternativesList.querySelectorAll<HTMLButtonElement>('button.alternative');
  buttons.forEach((b, i) => {
    b.tabIndex = i === index ? 0 : -1;
    b.classList.toggle('selected', i === index);
  });
  if (selectedAlternative !== index) {
    selectedAlternative = index;
    renderStopAt();
  }
  if (focus) buttons[index]?.focus();
}

function makeResult(): HTMLElement {
  return h(
    'li',
    { role: 'option', class: 'result', 'aria-selected': 'false' },
    h('span', { class: 'leaf' }),
    h('span', { class: 'full' }),
    h('span', { class: 'kind', 'aria-hidden': 'true' }),
  );
}

/** Writes `text` into `target` with the range [from, to) wrapped in <mark>, as text nodes only. */
function setHighlighted(target: HTMLElement, text: string, range: [number, number] | undefined, offset: number): void {
  const from = range ? range[0] - offset : -1;
  const to = range ? range[1] - offset : -1;
  if (!range || from < 0 || to > text.length || from >= to) {
    target.textContent = text;
    return;
  }
  target.replaceChildren(text.slice(0, from), h('mark', {}, text.slice(from, to)), text.slice(to));
}

function runSearch(): void {
  const query = searchField.value;
  const found = query.trim() === '' ? { matches: [], total: 0 } : searchIndex().search(query, MAX_RESULTS);
  results = found.matches;
  activeResult = results.length > 0 ? 0 : -1;
  const options = ensureChildren(resultsList, results.length, makeResult);
  results.forEach((match, i) => {
    const option = options[i];
    option.id = `path-result-${i}`;
    option.dataset.index = String(i);
    const entry = match.entry;
    const leaf = entry.path[entry.path.length - 1];
    setHighlighted(option.children[0] as HTMLElement, leaf, match.highlight, entry.leafOffset);
    // The nearest ancestors say most; the full path is in the tooltip and the accessible name.
    const depth = entry.path.length;
    const parent = depth === 1 ? 'top level' : (depth > 4 ? '… › ' : '') + entry.path.slice(Math.max(0, depth - 4), -1).join(' › ');
    (option.children[1] as HTMLElement).textContent = parent;
    option.title = entry.label;
    const internal = entry.internal;
    (option.children[2] as HTMLElement).textContent = internal ? 'partial' : '';
    option.setAttribute('aria-label', `${joined(entry.path)}${internal ? ', internal node: partial label' : ''}`);
  });
  resultsList.hidden = results.length === 0;
  resultsSummary.textContent =
    query.trim() === ''
      ? `${formatCount(pathIndex?.size ?? taxonomyPaths.length)} paths. Type to search; internal nodes give a partial label.`
      : found.total === 0
        ? 'No path matches.'
        : found.total > results.length
          ? `${formatCount(found.total)} matches, best ${results.length} shown.`
          : `${formatCount(found.total)} ${found.total === 1 ? 'match' : 'matches'}.`;
  markActiveResult();
  if (resultsScrolled) {
    resultsList.scrollTop = 0;
    resultsScrolled = false;
  }
  searchInput()?.setAttribute('aria-expanded', String(results.length > 0));
}

/** Whether the results list is scrolled, known without reading scrollTop (a forced layout). */
let resultsScrolled = false;
resultsList.addEventListener('scroll', () => (resultsScrolled = resultsList.scrollTop > 0), { passive: true });

function markActiveResult(reveal = false): void {
  const options = resultsList.children;
  for (let i = 0; i < options.length; i++) {
    const active = i === activeResult;
    options[i].classList.toggle('active', active);
    options[i].setAttribute('aria-selected', String(active));
  }
  const input = searchInput() as (HTMLInputElement & { ariaActiveDescendantElement?: Element | null }) | undefined;
  const activeOption = activeResult >= 0 ? (options[activeResult] as HTMLElement) : undefined;
  // The input lives in vscode-textfield's shadow root: id references cannot reach the listbox,
  // element references (ARIA reflection) can.
  if (input && 'ariaActiveDescendantElement' in input) input.ariaActiveDescendantElement = activeOption ?? null;
  if (reveal) activeOption?.scrollIntoView({ block: 'nearest' });
}

function searchInput(): HTMLInputElement | undefined {
  return searchField.shadowRoot?.querySelector('input') ?? undefined;
}

void customElements.whenDefined('vscode-textfield').then(async () => {
  await searchField.updateComplete;
  const input = searchInput() as (HTMLInputElement & { ariaControlsElements?: Element[] | null }) | undefined;
  if (!input) return;
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  if ('ariaControlsElements' in input) input.ariaControlsElements = [resultsList];
});

function renderKeys(keys: readonly KeyHelp[]): void {
  keysTable.replaceChildren(...keys.map((k) => h('tr', {}, h('td', {}, h('kbd', {}, k.keys)), h('td', {}, k.action))));
}

function setItemControlsEnabled(enabled: boolean): void {
  for (const b of [acceptButton, acceptConfidentButton, skipButton]) b.disabled = !enabled;
  const hasAlternatives = enabled && (item?.alternatives.length ?? 0) > 0;
  alternatives.classList.toggle('disabled', !hasAlternatives);
  prediction.hidden = !enabled;
  alternatives.hidden = !enabled;
}

// ---------------------------------------------------------------- announcements

const queuedAnnouncements: string[] = [];
let announceTimer: ReturnType<typeof setTimeout> | undefined;

/** Messages from one moment (e.g. "Labelled …" then the next image) are read as one. */
function announce(text: string): void {
  queuedAnnouncements.push(text);
  announceTimer ??= setTimeout(() => {
    const message = queuedAnnouncements.join(' ');
    queuedAnnouncements.length = 0;
    announceTimer = undefined;
    // Screen readers skip an unchanged region: make a repeat differ.
    liveRegion.textContent = message === liveRegion.textContent ? `${message}\u00a0` : message;
  }, 60);
}

function showNotice(level: 'info' | 'warning' | 'error', text: string): void {
  const region = level === 'error' ? alertNotice : statusNotice;
  const icon = document.createElement('vscode-icon');
  icon.name = level === 'error' ? 'error' : level === 'warning' ? 'warning' : 'info';
  const dismiss = h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss' }, '×');
  const banner = h('div', { class: `notice ${level}` }, icon, h('span', { class: 'text' }, text), dismiss);
  dismiss.addEventListener('click', () => banner.remove());
  region.replaceChildren(banner);
}

// ---------------------------------------------------------------- actions

function post(message: WebviewMessage): void {
  vscode.postMessage(message);
}

/** Posts an action that the host answers with a new `show` (or `empty`, or a notice). */
function request(message: WebviewMessage, at: number): boolean {
  if (awaitingHost) return false;
  awaitingHost = true;
  app.dataset.busy = 'true';
  requestedAt = at;
  clearTimeout(awaitingTimer);
  awaitingTimer = setTimeout(hostAnswered, HOST_ANSWER_TIMEOUT_MS);
  post(message);
  return true;
}

function hostAnswered(): void {
  awaitingHost = false;
  delete app.dataset.busy; // the UI tests wait for this
  if (queuedAction) setTimeout(replayQueued, 0); // after the answer is on screen
  clearTimeout(awaitingTimer);
}

function accept(confidentOnly: boolean, at: number): void {
  if (!item) return;
  const sent = request(confidentOnly ? { type: 'accept', image: item.image, confidentOnly: true } : { type: 'accept', image: item.image }, at);
  // The accepted image leaves the queue and the next one takes its place: show it now (its image
  // is prefetched, its details came with the last `show`); the host's answer then confirms it.
  if (sent && upcoming && lastShow && item.predicted.length > 0) {
    const local = { ...lastShow, item: upcoming, total: Math.max(1, lastShow.total - 1), next: undefined, upcoming: undefined };
    upcoming = undefined;
    requestedAt = undefined; // timed here; the host's answer only confirms it
    optimistic = local.item.image;
    render(local, at, false);
  }
}

function label(path: readonly string[], at: number): void {
  if (!item || path.length === 0) return;
  request({ type: 'label', image: item.image, path: [...path] }, at);
}

function labelWithAlternative(index: number, at: number): void {
  const alternative = item?.alternatives[index];
  if (!alternative || index >= MAX_ALTERNATIVES) {
    if (item) announce(`There is no alternative ${index + 1}.`);
    return;
  }
  label(alternative.path, at);
}

function skip(at: number): void {
  if (!item) return;
  if (request({ type: 'skip', image: item.image }, at)) announce(`Skipped ${item.image}.`);
}

function undo(at: number): void {
  request({ type: 'undo' }, at);
}

function navigate(direction: 'next' | 'previous', at: number): void {
  request({ type: 'navigate', direction }, at);
}

function retrain(): void {
  if (retraining) return;
  retraining = true;
  retrainButton.iconSpin = true;
  retrainButton.disabled = true;
  announce('Retraining the affected nodes…');
  post({ type: 'retrain' });
}

function retrainFinished(): void {
  retraining = false;
  retrainButton.iconSpin = false;
  retrainButton.disabled = false;
}

function chooseResult(index: number, at: number): void {
  const match = results[index];
  if (match) label(match.entry.path, at);
}

function focusSearch(): void {
  searchField.focus();
  searchInput()?.select();
}

function leaveSearch(): void {
  app.focus();
}

function toggleHelp(): void {
  if (helpDialog.open) helpDialog.close();
  else helpDialog.showModal();
}

// ---------------------------------------------------------------- host messages

/** The last `show` from the host and the full next item it carried. */
let lastShow: Extract<HostMessage, { type: 'show' }> | undefined;
let upcoming: QueueItemView | undefined;
/** The image shown ahead of the host's answer, until that answer comes. */
let optimistic: string | undefined;
/** A key pressed while the host was busy (often on an image shown ahead), acted on once it has answered. */
let queuedAction: { image: string; key: string; shift: boolean; at: number } | undefined;

function onShow(message: Extract<HostMessage, { type: 'show' }>): void {
  const receivedAt = performance.now();
  hostAnswered();
  lastShow = message;
  upcoming = message.upcoming;
  const startedAt = requestedAt ?? receivedAt;
  requestedAt = undefined;
  const confirming = optimistic !== undefined && optimistic === message.item.image;
  optimistic = undefined;
  render(message, startedAt, confirming);
}

/** Acts on the key pressed while the host was busy, if its image is still the one on screen. */
function replayQueued(): void {
  const queued = queuedAction;
  queuedAction = undefined;
  if (!queued || awaitingHost) {
    queuedAction = queued;
    return;
  }
  if (item?.image === queued.image) act(queued.key, queued.shift, queued.at);
  else {
    const text = `The queue changed before your key reached ${queued.image}; nothing was done. Press it again for what is shown now.`;
    showNotice('info', text);
    announce(text);
  }
}

/**
 * Shows an item. `startedAt`: when the key press that asked for it happened (or the message
 * came); the time from then to the image loaded is reported as `shown`, once per new image.
 * `confirming`: the host's answer for what is already on screen (no new timing, no announcement).
 */
function render(message: Extract<HostMessage, { type: 'show' }>, startedAt: number, confirming: boolean): void {
  const shown = message.item;
  const isNewImage = item?.image !== shown.image;
  item = shown;
  if (isNewImage) selectedAlternative = 0;
  selectedAlternative = Math.min(selectedAlternative, Math.max(0, Math.min(shown.alternatives.length, MAX_ALTERNATIVES) - 1));

  if (isNewImage) shownPending = { image: shown.image, src: shown.src, startedAt };
  image.hidden = false;
  image.classList.remove('broken');
  image.alt = shown.image;
  const sameImage = image.getAttribute('src') === shown.src;
  const loaded = sameImage && image.complete && image.naturalWidth > 0;
  if (!loaded) image.src = shown.src; // reassigning the same src reloads it, so a failed image gets a retry
  else onImageLoad();

  imageCaption.textContent = shown.image;
  emptyMessage.hidden = true;
  position.textContent = `${formatCount(message.index)} / ${formatCount(message.total)}`;
  score.textContent = `score ${formatScore(shown.score)}`;
  score.title = 'Queue score under the current strategy (higher = more useful to label)';
  renderPrediction(shown);
  renderAlternatives(shown.alternatives);
  setItemControlsEnabled(true);

  if (message.next) {
    const next = new Image();
    next.decoding = 'async';
    next.src = message.next;
    prefetched.push(next);
    if (prefetched.length > 2) prefetched.shift();
  }
  // A focused action button would turn the next Enter into a click on it, not an accept.
  if (document.activeElement instanceof HTMLElement && actions.contains(document.activeElement)) app.focus();

  if (confirming) return; // not news for a screen reader
  const top = shown.predicted.length > 0 ? joined(shown.predicted.map((l) => l.node)) : 'nothing';
  announce(`Image ${message.index} of ${message.total}: predicted ${top}.`);
}

function onImageLoad(): void {
  const pending = shownPending;
  if (!pending || image.getAttribute('src') !== pending.src) return;
  shownPending = undefined;
  const millis = Math.max(0, performance.now() - pending.startedAt);
  post({ type: 'shown', image: pending.image, millis });
  // the recent key-press-to-image times, readable by the UI tests and the latency benchmark
  shownLog.push(Math.round(millis * 10) / 10);
  if (shownLog.length > 100) shownLog.shift();
  app.dataset.shownMs = shownLog.join(',');
}

const shownLog: number[] = [];

image.addEventListener('load', onImageLoad);
image.addEventListener('error', () => {
  if (!shownPending || image.getAttribute('src') !== shownPending.src) return;
  shownPending = undefined;
  image.classList.add('broken');
  const message = `The image ${item?.image ?? ''} could not be loaded.`;
  emptyMessage.textContent = message;
  emptyMessage.hidden = false;
  announce(message);
});

function formatScore(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

function onEmpty(message: string): void {
  hostAnswered();
  item = undefined;
  shownPending = undefined;
  image.hidden = true;
  image.removeAttribute('src');
  imageCaption.textContent = '';
  emptyMessage.textContent = message;
  emptyMessage.hidden = false;
  position.textContent = '';
  score.textContent = '';
  setItemControlsEnabled(false);
  announce(message);
}

function onLabelled(image: string, path: string[] | null, labelled: number): void {
  labelledCount.textContent = `${formatCount(labelled)} labelled`;
  announce(path ? `Labelled as ${joined(path)}.` : `Removed the label of ${image}.`);
}

function onRetrained(nodes: readonly RetrainedNodeView[], millis: number): void {
  retrainFinished();
  retrained.hidden = false;
  retrainedTitle.textContent = `Retrained ${nodes.length} ${nodes.length === 1 ? 'node' : 'nodes'} in ${Math.round(millis)} ms`;
  retrainedList.replaceChildren(
    ...nodes.map((node) => {
      const row = h('li', {}, h('span', { class: 'node' }, node.node));
      if (node.before !== undefined && node.after !== undefined) {
        const delta = node.after - node.before;
        const change = h('span', { class: `change ${delta > 0.0005 ? 'up' : delta < -0.0005 ? 'down' : 'same'}` }, `${percent(node.before)} → ${percent(node.after)}`);
        change.setAttribute('aria-label', `held-out accuracy ${percent(node.before)} before, ${percent(node.after)} after`);
        row.append(change);
      }
      return row;
    }),
  );
  announce(`Retrained ${nodes.length} ${nodes.length === 1 ? 'node' : 'nodes'}.`);
}

function onInit(message: Extract<HostMessage, { type: 'init' }>): void {
  taxonomyPaths = message.paths;
  pathIndex = undefined;
  // Indexing 30,000 paths takes a few tens of ms: not before the first image is on screen.
  setTimeout(() => searchIndex(), 200);
  datasetName.textContent = message.datasetName;
  document.title = `Label ${message.datasetName}`;
  strategyBadge.textContent = message.strategy;
  strategyBadge.hidden = message.strategy === '';
  renderKeys(message.keys.length > 0 ? message.keys : DEFAULT_KEYS);
  runSearch();
}

window.addEventListener('message', (event: MessageEvent) => {
  const message = event.data as HostMessage;
  if (typeof message !== 'object' || message === null || typeof message.type !== 'string') return;
  switch (message.type) {
    case 'init':
      onInit(message);
      break;
    case 'show':
      onShow(message);
      break;
    case 'empty':
      onEmpty(message.message);
      break;
    case 'labelled':
      onLabelled(message.image, message.path, message.count);
      break;
    case 'retrained':
      onRetrained(message.nodes, message.millis);
      break;
    case 'notice':
      // A notice may be the host's whole answer to an action ("Nothing to undo").
      hostAnswered();
      if (message.level === 'error') retrainFinished();
      if (optimistic !== undefined && lastShow) {
        // the action the image was shown ahead for did not happen: back to the one it was about
        optimistic = undefined;
        upcoming = lastShow.upcoming;
        render(lastShow, performance.now(), true);
      }
      showNotice(message.level, message.text);
      break;
  }
});

// ---------------------------------------------------------------- input

/** The event's time on performance.now()'s clock, so `shown` measures from the key press itself. */
const eventTime = (event: Event): number => (event.timeStamp > 0 ? event.timeStamp : performance.now());

function isInSearch(event: Event): boolean {
  return event.composedPath().includes(searchField);
}

/** Elements that handle Enter and Space themselves. */
function isActivatable(target: EventTarget | undefined): boolean {
  return target instanceof HTMLElement && (target.matches('button, a[href], input, textarea, select, vscode-button, [role="option"]') || target.isContentEditable);
}

function onSearchKey(event: KeyboardEvent): void {
  const at = eventTime(event);
  switch (event.key) {
    case 'ArrowDown':
    case 'ArrowUp':
    case 'PageDown':
    case 'PageUp': {
      if (results.length === 0) return;
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : event.key === 'ArrowUp' ? -1 : event.key === 'PageDown' ? 10 : -10;
      activeResult = Math.max(0, Math.min(results.length - 1, activeResult + step));
      markActiveResult(true);
      break;
    }
    case 'Enter':
      event.preventDefault();
      chooseResult(activeResult >= 0 ? activeResult : 0, at);
      break;
    case 'Escape':
      event.preventDefault();
      leaveSearch();
      break;
  }
}

/** The keys that act on the image on screen (queued while that image waits for the host). */
const ITEM_KEYS = /^(?:[1-9]|Enter|s|u|ArrowLeft|ArrowRight)$/;

/** Runs the action of a key; false when the key has none here. */
function act(key: string, shift: boolean, at: number): boolean {
  if (key >= '1' && key <= '9' && key.length === 1) {
    labelWithAlternative(Number(key) - 1, at);
    return true;
  }
  switch (key) {
    case 'Enter':
      accept(shift, at);
      return true;
    case '/':
      focusSearch();
      return true;
    case 's':
      skip(at);
      return true;
    case 'u':
      undo(at);
      return true;
    case 'ArrowLeft':
      navigate('previous', at);
      return true;
    case 'ArrowRight':
      navigate('next', at);
      return true;
    case 'r':
      retrain();
      return true;
    case '?':
      toggleHelp();
      return true;
    default:
      return false;
  }
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  if (helpDialog.open) {
    if (event.key === '?') {
      event.preventDefault();
      helpDialog.close();
    }
    return; // Escape closes the modal dialog natively
  }
  if (isInSearch(event)) {
    if (!event.ctrlKey && !event.metaKey && !event.altKey) onSearchKey(event);
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return; // VS Code's own shortcuts
  const target = event.composedPath()[0];
  const at = eventTime(event);
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if ((key === 'Enter' || key === ' ') && isActivatable(target)) return;
  if (key === 'ArrowUp' || key === 'ArrowDown') {
    if (target instanceof HTMLElement && target.matches('button.alternative')) {
      event.preventDefault();
      selectAlternative(selectedAlternative + (key === 'ArrowDown' ? 1 : -1), true);
    }
    return;
  }
  if (ITEM_KEYS.test(key) && awaitingHost && item) {
    // the host has not answered the last action yet: act on the image on screen once it has
    event.preventDefault();
    queuedAction = { image: item.image, key, shift: event.shiftKey, at };
    return;
  }
  if (!act(key, event.shiftKey, at)) return;
  event.preventDefault();
});

acceptButton.addEventListener('click', (e) => accept(false, eventTime(e)));
acceptConfidentButton.addEventListener('click', (e) => accept(true, eventTime(e)));
skipButton.addEventListener('click', (e) => skip(eventTime(e)));
undoButton.addEventListener('click', (e) => undo(eventTime(e)));
previousButton.addEventListener('click', (e) => navigate('previous', eventTime(e)));
nextButton.addEventListener('click', (e) => navigate('next', eventTime(e)));
retrainButton.addEventListener('click', () => retrain());
helpButton.addEventListener('click', () => toggleHelp());
closeHelpButton.addEventListener('click', () => helpDialog.close());

alternativesList.addEventListener('click', (event) => {
  const choose = (event.target as Element).closest<HTMLButtonElement>('button.alternative');
  if (choose) labelWithAlternative(Number(choose.dataset.index), eventTime(event));
});
alternativesList.addEventListener('focusin', (event) => {
  const choose = (event.target as Element).closest<HTMLButtonElement>('button.alternative');
  if (choose) selectAlternative(Number(choose.dataset.index), false);
});
stopAt.addEventListener('click', (event) => {
  const stop = (event.target as Element).closest<HTMLButtonElement>('button.stop');
  const alternative = item?.alternatives[selectedAlternative];
  if (stop && alternative) label(alternative.path.slice(0, Number(stop.dataset.depth)), eventTime(event));
});
resultsList.addEventListener('click', (event) => {
  const option = (event.target as Element).closest<HTMLElement>('li.result');
  if (option) chooseResult(Number(option.dataset.index), eventTime(event));
});
// Keep focus (and the caret) in the search field when a result is clicked.
resultsList.addEventListener('mousedown', (event) => event.preventDefault());

searchField.addEventListener('input', () => {
  runSearch();
  vscode.setState({ search: searchField.value });
});

// ---------------------------------------------------------------- start

const saved = vscode.getState() as Partial<PanelState> | undefined;
if (saved && typeof saved.search === 'string') searchField.value = saved.search;
setItemControlsEnabled(false);
renderKeys(DEFAULT_KEYS);
runSearch();
post({ type: 'ready' });
