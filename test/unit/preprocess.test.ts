import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, crc32 } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, toTensor } from '../../src/core/model/preprocess';

const S = 16;

/** A w×h RGB image whose left half is red and right half blue, for orientation checks. */
function halves(w: number, h: number): Buffer {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      if (x < w / 2) raw[i] = 255;
      else raw[i + 2] = 255;
    }
  return raw;
}

async function decoded(bytes: Buffer, size = S): Promise<Uint8Array> {
  const d = await decodeImage(bytes, { size });
  if ('reason' in d) assert.fail(`expected pixels, got: ${d.reason}`);
  assert.equal(d.pixels.length, size * size * 3);
  return d.pixels;
}

const pixel = (p: Uint8Array, x: number, y: number, size = S) => Array.from(p.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
const near = (a: number[], b: number[], tol = 40) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

/** A PNG whose IHDR claims width×height; the pixel data is a token (the limit must refuse it from the header). */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('decoding applies the EXIF orientation before cropping', async () => {
  // Stored 32×16 with red on the left; orientation 6 means "rotate 90° clockwise to display":
  // displayed 16×32, red on top.
  const jpeg = await sharp(halves(32, 16), { raw: { width: 32, height: 16, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  const p = await decoded(jpeg);
  assert.ok(near(pixel(p, 8, 1), [255, 0, 0]), `top should be red, got ${pixel(p, 8, 1)}`);
  assert.ok(near(pixel(p, 8, 14), [0, 0, 255]), `bottom should be blue, got ${pixel(p, 8, 14)}`);
});

test('decoding takes a centre square crop (fit: cover), not a squashed whole image', async () => {
  // 48×16: left third red, the rest blue; the centre crop 16×16 is the middle third.
  const raw = Buffer.alloc(48 * 16 * 3);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 48; x++) raw[(y * 48 + x) * 3 + (x < 16 ? 0 : 2)] = 255;
  const png = await sharp(raw, { raw: { width: 48, height: 16, channels: 3 } }).png().toBuffer();
  const p = await decoded(png);
  assert.ok(near(pixel(p, 1, 8), [0, 0, 255]), `left edge of the crop is blue, got ${pixel(p, 1, 8)}`);
});

test('transparent pixels are flattened on white', async () => {
  const rgba = Buffer.alloc(S * S * 4); // black, fully transparent
  for (let i = 0; i < S * S; i++) if (i % S < S / 2) rgba.set([0, 128, 0, 255], i * 4);
  const png = await sharp(rgba, { raw: { width: S, height: S, channels: 4 } }).png().toBuffer();
  const p = await decoded(png);
  assert.deepEqual(pixel(p, 2, 8), [0, 128, 0]);
  assert.deepEqual(pixel(p, 13, 8), [255, 255, 255]);
});

test('greyscale, 16-bit and CMYK images become 8-bit sRGB with three channels', async () => {
  const grey = await sharp(Buffer.alloc(S * S, 200), { raw: { width: S, height: S, channels: 1 } }).png().toBuffer();
  assert.deepEqual(pixel(await decoded(grey), 5, 5), [200, 200, 200]);

  const sixteen = await sharp(Buffer.alloc(S * S * 3, 0).fill(255, 0, S * S * 3), { raw: { width: S, height: S, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  assert.equal((await sharp(sixteen).metadata()).depth, 'ushort', 'the fixture really is 16-bit');
  assert.deepEqual(pixel(await decoded(sixteen), 5, 5), [255, 255, 255]);

  const red = Buffer.alloc(S * S * 3);
  for (let i = 0; i < S * S; i++) red[i * 3] = 220;
  const cmyk = await sharp(red, { raw: { width: S, height: S, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer();
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk', 'the fixture really is CMYK');
  const p = pixel(await decoded(cmyk), 8, 8);
  assert.ok(p[0] > 150 && p[1] < 90 && p[2] < 90, `CMYK red stays red, got ${p}`);
});

test('an animated GIF contributes its first frame only', async () => {
  const frame = (rgb: number[]) => sharp({ create: { width: S, height: S, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
  const gif = await sharp([await frame([255, 0, 0]), await frame([0, 0, 255])], { join: { animated: true } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2, 'the fixture really has two frames');
  assert.ok(near(pixel(await decoded(gif), 8, 8), [255, 0, 0]), 'first frame (red)');
});

test('WebP, TIFF and AVIF decode', async () => {
  const base = sharp({ create: { width: S, height: S, channels: 3, background: { r: 10, g: 200, b: 30 } } });
  for (const bytes of [await base.clone().webp().toBuffer(), await base.clone().tiff().toBuffer(), await base.clone().avif({ effort: 0 }).toBuffer()]) {
    assert.ok(near(pixel(await decoded(bytes), 8, 8), [10, 200, 30]));
  }
});

test('bad image bytes become a reason, never an exception', async () => {
  const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 1, g: 2, b: 3 } }, }).jpeg().toBuffer();
  const reasons = {
    empty: await decodeImage(Buffer.alloc(0), { size: S }),
    truncated: await decodeImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), { size: S }),
    text: await decodeImage(Buffer.from('this is not a JPEG, just text named .jpg\n'), { size: S }),
    bomb: await decodeImage(pngClaiming(30000, 30000), { size: S }),
  };
  assert.deepEqual(reasons.empty, { reason: 'is empty (0 bytes)' });
  assert.match((reasons.truncated as { reason: string }).reason, /^cannot be decoded \(corrupt or truncated image/);
  assert.match((reasons.text as { reason: string }).reason, /not an image Taxon can decode/);
  assert.match((reasons.bomb as { reason: string }).reason, /larger than the pixel limit of 100 megapixels \(30000×30000 = 900 megapixels\)/);
});

test('the pixel limit is configurable', async () => {
  const png = await sharp({ create: { width: 100, height: 100, channels: 3, background: 'white' } }).png().toBuffer();
  assert.ok('pixels' in (await decodeImage(png, { size: S, pixelLimit: 10_000 })));
  assert.match((await decodeImage(png, { size: S, pixelLimit: 9_999 }) as { reason: string }).reason, /pixel limit of 0 megapixels \(100×100/);
});

test('toTensor normalises per channel and lays out NCHW or NHWC', () => {
  // Two 1×1 "images": (0, 127.5→127, 255) and (255, 0, 0).
  const pixels = Uint8Array.from([0, 127, 255, 255, 0, 0]);
  const pre = { size: 1, scale: [1 / 127.5, 1 / 127.5, 1 / 127.5] as [number, number, number], offset: [-1, -1, -1] as [number, number, number] };
  const nchw = toTensor(pixels, 2, { ...pre, layout: 'NCHW' });
  const nhwc = toTensor(pixels, 2, { ...pre, layout: 'NHWC' });
  const expected = [-1, 127 / 127.5 - 1, 1, 1, -1, -1];
  nchw.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6));
  nhwc.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6));
  // Larger images: channel planes in NCHW.
  const two = Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]); // 2×2 RGB
  const t = toTensor(two, 1, { size: 2, layout: 'NCHW', scale: [1, 1, 1], offset: [0, 0, 0] });
  assert.deepEqual(Array.from(t), [10, 40, 70, 100, 20, 50, 80, 110, 30, 60, 90, 120]);
});

/** A w×h RGB photo-like test image: smooth gradients plus sharp edges and noise. */
function texture(w: number, h: number): Buffer {
  const raw = Buffer.alloc(w * h * 3);
  let seed = 7;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const i = (y * w + x) * 3;
      raw[i] = (x * 255) / w;
      raw[i + 1] = ((x + y) % 17 < 8 ? 200 : 40) + (seed % 16);
      raw[i + 2] = (y * 255) / h;
    }
  return raw;
}

test('decodeImage: Taxon enlarges small images like sharp (lanczos3 = libvips bicubic) and shrinks large ones with sharp', async () => {
  const size = 56;
  for (const [w, h] of [[16, 16], [20, 13], [13, 31], [56, 40], [200, 90], [57, 56], [300, 300], [80, 200]]) {
    const png = await sharp(texture(w, h), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const ours = await decoded(png, size);
    const reference = await sharp(png).resize(size, size, { fit: 'cover', kernel: 'lanczos3' }).raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < reference.length; i++) diff += Math.abs(reference[i] - ours[i]);
    const mean = diff / reference.length;
    assert.ok(mean < (Math.min(w, h) < size ? 1.5 : 0.01), `${w}×${h}: mean pixel difference ${mean.toFixed(3)} from sharp's own resize`);
  }
});
