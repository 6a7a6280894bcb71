// Checks the gallery webview in Chromium against a fake host (not shipped), with 100,000 images:
//   node esbuild.mjs && node test/webview/gallery.check.mjs
// Asserts that only the rows on screen are in the DOM (at the top, in the middle, at the end),
// times scrolling frames, drives the keyboard selection (arrows, Space, Shift+arrows, Ctrl+A,
// Escape) and the path picker and checks the `move` message the host gets, checks that a corrupt
// image gets a tile with its reason, that hostile names render as text, that an unavailable
// filter says why; saves light/dark/high-contrast screenshots under test-results/. Prints a JSON
// summary; exits non-zero on the first failure.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS = path.join(ROOT, 'test-results');
fs.mkdirSync(RESULTS, { recursive: true });
assert.ok(fs.existsSync(path.join(ROOT, 'dist/webview/gallery.js')), 'build first: node esbuild.mjs');
const TOTAL = 100_000;
const HOSTILE = '<img src=x onerror="window.__pwned = 1">.jpg';

// the theme variables VS Code gives a webview, as the labelling harness has them
const harness = fs.readFileSync(path.join(ROOT, 'test/webview/labeling-harness.html'), 'utf8');
const themeStyle = harness.slice(harness.indexOf('<style nonce="${nonce}">'), harness.indexOf('</style>') + '</style>'.length);
const thumbs = await Promise.all(
  ['#c0392b', '#27ae60', '#2980b9', '#f39c12'].map(async (colour) => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="72"><rect width="96" height="72" fill="${colour}"/><circle cx="48" cy="36" r="20" fill="white" opacity="0.5"/></svg>`;
    return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  }),
);

/** The fake host: answers like src/host/gallery.ts with a list of TOTAL images, records what the webview posts. */
const fakeHost = `
(() => {
  const TOTAL = ${TOTAL};
  const thumbs = ${JSON.stringify(thumbs)};
  const paths = [['animal'], ['animal', 'fish'], ['animal', 'fish', 'goldfish'], ['animal', 'cat'], ['food'], ['food', 'pizza']];
  const posted = (window.__posted = []);
  let version = 0;
  let filter = 'all';
  const send = (data) => setTimeout(() => window.dispatchEvent(new MessageEvent('message', { data })), 0);
  const image = (i) => (i === 7 ? ${JSON.stringify(HOSTILE)} : 'photos/img_' + String(i).padStart(6, '0') + '.jpg');
  const tile = (i) => {
    const t = { index: i, image: image(i), labels: i % 3 === 0 ? [] : ['animal > fish > goldfish'], predicted: 'animal > cat', confidence: (i % 100) / 100 };
    if (i % 50 === 5) t.error = image(i) + ' cannot be decoded (corrupt or truncated image: VipsJpeg: premature end of input file)';
    else t.thumb = thumbs[i % thumbs.length];
    if (i % 11 === 0) t.suspect = { suggested: 'animal > cat', score: 0.9 };
    return t;
  };
  const list = () => {
    version++;
    const total = filter === 'suspicious' ? 0 : TOTAL;
    const counts = { all: TOTAL, labelled: 66667, predicted: 33333, disagreeing: 5000, suspicious: 0, duplicates: 0 };
    const notAvailable = { suspicious: 'No audit findings for this dataset yet. Run Taxon: Audit Labels first.', duplicates: 'No audit findings for this dataset yet. Run Taxon: Audit Labels first.' };
    send({ type: 'list', version, total, filter, sort: 'file', counts, notAvailable, unavailable: filter === 'suspicious' ? notAvailable.suspicious : undefined });
  };
  window.acquireVsCodeApi = () => ({
    getState: () => undefined,
    setState: () => {},
    postMessage(m) {
      posted.push(m);
      if (m.type === 'ready') {
        send({ type: 'init', datasetName: 'big (train.json)', title: 'animal', paths, keys: [{ keys: 'M', action: 'move' }] });
        list();
      } else if (m.type === 'view') {
        filter = m.filter;
        list();
      } else if (m.type === 'tiles' && m.version === version) {
        const tiles = [];
        for (let i = m.start; i < Math.min(TOTAL, m.start + m.count); i++) tiles.push(tile(i));
        send({ type: 'tiles', version, start: m.start, tiles });
      } else if (m.type === 'move') {
        send({ type: 'moved', count: m.ranges.reduce((s, r) => s + r[1] - r[0], 0), path: m.path, undo: false, text: 'Moved.' });
      }
    },
  });
})();
`;

function page(theme, origin) {
  const nonce = crypto.randomBytes(16).toString('base64');
  return `<!DOCTYPE html><html lang="en" data-theme="${theme}"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src ${origin} 'nonce-${nonce}'; script-src 'nonce-${nonce}'; font-src ${origin};">
<link rel="stylesheet" href="${origin}/media/gallery.css" nonce="${nonce}">
<link rel="stylesheet" href="${origin}/node_modules/@vscode/codicons/dist/codicon.css" id="vscode-codicon-stylesheet" nonce="${nonce}">
${themeStyle.replaceAll('${nonce}', nonce)}
</head><body class="${theme === 'light' ? 'vscode-light' : theme === 'hc' ? 'vscode-high-contrast' : 'vscode-dark'}"><div id="app" aria-label="Taxon image gallery"></div>
<script nonce="${nonce}">${fakeHost}</script>
<script nonce="${nonce}" src="${origin}/dist/webview/gallery.js"></script></body></html>`;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const origin = `http://${req.headers.host}`;
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(url.searchParams.get('theme') ?? 'dark', origin));
    return;
  }
  const file = path.resolve(ROOT, '.' + decodeURIComponent(url.pathname));
  if (!file.startsWith(ROOT + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return void res.writeHead(404).end();
  const types = { '.js': 'text/javascript', '.css': 'text/css', '.ttf': 'font/ttf' };
  res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const summary = {};
try {
  const tab = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  tab.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await tab.goto(`${origin}/?theme=dark`);
  await tab.locator(`#app[data-total="${TOTAL}"]`).waitFor({ timeout: 15000 });
  await tab.locator('.tile img').first().waitFor({ timeout: 15000 });
  const inDom = () => tab.locator('.tile').count();
  const geometry = () =>
    tab.evaluate(() => {
      const v = document.querySelector('.viewport');
      // the focused tile stays in the DOM wherever it is (aria-activedescendant points at it)
      const tiles = [...document.querySelectorAll('.tile:not(.active)')].map((t) => Number(t.dataset.index));
      return { scrollHeight: v.scrollHeight, clientHeight: v.clientHeight, min: Math.min(...tiles), max: Math.max(...tiles), count: tiles.length };
    });

  // only the rows on screen (and two above and below) are in the DOM
  const top = await geometry();
  assert.ok(top.count > 0 && top.count <= 120, `at the top: ${top.count} tiles in the DOM for ${TOTAL} images`);
  assert.ok(top.scrollHeight > 1_000_000, `the grid is as tall as ${TOTAL} images (${top.scrollHeight}px)`);
  await tab.evaluate(() => {
    const v = document.querySelector('.viewport');
    v.scrollTop = v.scrollHeight / 2;
  });
  await tab.waitForFunction(() => [...document.querySelectorAll('.tile')].some((t) => Number(t.dataset.index) > 40000 && t.querySelector('img')), null, { timeout: 10000 });
  const middle = await geometry();
  assert.ok(middle.count <= 120 && middle.min > 45000 && middle.max < 55000, `in the middle: ${JSON.stringify(middle)}`);
  summary.tilesInDom = { top: top.count, middle: middle.count };

  // scrolling: 120 frames of `step` pixels each (100: a wheel; 400: a fling), time between frames
  const scrollFrames = (px) => tab.evaluate(
    (px) =>
      new Promise((resolve) => {
        const v = document.querySelector('.viewport');
        const times = [];
        let last = performance.now();
        let n = 0;
        const step = () => {
          const now = performance.now();
          times.push(now - last);
          last = now;
          v.scrollTop += px;
          if (++n < 120) requestAnimationFrame(step);
          else resolve(times.slice(1));
        };
        requestAnimationFrame(step);
      }),
    px,
  );
  const stats = (frames) => {
    const sorted = [...frames].sort((a, b) => a - b);
    const r = (x) => Math.round(x * 10) / 10;
    return { p50: r(sorted[sorted.length >> 1]), p95: r(sorted[Math.floor(sorted.length * 0.95)]), max: r(sorted.at(-1)) };
  };
  summary.scrollFrameMs = { wheel100px: stats(await scrollFrames(100)), fling400px: stats(await scrollFrames(400)) };
  assert.ok(summary.scrollFrameMs.wheel100px.p95 < 100 && summary.scrollFrameMs.fling400px.p95 < 100, `scroll frames: ${JSON.stringify(summary.scrollFrameMs)}`);
  assert.ok((await inDom()) <= 120, 'after scrolling, still only the visible rows');

  // corrupt image: a tile with its reason; hostile names: text only
  await tab.evaluate(() => (document.querySelector('.viewport').scrollTop = 0));
  const broken = tab.locator('#tile-5 .thumb.broken .reason');
  await broken.waitFor({ timeout: 10000 });
  assert.match(await broken.textContent(), /img_000005\.jpg cannot be decoded \(corrupt or truncated image/);
  assert.match(await tab.locator('#tile-7 .name').textContent(), /^<img src=x onerror=/);
  assert.equal(await tab.evaluate(() => window.__pwned), undefined);
  assert.equal(await tab.locator('#tile-7 .name img').count(), 0);

  // keyboard: focus, arrows, Space, Shift+arrows, Ctrl+A, Escape
  const columns = await tab.evaluate(() => {
    const xs = new Set([...document.querySelectorAll('.tile')].map((t) => t.style.transform.split(',')[0]));
    return xs.size;
  });
  await tab.locator('.viewport').focus();
  await tab.keyboard.press('ArrowRight');
  await tab.keyboard.press('ArrowRight');
  assert.equal(await tab.locator('.viewport').getAttribute('aria-activedescendant'), 'tile-2');
  await tab.keyboard.press('Space');
  assert.equal(await tab.locator('#tile-2').getAttribute('aria-selected'), 'true');
  await tab.keyboard.press('Shift+ArrowDown');
  assert.equal(await tab.locator('.viewport').getAttribute('aria-activedescendant'), `tile-${2 + columns}`);
  const selectedIds = await tab.locator('.tile[aria-selected="true"]').evaluateAll((ts) => ts.map((t) => Number(t.dataset.index)).sort((a, b) => a - b));
  assert.deepEqual(selectedIds, Array.from({ length: columns + 1 }, (_, i) => 2 + i), 'Shift+ArrowDown selects the range to the tile below');
  assert.equal((await tab.locator('.selection-text').textContent()).trim(), `${columns + 1} images selected`);
  await tab.keyboard.press('Control+a');
  assert.equal((await tab.locator('.selection-text').textContent()).trim(), '100,000 images selected');
  await tab.screenshot({ path: path.join(RESULTS, 'gallery-harness-dark.png') });

  // m opens the path picker; typing narrows it; Enter posts the move with the selection as ranges
  await tab.keyboard.press('m');
  await tab.locator('dialog.move[open]').waitFor();
  assert.equal((await tab.locator('#move-title').textContent()).trim(), 'Move 100,000 images to');
  await tab.keyboard.type('pizza');
  await tab.locator('li.result.active', { hasText: 'pizza' }).waitFor();
  await tab.keyboard.press('Enter');
  await tab.locator('.notice', { hasText: 'Moved.' }).waitFor();
  const move = await tab.evaluate(() => window.__posted.filter((m) => m.type === 'move'));
  assert.deepEqual(move, [{ type: 'move', version: 1, ranges: [[0, TOTAL]], path: ['food', 'pizza'] }].map((m) => ({ ...m, ranges: [[0, 100000]] })));
  await tab.locator('.viewport').focus();
  await tab.keyboard.press('Escape');
  assert.equal((await tab.locator('.selection-text').textContent()).trim(), '', 'Escape clears the selection');
  // Ctrl+click adds one, Shift+click extends from it
  await tab.locator('#tile-1').click({ modifiers: ['Control'] });
  await tab.locator('#tile-4').click({ modifiers: ['Shift'] });
  assert.equal((await tab.locator('.selection-text').textContent()).trim(), '4 images selected');

  // an unavailable filter says what to run
  assert.equal((await tab.locator('vscode-button[data-filter="suspicious"] .filter-count').textContent()).trim(), '–');
  await tab.locator('vscode-button[data-filter="suspicious"]').click();
  await tab.locator('.message:not([hidden])', { hasText: 'Run Taxon: Audit Labels first' }).waitFor();
  assert.equal(await inDom(), 0, 'an empty list leaves no tile in the DOM');
  summary.messages = (await tab.evaluate(() => window.__posted.map((m) => m.type))).reduce((a, t) => ({ ...a, [t]: (a[t] ?? 0) + 1 }), {});
  assert.deepEqual(errors, [], 'no page errors or CSP violations');

  for (const theme of ['light', 'dark', 'hc']) {
    await tab.goto(`${origin}/?theme=${theme}`);
    await tab.locator('.tile img').nth(10).waitFor({ timeout: 15000 });
    await tab.locator('#tile-3').click();
    await tab.locator('#tile-5').click({ modifiers: ['Shift'] });
    await tab.screenshot({ path: path.join(RESULTS, `gallery-harness-${theme}.png`) });
  }
  summary.screenshots = ['light', 'dark', 'hc'].map((t) => `test-results/gallery-harness-${t}.png`);
  console.log(JSON.stringify(summary, null, 2));
  console.log('gallery webview check: ok');
} finally {
  await browser.close();
  server.close();
}
