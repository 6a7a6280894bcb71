/**
 * Image bytes → the square RGB crop a backbone sees, and RGB crops → its input tensor. Decoding is
 * sharp's (libvips on the libuv pool, off the calling thread); every failure is a reason string for
 * the skipped list, never an exception that stops a run.
 */
import type sharpModuleType from 'sharp';
import type { Preprocessing } from './backbone';

export const DEFAULT_PIXEL_LIMIT = 100_000_000;

export interface DecodeOptions {
  /** Side of the square crop. */
  size: number;
  /** Largest width×height accepted; larger images are refused before their pixels are decoded. */
  pixelLimit?: number;
}

export type Decoded = { pixels: Uint8Array } | { reason: string };

type Sharp = typeof sharpModuleType;
let sharpModule: Sharp | undefined;
/**
 * sharp loads on first use; its operation cache only costs memory when every image is new. One
 * libvips thread per image: the pipeline decodes one image at a time beside onnxruntime's threads,
 * and more threads per (small) image only add contention on a machine with few cores.
 */
export function sharp(): Sharp {
  if (!sharpModule) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sharpModule = require('sharp') as Sharp;
    sharpModule.cache(false);
    sharpModule.concurrency(1);
  }
  return sharpModule;
}

/**
 * Decodes one image: EXIF orientation applied, transparency flattened on white, greyscale, CMYK
 * and 16-bit converted to 8-bit sRGB, first frame of an animation, centre crop (`fit: cover`)
 * to `size`×`size`. Returns size×size×3 bytes (RGB, row-major).
 *
 * sharp shrinks images larger than the crop (lanczos3). It does not enlarge: an image whose shorter
 * side is below `size` comes back at its own size and is enlarged here by `upscaleCover` (the
 * bicubic interpolation libvips itself uses for enlarging, whatever the kernel, at under half the
 * CPU time: for 64×64 photos it was two thirds of all decoding). See media/models/PROVENANCE.md.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<Decoded> {
  if (bytes.length === 0) return { reason: 'is empty (0 bytes)' };
  const limit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  const size = options.size;
  const s = sharp();
  let data: Buffer;
  let info: { width: number; height: number; channels: number };
  try {
    ({ data, info } = await s(bytes, { limitInputPixels: limit, pages: 1, page: 0, failOn: 'error' })
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .resize(size, size, { fit: 'outside', withoutEnlargement: true, kernel: 'lanczos3' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (err) {
    return { reason: await explainDecodeFailure(bytes, err, limit) };
  }
  const { width: w, height: h } = info;
  if (info.channels !== 3 || w < 1 || h < 1 || data.length !== w * h * 3) {
    return { reason: `decoded to an unexpected shape (${w}×${h}×${info.channels})` };
  }
  const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (w === size && h === size) return { pixels: rgb };
  if (Math.min(w, h) < size) return { pixels: upscaleCover(rgb, w, h, size) };
  return { pixels: centreCrop(rgb, w, h, size) };
}

/** The centre `size`×`size` of a w×h RGB image at least that large (sharp's `fit: cover` crop). */
function centreCrop(rgb: Uint8Array, w: number, h: number, size: number): Uint8Array {
  // sharp's centre gravity: an odd surplus leaves the extra pixel on the left (top).
  const left = (w - size + 1) >> 1;
  const top = (h - size + 1) >> 1;
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) out.set(rgb.subarray(((top + y) * w + left) * 3, ((top + y) * w + left + size) * 3), y * size * 3);
  return out;
}

/** Four Catmull-Rom taps per output position along one axis (edge pixels repeated). */
function bicubicTaps(inLength: number, outLength: number, scale: number, start: number): { index: Int32Array; weight: Float32Array } {
  const index = new Int32Array(outLength * 4);
  const weight = new Float32Array(outLength * 4);
  for (let o = 0; o < outLength; o++) {
    // libvips' mapping when enlarging (vips_resize → vips_affine with its bicubic interpolator).
    const x = (o + start) / scale - 0.5;
    const x0 = Math.floor(x);
    const t = x - x0;
    weight[o * 4] = ((-0.5 * t + 1) * t - 0.5) * t;
    weight[o * 4 + 1] = (1.5 * t - 2.5) * t * t + 1;
    weight[o * 4 + 2] = ((-1.5 * t + 2) * t + 0.5) * t;
    weight[o * 4 + 3] = (0.5 * t - 0.5) * t * t;
    for (let k = 0; k < 4; k++) index[o * 4 + k] = Math.min(inLength - 1, Math.max(0, x0 - 1 + k));
  }
  return { index, weight };
}

/**
 * Enlarges a w×h RGB image whose shorter side is below `size` so that side becomes `size`, and
 * keeps the centre `size`×`size` (`fit: cover`), by separable bicubic (Catmull-Rom) interpolation.
 */
export function upscaleCover(rgb: Uint8Array, w: number, h: number, size: number): Uint8Array {
  const scale = size / Math.min(w, h);
  const tx = bicubicTaps(w, size, scale, (Math.round(w * scale) - size + 1) >> 1);
  const ty = bicubicTaps(h, size, scale, (Math.round(h * scale) - size + 1) >> 1);
  // Rows needed by the vertical pass only: the horizontal pass skips the rest of a tall image.
  const rowFirst = ty.index[0];
  const rowLast = ty.index[size * 4 - 1];
  const rows = rowLast - rowFirst + 1;
  const stride = size * 3;
  const tmp = new Float32Array(rows * stride);
  const { index: xi, weight: xw } = tx;
  for (let r = 0; r < rows; r++) {
    const src = (rowFirst + r) * w * 3;
    let q = r * stride;
    for (let o = 0; o < size * 4; o += 4, q += 3) {
      const i0 = src + xi[o] * 3;
      const i1 = src + xi[o + 1] * 3;
      const i2 = src + xi[o + 2] * 3;
      const i3 = src + xi[o + 3] * 3;
      const w0 = xw[o];
      const w1 = xw[o + 1];
      const w2 = xw[o + 2];
      const w3 = xw[o + 3];
      tmp[q] = rgb[i0] * w0 + rgb[i1] * w1 + rgb[i2] * w2 + rgb[i3] * w3;
      tmp[q + 1] = rgb[i0 + 1] * w0 + rgb[i1 + 1] * w1 + rgb[i2 + 1] * w2 + rgb[i3 + 1] * w3;
      tmp[q + 2] = rgb[i0 + 2] * w0 + rgb[i1 + 2] * w1 + rgb[i2 + 2] * w2 + rgb[i3 + 2] * w3;
    }
  }
  // Uint8ClampedArray rounds and clamps the overshoot of the cubic kernel to 0–255.
  const out = new Uint8ClampedArray(size * stride);
  const { index: yi, weight: yw } = ty;
  for (let o = 0; o < size; o++) {
    const r0 = (yi[o * 4] - rowFirst) * stride;
    const r1 = (yi[o * 4 + 1] - rowFirst) * stride;
    const r2 = (yi[o * 4 + 2] - rowFirst) * stride;
    const r3 = (yi[o * 4 + 3] - rowFirst) * stride;
    const w0 = yw[o * 4];
    const w1 = yw[o * 4 + 1];
    const w2 = yw[o * 4 + 2];
    const w3 = yw[o * 4 + 3];
    const row = o * stride;
    for (let i = 0; i < stride; i++) out[row + i] = tmp[r0 + i] * w0 + tmp[r1 + i] * w1 + tmp[r2 + i] * w2 + tmp[r3 + i] * w3;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

export async function explainDecodeFailure(bytes: Uint8Array, err: unknown, limit: number): Promise<string> {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0].trim();
  if (/pixel limit/i.test(message)) {
    let size = '';
    try {
      const meta = await sharp()(bytes, { limitInputPixels: false }).metadata();
      if (meta.width && meta.height) size = ` (${meta.width}×${meta.height} = ${formatMegapixels(meta.width * meta.height)})`;
    } catch {
      // the header was enough for sharp to refuse; the size is a nicety
    }
    return `is larger than the pixel limit of ${formatMegapixels(limit)}${size}; refused without decoding`;
  }
  if (/unsupported image format/i.test(message)) return 'is not an image Taxon can decode (unknown or unsupported format)';
  return `cannot be decoded (corrupt or truncated image: ${message})`;
}

function formatMegapixels(pixels: number): string {
  return `${Math.round((pixels / 1e6) * 10) / 10} megapixels`;
}

/**
 * RGB crops (`count`×S×S×3 bytes) → the model's float32 input, normalised per channel
 * (`pixel·scale + offset`) and laid out as the model wants (NCHW or NHWC).
 */
export function toTensor(pixels: Uint8Array, count: number, pre: Pick<Preprocessing, 'size' | 'layout' | 'scale' | 'offset'>, out?: Float32Array): Float32Array {
  const plane = pre.size * pre.size;
  const total = count * plane * 3;
  if (pixels.length < total) throw new RangeError(`expected ${total} pixel bytes, got ${pixels.length}`);
  const tensor = out ?? new Float32Array(total);
  const [s0, s1, s2] = pre.scale;
  const [o0, o1, o2] = pre.offset;
  if (pre.layout === 'NHWC') {
    for (let i = 0; i < total; i += 3) {
      tensor[i] = pixels[i] * s0 + o0;
      tensor[i + 1] = pixels[i + 1] * s1 + o1;
      tensor[i + 2] = pixels[i + 2] * s2 + o2;
    }
    return tensor;
  }
  for (let n = 0; n < count; n++) {
    const src = n * plane * 3;
    const r = n * plane * 3;
    const g = r + plane;
    const b = g + plane;
    for (let p = 0, q = src; p < plane; p++, q += 3) {
      tensor[r + p] = pixels[q] * s0 + o0;
      tensor[g + p] = pixels[q + 1] * s1 + o1;
      tensor[b + p] = pixels[q + 2] * s2 + o2;
    }
  }
  return tensor;
}
