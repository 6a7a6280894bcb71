/**
 * The virtualised grid's geometry: how many columns fit, how tall a row is, and which positions
 * are on screen (plus a margin), so that only those tiles are in the DOM.
 */
export interface GridLayout {
  columns: number;
  /** Width of a tile (its square thumbnail area) in CSS pixels. */
  tile: number;
  /** Distance from one row's top to the next one's. */
  rowHeight: number;
  rows: number;
  /** Height of the whole grid. */
  height: number;
}

export function gridLayout(width: number, total: number, options: { minTile: number; gap: number; caption: number }): GridLayout {
  const { minTile, gap, caption } = options;
  const usable = Math.max(minTile, width);
  const columns = Math.max(1, Math.floor((usable + gap) / (minTile + gap)));
  const tile = Math.floor((usable - gap * (columns - 1)) / columns);
  const rowHeight = tile + caption + gap;
  const rows = Math.ceil(total / columns);
  return { columns, tile, rowHeight, rows, height: Math.max(0, rows * rowHeight - gap) };
}

/** Positions [start, end) whose rows intersect the viewport, `overscan` rows above and below included. */
export function visibleRange(layout: GridLayout, scrollTop: number, viewportHeight: number, total: number, overscan = 1): { start: number; end: number } {
  if (total === 0 || layout.rows === 0) return { start: 0, end: 0 };
  const firstRow = Math.max(0, Math.floor(scrollTop / layout.rowHeight) - overscan);
  const lastRow = Math.min(layout.rows - 1, Math.floor((scrollTop + Math.max(0, viewportHeight)) / layout.rowHeight) + overscan);
  return { start: firstRow * layout.columns, end: Math.min(total, (lastRow + 1) * layout.columns) };
}

/** The position reached from `index` by a navigation key, or undefined when the key does not navigate. */
export function navigate(index: number, key: string, columns: number, total: number, pageRows: number): number | undefined {
  if (total === 0) return undefined;
  const clamp = (i: number) => Math.max(0, Math.min(total - 1, i));
  switch (key) {
    case 'ArrowLeft':
      return clamp(index - 1);
    case 'ArrowRight':
      return clamp(index + 1);
    case 'ArrowUp':
      return index - columns >= 0 ? index - columns : index;
    case 'ArrowDown':
      return index + columns < total ? index + columns : Math.floor(index / columns) < Math.floor((total - 1) / columns) ? total - 1 : index;
    case 'PageUp':
      return clamp(index - columns * Math.max(1, pageRows));
    case 'PageDown':
      return clamp(index + columns * Math.max(1, pageRows));
    case 'Home':
      return 0;
    case 'End':
      return total - 1;
    default:
      return undefined;
  }
}
