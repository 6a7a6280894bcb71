/** Byte-identical files: only files of equal size are read and hashed. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

/** Groups (of two or more indexes into `files`) whose bytes are identical; unreadable files are left out. */
export function identicalFileGroups(files: readonly string[]): number[][] {
  const bySize = new Map<number, number[]>();
  files.forEach((file, i) => {
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return;
    }
    const group = bySize.get(size);
    if (group) group.push(i);
    else bySize.set(size, [i]);
  });
  const out: number[][] = [];
  for (const group of bySize.values()) {
    if (group.length < 2) continue;
    const byHash = new Map<string, number[]>();
    for (const i of group) {
      let hash: string;
      try {
        hash = crypto.createHash('sha256').update(fs.readFileSync(files[i])).digest('hex');
      } catch {
        continue;
      }
      const same = byHash.get(hash);
      if (same) same.push(i);
      else byHash.set(hash, [i]);
    }
    for (const same of byHash.values()) if (same.length > 1) out.push(same);
  }
  return out;
}
