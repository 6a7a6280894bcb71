import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseGalleryMessage } from '../../src/protocol';
import { gridLayout, navigate, visibleRange } from '../../webview/gallery/grid';
import { RangeSelection } from '../../webview/gallery/selection';

test('a selection keeps disjoint ranges: toggling, ranges, select all and removing merge and split them', () => {
  const s = new RangeSelection();
  s.toggle(5);
  s.toggle(7);
  s.toggle(6);
  assert.deepEqual(s.toRanges(), [[5, 8]], 'neighbours merge');
  s.toggle(6);
  assert.deepEqual(s.toRanges(), [[5, 6], [7, 8]], 'unselecting splits');
  s.add(0, 3);
  s.add(2, 6);
  assert.deepEqual(s.toRanges(), [[0, 6], [7, 8]]);
  assert.equal(s.size, 7);
  assert.ok(s.has(0) && s.has(5) && !s.has(6) && s.has(7) && !s.has(8));
  s.selectRange(40, 30);
  assert.deepEqual(s.toRanges(), [[30, 41]], 'a shift range replaces the selection, in either direction');
  s.clear();
  s.add(0, 100_000);
  assert.equal(s.size, 100_000);
  s.remove(10, 20);
  assert.deepEqual(s.toRanges(), [[0, 10], [20, 100_000]]);
  assert.equal(s.size, 99_990);
});

test('the grid fits as many columns as the width allows and lists only the rows on screen', () => {
  const layout = gridLayout(1000, 100_000, { minTile: 148, gap: 10, caption: 46 });
  assert.equal(layout.columns, 6);
  assert.equal(layout.tile, Math.floor((1000 - 50) / 6));
  assert.equal(layout.rows, Math.ceil(100_000 / 6));
  const top = visibleRange(layout, 0, 700, 100_000, 1);
  assert.equal(top.start, 0);
  assert.ok(top.end - top.start <= 6 * 6, `${top.end - top.start} tiles for a 700-pixel screen`);
  const middle = visibleRange(layout, layout.height / 2, 700, 100_000, 1);
  assert.ok(middle.start > 49_000 && middle.end < 51_000 && middle.end - middle.start <= 36);
  const end = visibleRange(layout, layout.height, 700, 100_000, 1);
  assert.equal(end.end, 100_000);
  assert.deepEqual(visibleRange(gridLayout(1000, 0, { minTile: 148, gap: 10, caption: 46 }), 0, 700, 0), { start: 0, end: 0 });
  assert.equal(gridLayout(90, 10, { minTile: 148, gap: 10, caption: 46 }).columns, 1, 'a narrow panel still shows one column');
});

test('arrow keys move by one or by a row, stay inside the list, and reach the last partial row', () => {
  const total = 23; // 5 columns: rows of 5, the last row has 3
  assert.equal(navigate(0, 'ArrowLeft', 5, total, 2), 0);
  assert.equal(navigate(4, 'ArrowRight', 5, total, 2), 5);
  assert.equal(navigate(7, 'ArrowDown', 5, total, 2), 12);
  assert.equal(navigate(19, 'ArrowDown', 5, total, 2), 22, 'from a full row to the shorter last row: its last image');
  assert.equal(navigate(21, 'ArrowDown', 5, total, 2), 21, 'on the last row down stays');
  assert.equal(navigate(3, 'ArrowUp', 5, total, 2), 3);
  assert.equal(navigate(0, 'PageDown', 5, total, 2), 10);
  assert.equal(navigate(12, 'End', 5, total, 2), 22);
  assert.equal(navigate(12, 'Home', 5, total, 2), 0);
  assert.equal(navigate(12, 'x', 5, total, 2), undefined);
  assert.equal(navigate(0, 'ArrowRight', 5, 0, 2), undefined);
});

test('the host accepts only well-formed gallery messages', () => {
  assert.deepEqual(parseGalleryMessage({ type: 'view', filter: 'suspicious', sort: 'confidence-asc' }), { type: 'view', filter: 'suspicious', sort: 'confidence-asc' });
  assert.deepEqual(parseGalleryMessage({ type: 'move', version: 3, ranges: [[0, 2], [5, 6]], path: ['animal', 'cat'], extra: 1 }), {
    type: 'move',
    version: 3,
    ranges: [[0, 2], [5, 6]],
    path: ['animal', 'cat'],
  });
  assert.deepEqual(parseGalleryMessage({ type: 'tiles', version: 1, start: 60, count: 60 }), { type: 'tiles', version: 1, start: 60, count: 60 });
  assert.deepEqual(parseGalleryMessage({ type: 'confirm', version: 2, ranges: [[0, 3]], path: ['ignored'] }), { type: 'confirm', version: 2, ranges: [[0, 3]] });
  assert.equal(parseGalleryMessage({ type: 'confirm', version: 2, ranges: [[3, 1]] }), undefined);
  assert.equal(parseGalleryMessage({ type: 'confirm', version: -1, ranges: [[0, 1]] }), undefined);
  const bad: unknown[] = [
    null,
    'ready',
    { type: 'view', filter: 'everything', sort: 'file' },
    { type: 'view', filter: 'all', sort: 'random' },
    { type: 'tiles', version: 1, start: 0, count: 0 },
    { type: 'tiles', version: 1, start: 0, count: 100_000 },
    { type: 'tiles', version: 1.5, start: 0, count: 10 },
    { type: 'move', version: 1, ranges: [], path: ['a'] },
    { type: 'move', version: 1, ranges: [[3, 3]], path: ['a'] },
    { type: 'move', version: 1, ranges: [[-1, 3]], path: ['a'] },
    { type: 'move', version: 1, ranges: [[0, 1]], path: ['a', ''] },
    { type: 'move', version: 1, ranges: [[0, 1]], path: 'a > b' },
    { type: 'open', version: 1, index: -2 },
    { type: 'delete' },
  ];
  for (const m of bad) assert.equal(parseGalleryMessage(m), undefined, JSON.stringify(m));
});
