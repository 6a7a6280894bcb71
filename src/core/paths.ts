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
 * symbolic links so a link pointing out of the root is refused. For many paths under one root,
 * use one `RootContainment`: it resolves each folder once.
 */
export function resolveInsideRoot(root: string, relative: string, followLinks = true): Containment {
  return new RootContainment(root).resolve(relative, followLinks);
}

/**
 * Containment checks under one dataset root. Real paths of folders are remembered, so a path
 * costs one `lstat` of the file itself instead of one per path component (20,000 images: ~0.2 s
 * instead of ~2 s on a slow file system).
 */
export class RootContainment {
  private readonly folders = new Map<string, string | null>();
  private realRootCache?: string;

  constructor(readonly root: string) {}

  private get realRoot(): string {
    return (this.realRootCache ??= safeRealpath(this.root));
  }

  resolve(relative: string, followLinks = true): Containment {
    if (relative.trim() === '') return { problem: 'empty' };
    if (path.isAbsolute(relative) || path.win32.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
      return { problem: 'absolute' };
    }
    const parts = relative.split(/[\\/]+/);
    if (parts.includes('..')) return { problem: 'parent-reference' };
    const absolute = path.join(this.root, ...parts);
    if (followLinks) {
      const real = this.realPath(absolute); // undefined for a missing file: a different rule reports it
      const realRoot = this.realRoot;
      if (real !== undefined && real !== realRoot && !real.startsWith(realRoot + path.sep)) return { problem: 'symlink-outside' };
    }
    return { absolute };
  }

  private realPath(file: string): string | undefined {
    let link: boolean;
    try {
      link = fs.lstatSync(file).isSymbolicLink();
    } catch {
      return undefined;
    }
    if (link) {
      try {
        return fs.realpathSync(file);
      } catch {
        return undefined; // a dangling link or a loop: the file cannot be opened, another rule says so
      }
    }
    const folder = path.dirname(file);
    let real = this.folders.get(folder);
    if (real === undefined) {
      try {
        real = fs.realpathSync(folder);
      } catch {
        real = null;
      }
      this.folders.set(folder, real);
    }
    return real === null ? undefined : path.join(real, path.basename(file));
  }
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
