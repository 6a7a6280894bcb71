/** Messages between the gallery's host side (src/host/gallery.ts) and its worker (dist/galleryWorker.js). */
import type { TextEdit } from '../core/diagnostics';
import type { InferenceMode } from '../core/learn/inference';
import type { GalleryFilterName, GalleryListReply, GallerySortName, GalleryThumb, GalleryTile } from '../protocol';

export type { GalleryListReply };

export type GalleryRequest =
  | {
      id: number;
      type: 'open';
      target: string;
      modelPath?: string;
      cacheDir?: string;
      inference: InferenceMode;
      pixelLimit: number;
    }
  /** Show the images at and under `node` (node names from the top; null: the whole dataset). */
  | { id: number; type: 'select'; node: string[] | null; filter: GalleryFilterName; sort: GallerySortName }
  | { id: number; type: 'tiles'; version: number; start: number; count: number }
  /** The images at these positions of list `version`. */
  | { id: number; type: 'images'; version: number; ranges: Array<[number, number]> }
  /**
   * Journal a move (or the undo of the last one). Without `editorText` it is also written to the
   * label file; with it (the file is open in an editor) the reply carries the edits for that text.
   */
  | { id: number; type: 'move'; version: number; ranges: Array<[number, number]>; path: string[]; editorText?: string }
  /** Journal (and write, as for a move) each image's predicted path as its label. */
  | { id: number; type: 'confirm'; version: number; ranges: Array<[number, number]>; editorText?: string }
  | { id: number; type: 'undo'; editorText?: string }
  /** Write what is journaled but not yet in the label file (after the editor saved the edits). */
  | { id: number; type: 'flush' }
  /** Read the dataset again if its label file changed on disk; answers with the list when it did. */
  | { id: number; type: 'reload' };


export type GalleryReply =
  | { id: number; type: 'opened'; file: string; root: string; paths: string[][]; predictions?: string; audit: boolean }
  | ({ id: number; type: 'list' } & GalleryListReply)
  | { id: number; type: 'tiles'; version: number; start: number; tiles: GalleryTile[] }
  | { id: number; type: 'images'; images: string[] }
  | {
      id: number;
      type: 'moved';
      /** The label file. */
      file: string;
      count: number;
      unchanged: number;
      path: string[] | null;
      /** Edits for `editorText`, when it was given. */
      edits?: TextEdit[];
      changedOnDisk: boolean;
      /** The file could not be written: the changes wait in the journal. */
      error?: string;
      /** Confirm: selected images without a prediction (left as they were). */
      unpredicted?: number;
    }
  | { id: number; type: 'written'; file: string; pending: number; error?: string }
  | { id: number; type: 'reloaded'; changed: boolean; list?: GalleryListReply }
  | { id: number; type: 'error'; message: string };

/** Sent by the worker without a request: thumbnails made in the background. */
export interface GalleryThumbsEvent {
  id: 0;
  type: 'thumbs';
  version: number;
  thumbs: GalleryThumb[];
}
