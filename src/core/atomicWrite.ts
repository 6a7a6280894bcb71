/** The one atomic-write helper: temporary file in the same folder, fsync, rename. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatasetError } from './diagnostics';

export interface AtomicWriteOptions {
  /** Refuse to write when the file's mtime is no longer this (changed on disk since it was read). */
  expectedMtimeMs?: number;
}

export function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  if (options.expectedMtimeMs !== undefined) {
    let current: number | undefined;
    try {
      current = fs.statSync(file).mtimeMs;
    } catch {
      current = undefined;
    }
    if (current !== undefined && current !== options.expectedMtimeMs) {
      throw new DatasetError(file, 'changed on disk since it was read; re-read it before writing');
    }
  }
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let mode: number | undefined;
  try {
    mode = fs.statSync(file).mode & 0o7777; // the replacement keeps the original's permissions
  } catch {
    mode = undefined;
  }
  const fd = fs.openSync(tmp, 'w', mode ?? 0o666);
  try {
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch {
    // directory fsync is not supported everywhere; the rename is still atomic
  }
}
