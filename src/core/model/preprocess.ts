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
/** sharp loads on first use; its operation cache only costs memory when every image is new. */
function sharp(): Sharp {
  if (!sharpModule) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sharpModule = require('sharp') as Sharp;
    sharpModule.cache(false);
  }
  return sharpModule;
}

/**
 * Decodes one image: EXIF orientation applied, transparency flattened on white, greyscale, CMYK
 * and 16-bit converted to 8-bit sRGB, first frame of an animation, centre crop (`fit: cover`)
 * to `size`×`size`. Returns size×size×3 bytes (RGB, row-major).
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<Decoded> {
  if (bytes.length === 0) return { reason: 'is empty (0 bytes)' };
  const limit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  const s = sharp();
  try {
    const { data, info } = await s(bytes, { limitInputPixels: limit, pages: 1, page: 0, failOn: 'error' })
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .resize(options.size, options.size, { fit: 'cover' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== options.size || info.height !== options.size || data.length !== options.size * options.size * 3) {
      return { reason: `decoded to an unexpected shape (${info.width}×${info.height}×${info.channels})` };
    }
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (err) {
    return { reason: await explainDecodeFailure(bytes, err, limit) };
  }
}

async function explainDecodeFailure(bytes: Uint8Array, err: unknown, limit: number): Promise<string> {
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
