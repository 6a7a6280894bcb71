/** Deterministic hold-out splits: an image's side depends only on its path (and a salt), never on order or chance. */

/** FNV-1a (32-bit) of the UTF-8 bytes of `salt + image`, as a fraction in [0, 1). */
export function splitFraction(image: string, salt = ''): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(salt + image, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // FNV's low bits mix poorly for short keys: one murmur-style finaliser round spreads them.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/** True when the image falls in the held-out `fraction`. */
export function isHeldOut(image: string, fraction: number, salt = ''): boolean {
  return splitFraction(image, salt) < fraction;
}
