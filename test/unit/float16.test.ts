import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFloat16, encodeFloat16, fromFloat16Bits, toFloat16Bits } from '../../src/core/model/float16';

test('float16 encodes exactly representable values exactly, signed zeros included', () => {
  const cases: Array<[number, number]> = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite half
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
  ];
  for (const [value, bits] of cases) {
    assert.equal(toFloat16Bits(value), bits, `encode ${value}`);
    assert.equal(Object.is(fromFloat16Bits(bits), value), true, `decode 0x${bits.toString(16)}`);
  }
});

test('float16 keeps infinities and NaN, and overflows to infinity', () => {
  assert.equal(toFloat16Bits(Infinity), 0x7c00);
  assert.equal(toFloat16Bits(-Infinity), 0xfc00);
  assert.equal(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))), true);
  assert.equal(toFloat16Bits(65520), 0x7c00); // halfway past the largest finite half rounds up to infinity
  assert.equal(toFloat16Bits(65519), 0x7bff);
  assert.equal(toFloat16Bits(1e10), 0x7c00);
  assert.equal(fromFloat16Bits(0x7c00), Infinity);
  assert.equal(fromFloat16Bits(0xfc00), -Infinity);
});

test('float16 rounds to nearest, ties to even', () => {
  const ulp = 2 ** -10; // spacing just above 1
  assert.equal(toFloat16Bits(1 + ulp / 2), 0x3c00, 'tie goes to the even mantissa (down)');
  assert.equal(toFloat16Bits(1 + (3 * ulp) / 2), 0x3c02, 'tie goes to the even mantissa (up)');
  assert.equal(toFloat16Bits(1 + ulp / 2 + 2 ** -20), 0x3c01, 'just above the tie rounds up');
  assert.equal(toFloat16Bits(1 + ulp / 2 - 2 ** -20), 0x3c00, 'just below the tie rounds down');
  assert.equal(toFloat16Bits(2 - 2 ** -12), 0x4000, 'a mantissa carry bumps the exponent');
});

test('float16 subnormals round correctly, and values below half the smallest subnormal become zero', () => {
  const tiny = 2 ** -24;
  assert.equal(toFloat16Bits(tiny / 2), 0x0000, 'exact half of the smallest subnormal ties to even (zero)');
  assert.equal(toFloat16Bits(tiny * 0.51), 0x0001);
  assert.equal(toFloat16Bits(tiny * 1.5), 0x0002, 'tie between 1 and 2 goes to 2');
  assert.equal(toFloat16Bits(tiny * 2.5), 0x0002, 'tie between 2 and 3 goes to 2');
  assert.equal(toFloat16Bits(-tiny * 3), 0x8003);
  assert.equal(toFloat16Bits(1e-30), 0x0000);
  assert.equal(toFloat16Bits(-1e-30), 0x8000);
  assert.equal(toFloat16Bits(2 ** -14 - tiny / 4), 0x0400, 'rounds up from the largest subnormal into the normals');
});

test('every float16 bit pattern survives decode then encode', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const decoded = decodeFloat16(all);
  const again = encodeFloat16(decoded);
  for (let i = 0; i < 65536; i++) {
    const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
    if (isNaN) assert.equal(Number.isNaN(decoded[i]), true);
    else assert.equal(again[i], i, `0x${i.toString(16)}`);
  }
});

test('float16 rounding error stays within half a unit in the last place on random float32 values', () => {
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let k = 0; k < 20000; k++) {
    const x = Math.fround((random() - 0.5) * 2 ** (Math.floor(random() * 30) - 15));
    const back = fromFloat16Bits(toFloat16Bits(x));
    const exponent = Math.max(Math.floor(Math.log2(Math.abs(x))), -14);
    const halfUlp = 2 ** (exponent - 10) / 2;
    assert.ok(Math.abs(back - x) <= halfUlp * (1 + 1e-12), `${x} → ${back}`);
  }
});
