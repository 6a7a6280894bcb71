/**
 * Folder-tree datasets: `images/<a>/<b>/<leaf>/*.jpg`. The folder path is the label path and the
 * folders are the taxonomy; images directly in the tree's top folder are unlabelled.
 *
 * Labels given in Taxon are never written by moving images: they go to the sidecar
 * `taxon-labels.jsonl` in the dataset root, one JSONL line `{"image", "path"}` per image (the
 * JSONL items format, without a taxonomy file). A sidecar line overrides the image's folder label
 * (`"path": null` makes it unlabelled; a later line for the same image wins), a path that is not
 * a folder adds its nodes to the taxonomy, and an image the tree does not hold becomes an item.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Dataset, emptyDataset } from '../dataset';
import { DatasetError, START_OF_FILE } from '../diagnostics';
import { ROOT } from '../taxonomy';
import { readTextFile } from '../textInput';
import { parseJsonl } from './jsonl';

/** The labels sidecar of a folder-tree dataset (see the module comment). */
export const LABEL_SIDECAR = 'taxon-labels.jsonl';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/** The folder whose sub-folders are the taxonomy: `<dir>/images` when present, else `<dir>`. */
export function folderTreeTop(dir: string): string {
  const images = path.join(dir, 'images');
  return isDirectory(images) ? images : dir;
}

export function readFolderTree(dir: string): Dataset {
  const root = path.resolve(dir);
  if (!isDirectory(root)) throw new DatasetError(root, 'is not a folder');
  const top = folderTreeTop(root);
  const ds = emptyDataset('folder', root);
  const prefix = top === root ? '' : path.relative(root, top).split(path.sep).join('/') + '/';
  // Iterative walk: a taxonomy may be thousands of levels deep.
  const stack: Array<{ abs: string; rel: string; node: number }> = [{ abs: top, rel: prefix, node: ROOT }];
  while (stack.length) {
    const { abs, rel, node } = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      throw new DatasetError(abs, `cannot be listed (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subfolders: typeof stack = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // .taxon/, .git/, editor droppings
      if (entry.isDirectory()) {
        const child = ds.taxonomy.add(entry.name, node);
        subfolders.push({ abs: path.join(abs, entry.name), rel: `${rel}${entry.name}/`, node: child });
      } else if ((entry.isFile() || entry.isSymbolicLink()) && isImageFile(entry.name)) {
        const image = rel + entry.name;
        ds.items.push({ id: image, image, labels: node === ROOT ? [] : [node] });
      }
    }
    for (let i = subfolders.length - 1; i >= 0; i--) stack.push(subfolders[i]);
  }
  if (ds.items.length === 0) {
    throw new DatasetError(
      root,
      `contains no images (looked for ${IMAGE_EXTENSIONS.join(', ')} under ${top === root ? 'the folder' : 'images/'}); not a folder-tree dataset`,
    );
  }
  mergeLabelSidecar(ds);
  return ds;
}

/** Applies `taxon-labels.jsonl` over the folder labels; its problems become diagnostics. */
function mergeLabelSidecar(ds: Dataset): void {
  const file = path.join(ds.root, LABEL_SIDECAR);
  if (!fs.existsSync(file)) return;
  let text: string;
  try {
    text = readTextFile(file);
  } catch (err) {
    ds.diagnostics.push({ file, range: START_OF_FILE, severity: 'error', code: 'taxon.unreadable-file', message: `The labels sidecar cannot be read: ${(err as Error).message}` });
    return;
  }
  const side = parseJsonl(text, file);
  for (const d of side.diagnostics) if (d.code !== 'taxon.empty-file') ds.diagnostics.push(d);
  const byImage = new Map(ds.items.map((item) => [item.image, item]));
  for (const s of side.items) {
    const labels = s.labels.map((id) => {
      let node = ROOT;
      for (const name of side.taxonomy.path(id)) node = ds.taxonomy.add(name, node);
      return node;
    });
    const item = byImage.get(s.image);
    if (item) {
      item.labels = labels;
      item.source = s.source;
    } else {
      const added = { id: s.image, image: s.image, labels, source: s.source };
      ds.items.push(added);
      byImage.set(s.image, added);
    }
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
