/**
 * IEEE 754 half precision, the on-disk form of cached embeddings (half the bytes of float32; the
 * classifiers lose nothing measurable). Node 20 has no Float16Array, so the conversion is ours:
 * round to nearest, ties to even, with subnormals, infinities and NaN kept.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bit pattern nearest to `value` as a float32 (embeddings are float32; ties to even). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) {
    // Infinity stays infinity; NaN stays a (quiet) NaN.
    return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  }
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    // Subnormal half (or zero). The implicit leading 1 becomes explicit and shifts right.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and reaches infinity at the top).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}

/** The number a float16 bit pattern stands for (exact). */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function encodeFloat16(values: ArrayLike<number>, out = new Uint16Array(values.length)): Uint16Array {
  for (let i = 0; i < values.length; i++) out[i] = toFloat16Bits(values[i]);
  return out;
}

/** All 65,536 values, built once: decoding a cache of 100,000 embeddings is then a table lookup. */
let table: Float32Array | undefined;

export function decodeFloat16(bits: ArrayLike<number>, out = new Float32Array(bits.length)): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) table[i] = fromFloat16Bits(i);
  }
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}
