/**
 * Thumbnails for the node gallery, cached in `<cache>/thumbnails/`: one small WebP per image,
 * keyed by the image's path, size and modification time (a changed image gets a new key), and for
 * an image that cannot be decoded a `.err` file with the reason, so a corrupt image is decoded
 * once, not on every scroll. Like the rest of the cache, deleting the folder loses nothing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomicWrite';
import { DEFAULT_PIXEL_LIMIT, explainDecodeFailure, sharp } from '../model/preprocess';
import { describeContainmentProblem, RootContainment } from '../paths';

/** Longest side of a thumbnail, in pixels (tiles are shown at up to half of it on a 2× screen). */
export const THUMBNAIL_SIZE = 192;
/** Bumped when the way thumbnails are made changes, so old ones are not reused. */
const THUMBNAIL_VERSION = 1;
export const THUMBNAIL_MIME = 'image/webp';

export interface ThumbnailOptions {
  /** The dataset's cache folder (`.taxon/`); thumbnails go to its `thumbnails/` folder. */
  cacheDir: string;
  size?: number;
  /** Largest width×height decoded; larger images get a tile with the reason. */
  pixelLimit?: number;
}

/** A thumbnail's bytes, or why the image has none (the reason names the image). */
export type Thumbnail = { image: string; data: Buffer } | { image: string; error: string };

/** Where an image's thumbnail lives, or why it has none before any decoding. */
type Located = { image: string; file: string; key: string } | { image: string; error: string };

export class ThumbnailCache {
  readonly dir: string;
  private readonly size: number;
  private readonly pixelLimit: number;
  private readonly containment: RootContainment;
  private readonly madeFolders = new Set<string>();

  constructor(
    readonly root: string,
    options: ThumbnailOptions,
  ) {
    this.dir = path.join(options.cacheDir, 'thumbnails');
    this.size = options.size ?? THUMBNAIL_SIZE;
    this.pixelLimit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
    this.containment = new RootContainment(root);
  }

  /** The cached thumbnail (or cached failure) of an image; undefined when it still has to be made. */
  cached(image: string): Thumbnail | undefined {
    const at = this.locate(image);
    if ('error' in at) return at;
    return this.readCached(at);
  }

  /** The thumbnail of an image, made (and cached) when it is not cached yet. Never throws. */
  async get(image: string): Promise<Thumbnail> {
    const at = this.locate(image);
    if ('error' in at) return at;
    return this.readCached(at) ?? this.make(at);
  }

  /** Where a thumbnail of `image` goes under the cache folder (relative), for tests and tools. */
  keyOf(image: string): string | undefined {
    const at = this.locate(image);
    return 'key' in at ? at.key : undefined;
  }

  private locate(image: string): Located {
    const inside = this.containment.resolve(image, true);
    if (inside.problem || !inside.absolute) return { image, error: `${image} ${describeContainmentProblem(inside.problem ?? 'empty')}` };
    let st: fs.Stats;
    try {
      st = fs.statSync(inside.absolute);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { image, error: code === 'ENOENT' ? `${image} does not exist` : `${image} cannot be read (${code ?? String(err)})` };
    }
    if (!st.isFile()) return { image, error: `${image} is not a file` };
    const key = createHash('sha256')
      .update(`${THUMBNAIL_VERSION}\n${this.size}\n${this.pixelLimit}\n${image}\n${st.size}\n${st.mtimeMs}`)
      .digest('hex')
      .slice(0, 32);
    return { image, file: inside.absolute, key: `${key.slice(0, 2)}/${key}` };
  }

  private readCached(at: { image: string; key: string }): Thumbnail | undefined {
    const base = path.join(this.dir, ...at.key.split('/'));
    try {
      return { image: at.image, data: fs.readFileSync(`${base}.webp`) };
    } catch {
      // not made yet, or made and failed
    }
    try {
      return { image: at.image, error: `${at.image} ${fs.readFileSync(`${base}.err`, 'utf8')}` };
    } catch {
      return undefined;
    }
  }

  private async make(at: { image: string; file: string; key: string }): Promise<Thumbnail> {
    let bytes: Buffer;
    try {
      bytes = await fs.promises.readFile(at.file);
    } catch (err) {
      return { image: at.image, error: `${at.image} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
    }
    let reason: string;
    if (bytes.length === 0) reason = 'is empty (0 bytes)';
    else {
      try {
        const data = await sharp()(bytes, { limitInputPixels: this.pixelLimit, pages: 1, page: 0, failOn: 'error' })
          .rotate()
          .resize(this.size, this.size, { fit: 'inside', withoutEnlargement: true })
          .webp({ quality: 70, effort: 2 })
          .toBuffer();
        this.store(at.key, '.webp', data);
        return { image: at.image, data };
      } catch (err) {
        reason = await explainDecodeFailure(bytes, err, this.pixelLimit);
      }
    }
    this.store(at.key, '.err', reason);
    return { image: at.image, error: `${at.image} ${reason}` };
  }

  /** Writes a cache entry; a cache that cannot be written only costs the next decoding. */
  private store(key: string, extension: string, data: string | Buffer): void {
    const file = path.join(this.dir, ...key.split('/')) + extension;
    const folder = path.dirname(file);
    try {
      if (!this.madeFolders.has(folder)) {
        fs.mkdirSync(folder, { recursive: true });
        this.madeFolders.add(folder);
      }
      writeFileAtomic(file, data);
    } catch {
      // read-only cache folder: the thumbnail is still returned, just not kept
    }
  }
}

/** A thumbnail as a `data:` URL for a webview (CSP `img-src data:`). */
export function thumbnailDataUrl(data: Buffer): string {
  return `data:${THUMBNAIL_MIME};base64,${data.toString('base64')}`;
}
