/**
 * The gallery's selection: list positions kept as sorted, disjoint [start, end) ranges, so that
 * selecting all of 100,000 images is one range and the host gets it back as ranges.
 */
export class RangeSelection {
  private ranges: Array<[number, number]> = [];

  get size(): number {
    let n = 0;
    for (const [a, b] of this.ranges) n += b - a;
    return n;
  }

  has(i: number): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, b] = this.ranges[mid];
      if (i < a) hi = mid - 1;
      else if (i >= b) lo = mid + 1;
      else return true;
    }
    return false;
  }

  clear(): void {
    this.ranges = [];
  }

  /** Adds [start, end), merging with the ranges it touches. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const out: Array<[number, number]> = [];
    let s = start;
    let e = end;
    let placed = false;
    for (const [a, b] of this.ranges) {
      if (b < s) out.push([a, b]);
      else if (a > e) {
        if (!placed) {
          out.push([s, e]);
          placed = true;
        }
        out.push([a, b]);
      } else {
        s = Math.min(s, a);
        e = Math.max(e, b);
      }
    }
    if (!placed) out.push([s, e]);
    this.ranges = out;
  }

  /** Removes [start, end), splitting the ranges it cuts. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    const out: Array<[number, number]> = [];
    for (const [a, b] of this.ranges) {
      if (b <= start || a >= end) out.push([a, b]);
      else {
        if (a < start) out.push([a, start]);
        if (b > end) out.push([end, b]);
      }
    }
    this.ranges = out;
  }

  toggle(i: number): boolean {
    if (this.has(i)) {
      this.remove(i, i + 1);
      return false;
    }
    this.add(i, i + 1);
    return true;
  }

  /** Only the positions between a and b (inclusive, either order). */
  selectRange(a: number, b: number): void {
    this.ranges = [[Math.min(a, b), Math.max(a, b) + 1]];
  }

  toRanges(): Array<[number, number]> {
    return this.ranges.map(([a, b]) => [a, b]);
  }
}
