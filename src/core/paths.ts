/** The one place that decides whether an image path stays inside the dataset root. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type ContainmentProblem = 'absolute' | 'parent-reference' | 'symlink-outside' | 'empty';

export interface Containment {
  /** Absolute path when the image path stays inside the root. */
  absolute?: string;
  problem?: ContainmentProblem;
}

/**
 * Checks a dataset-relative image path without opening the file. `followLinks` also resolves
 * symbolic links (one lstat/realpath per call) so a link pointing out of the root is refused.
 */
export function resolveInsideRoot(root: string, relative: string, followLinks = true): Containment {
  if (relative.trim() === '') return { problem: 'empty' };
  if (path.isAbsolute(relative) || path.win32.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
    return { problem: 'absolute' };
  }
  const parts = relative.split(/[\\/]+/);
  if (parts.includes('..')) return { problem: 'parent-reference' };
  const absolute = path.join(root, ...parts);
  if (followLinks) {
    let real: string | undefined;
    try {
      real = fs.realpathSync(absolute);
    } catch {
      real = undefined; // missing file: a different rule reports it
    }
    if (real !== undefined) {
      const realRoot = safeRealpath(root);
      if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return { problem: 'symlink-outside' };
    }
  }
  return { absolute };
}

function safeRealpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

export function describeContainmentProblem(problem: ContainmentProblem): string {
  switch (problem) {
    case 'absolute':
      return 'is an absolute path; image paths must be relative to the dataset root';
    case 'parent-reference':
      return "uses '..' and leaves the dataset root";
    case 'symlink-outside':
      return 'is a symbolic link that points outside the dataset root';
    case 'empty':
      return 'is empty';
  }
}

export function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
